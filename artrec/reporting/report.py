"""The comparison report: the paper's tables, figures, galleries and a self-contained HTML
page from run or sweep directories.

    python -m artrec.reporting.report RUN_OR_SWEEP_DIR... --out DIR

Runs judged on the same test cases form a group and are compared case by case; a report
of several groups has one subfolder (and one HTML part) per group.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
import yaml
from PIL import Image
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from artrec.console import BOX, make_console
from artrec.data.dataset import Dataset
from artrec.embeddings import load_embeddings
from artrec.errors import ArtrecError, ConfigError, ReportError
from artrec.io import atomic_path, write_text_atomic
from artrec.recsys.compare import DAGGER
from artrec.recsys.config import CompareConfig, ProtocolConfig
from artrec.reporting.figures import figure_stem, metric_bars, save_figure, top1_scatter
from artrec.reporting.galleries import render_galleries
from artrec.reporting.html_report import Section, render_html
from artrec.reporting.paper_tables import (
    Table1,
    Table2,
    table1,
    table1_text,
    table2,
    table2_text,
    write_tables,
)
from artrec.reporting.run_dirs import find_runs
from artrec.reporting.runs import Run, RunGroup, group_runs
from artrec.reporting.text_tables import Cell, TextTable
from artrec.rundir import CONFIG_FILE

INDEX = "index.html"
SCATTER = "imagenet_top1_vs_recall"
GALLERY_CHOICES = ("best", "all", "none")
NAME_WIDTH = 16  # a run's name is kept whole up to this width in the terminal's tables
CONSOLE_SKIP = ("directory",)  # in index.html and the warnings; too wide for 80 columns


@dataclasses.dataclass(frozen=True)
class Settings:
    """How to compare (as ``compare_systems``) and which runs get galleries."""

    alpha: float = CompareConfig.alpha
    n_bootstrap: int = CompareConfig.n_bootstrap
    seed: int = CompareConfig.seed
    galleries: str = "best"
    gallery_cases: int = 4
    figures: bool = True

    def __post_init__(self) -> None:
        if self.galleries not in GALLERY_CHOICES:
            raise ConfigError(f"galleries={self.galleries!r}: use one of {list(GALLERY_CHOICES)}.")
        if self.gallery_cases < 0:
            raise ConfigError(f"gallery_cases={self.gallery_cases}: use 0 or more test cases.")


def write_report(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    *,
    settings: Settings | None = None,
    console: Console | None = None,
) -> Path:
    """Write tables, figures, galleries and ``index.html`` for the runs at or below
    ``run_dirs`` into ``out`` (every file atomically); print the tables to ``console`` if
    given; return the path of ``index.html``."""
    settings = settings or Settings()
    out = Path(out)
    runs = find_runs(run_dirs)
    groups = group_runs(runs)
    overview = runs_table(runs)
    left_out = left_out_lines(runs)
    if console is not None:
        console.print(rich_table(overview, skip=CONSOLE_SKIP))
        for line in left_out:
            console.print(f"[yellow]warning: {escape(line)}[/yellow]")
    datasets: dict[str, Dataset] = {}
    sections = []
    for number, group in enumerate(groups, start=1):
        folder = out if len(groups) == 1 else out / f"group{number}"
        sections.append(_group_section(group, folder, settings, datasets, console))
    intro = [
        f"{len(runs)} run(s) from {', '.join(map(str, run_dirs))}; "
        f"{sum(run.completed for run in runs)} completed.",
        *left_out,
    ]
    if not groups:
        intro.append("No completed runs: nothing to compare yet.")
    if any(group.variant != "paper" for group in groups):
        intro.append(
            "MAP and nDCG follow each group's protocol.variant; only protocol.variant=paper "
            "gives the paper's definitions, so only such tables compare with the paper's."
        )
    if len(groups) > 1:
        intro.append(
            f"The runs were judged on {len(groups)} different sets of test cases; runs are "
            "compared only within their group (same dataset, protocol and test cases)."
        )
    page = render_html("artrec comparison report", intro, overview, sections, _configs(runs))
    index = out / INDEX
    write_text_atomic(index, page)
    return index


def _group_section(
    group: RunGroup,
    folder: Path,
    settings: Settings,
    datasets: dict[str, Dataset],
    console: Console | None,
) -> Section:
    """Tables, figures and galleries of one group of comparable runs, written to ``folder``."""
    t2 = table2(group, alpha=settings.alpha, n_bootstrap=settings.n_bootstrap, seed=settings.seed)
    t1 = table1(group, t2.comparison)
    write_tables(t1, t2, folder)
    texts = [*(table1_text(t1) if t1 else ()), table2_text(t2)]
    if console is not None:
        for text in texts:
            console.print(rich_table(text))
    figures = _figures(t1, t2, folder / "figures") if settings.figures else []
    chosen = _gallery_runs(group, list(t2.runs.index), settings.galleries)
    galleries, notes = _galleries(chosen, folder / "galleries", settings, datasets)
    if console is not None:
        for note in notes:
            console.print(f"[yellow]{escape(note)}[/yellow]")
    return Section(group.title, notes, texts, figures, galleries)


def _figures(t1: Table1 | None, t2: Table2, folder: Path) -> list[tuple[str, Path]]:
    """The ImageNet scatter (where a run has a top-1) and a bar chart per metric:
    (caption, SVG file) each, PNG beside it."""
    figures = []
    scatter = top1_scatter(t1) if t1 else None
    if scatter is not None:
        figures.append(("ImageNet top-1 vs recall", save_figure(scatter, folder / SCATTER)["svg"]))
    for metric in t2.comparison.metrics:
        paths = save_figure(metric_bars(t2.comparison, metric), folder / figure_stem(metric))
        figures.append((f"{metric} with bootstrap intervals", paths["svg"]))
    return figures


def _gallery_runs(group: RunGroup, ranked: list[str], choice: str) -> list[Run]:
    by_label = {run.label: run for run in group.runs}
    count = {"best": 1, "all": len(ranked), "none": 0}[choice]
    return [by_label[label] for label in ranked[:count]]


def _galleries(
    runs: list[Run], folder: Path, settings: Settings, datasets: dict[str, Dataset]
) -> tuple[list[tuple[str, Path]], list[str]]:
    """Render and save each run's galleries; a run whose dataset or embeddings cannot be
    read gets a note instead (the tables do not need them)."""
    galleries, notes = [], []
    for run in runs:
        try:
            dataset = _dataset(run, datasets)
            if run.embeddings_path is None:
                raise ReportError(f"{run.path}: no embeddings.npz, nor one named in metrics.json")
            table = load_embeddings(run.embeddings_path)
            protocol = _protocol(run)
            rendered = render_galleries(
                dataset, table, protocol, settings.gallery_cases, settings.seed
            )
        except ArtrecError as exc:
            notes.append(f"No recommendation galleries for {run.label}: {exc}")
            continue
        for number, (caption, image) in enumerate(rendered, start=1):
            path = folder / f"{_slug(run.label)}_case{number}.png"
            _save_png(image, path)
            galleries.append((f"{run.label}: {caption}", path))
    return galleries, notes


def _dataset(run: Run, datasets: dict[str, Dataset]) -> Dataset:
    """The run's dataset, loaded once per report."""
    key = json.dumps(
        [run.config.get("rec_eval"), run.config.get("dataset"), run.metrics.get("dataset")],
        default=str,
    )
    if key not in datasets:
        datasets[key] = run.dataset()
    return datasets[key]


def _protocol(run: Run) -> ProtocolConfig:
    """The settings metrics.json records; on CPU where CUDA is not available."""
    protocol = ProtocolConfig.from_dict(run.metrics.get("protocol") or {})
    if protocol.device == "cuda" and not torch.cuda.is_available():
        protocol = dataclasses.replace(protocol, device="cpu")
    return protocol


def _save_png(image: Image.Image, path: Path) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", optimize=True)


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "run"


def left_out_lines(runs: list[Run]) -> list[str]:
    """One line per run the tables leave out (failed, incomplete, unreadable) and why."""
    return [
        f"Left out {run.label} ({run.status}): {_last_line(run.error)} [{run.path}]"
        for run in runs
        if not run.completed
    ]


def _last_line(text: str | None) -> str:
    return text.strip().splitlines()[-1] if text and text.strip() else "no reason recorded"


def runs_table(runs: list[Run]) -> TextTable:
    """Every run found, completed or not, with what it is and why it failed."""
    header = ["run", "status", "group", "task", "tuning", "backbone", "directory", "error"]
    rows = [
        [
            Cell(run.label),
            Cell(run.status, bold=not run.completed),
            Cell(run.group),
            Cell(run.task),
            Cell(run.tuning if run.completed else ""),
            Cell(str(run.backbone.get("preset") or run.backbone.get("name") or "")),
            Cell(str(run.path)),
            Cell(_last_line(run.error) if not run.completed else ""),
        ]
        for run in runs
    ]
    return TextTable(f"{len(runs)} run(s)", header, rows, left=len(header))


def _configs(runs: list[Run]) -> list[tuple[str, str]]:
    """(label, text) per run: config.yaml as written, else what metrics.json records."""
    out = []
    for run in runs:
        path = run.path / CONFIG_FILE
        if path.is_file():
            text = path.read_text(encoding="utf-8")
        else:
            known = {key: run.metrics.get(key) for key in ("dataset", "embeddings", "protocol")}
            text = f"# no {CONFIG_FILE}; from metrics.json:\n" + yaml.safe_dump(known)
        out.append((f"{run.label} ({run.status})", text))
    return out


def rich_table(table: TextTable, skip: Sequence[str] = ()) -> Group:
    """A TextTable for the terminal: bold for the best, daggers kept; names fold onto more
    lines rather than being cut, numbers never wrap (80 columns read well)."""
    rich = Table(
        title=table.title,
        title_justify="left",
        box=BOX,
        padding=(0, 1, 0, 0),
        pad_edge=False,
    )
    longest = max((len(cells[0].text) for cells in table.rows), default=0)
    keep = [i for i, name in enumerate(table.header) if name not in skip]
    for index, name in ((i, table.header[i]) for i in keep):
        if index >= table.left:  # numbers whole; a long header may wrap
            cells = [len(row[index].text) + row[index].dagger for row in table.rows]
            widest = max([*cells, *map(len, name.split())])
            rich.add_column(name, justify="right", min_width=widest, max_width=widest)
        else:
            if index == 0:
                rich.add_column(name, overflow="fold", min_width=min(longest, NAME_WIDTH))
            else:
                rich.add_column(name, overflow="fold", max_width=NAME_WIDTH - 6)
    for cells in table.rows:
        rich.add_row(*(_rich_cell(cells[i]) for i in keep))
    return Group(rich, Text(" ".join(table.notes), style="dim"))


def _rich_cell(cell: Cell) -> str:
    text = escape(cell.text) + (DAGGER if cell.dagger else "")
    return f"[bold]{text}[/bold]" if cell.bold else text


def main(argv: list[str] | None = None) -> int:
    """CLI: write the report, print the tables and the path of index.html."""
    parser = argparse.ArgumentParser(prog="artrec-report", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run or sweep directories")
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument("--alpha", type=float, default=Settings.alpha, help="significance level")
    parser.add_argument(
        "--bootstrap", type=int, default=Settings.n_bootstrap, help="bootstrap resamples"
    )
    parser.add_argument(
        "--seed", type=int, default=Settings.seed, help="bootstrap and gallery seed"
    )
    parser.add_argument("--galleries", choices=GALLERY_CHOICES, default="best")
    parser.add_argument("--gallery-cases", type=int, default=4, help="test cases per run")
    parser.add_argument("--no-figures", action="store_true", help="tables and galleries only")
    args = parser.parse_args(argv)
    try:
        settings = Settings(
            args.alpha,
            args.bootstrap,
            args.seed,
            args.galleries,
            args.gallery_cases,
            not args.no_figures,
        )
    except ArtrecError as exc:
        parser.error(str(exc))
    console = make_console()
    try:
        index = write_report(args.runs, args.out, settings=settings, console=console)
    except ArtrecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    console.print(f"Report written to {index}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
