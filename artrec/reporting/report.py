"""The comparison report: the paper's tables, figures, galleries and a self-contained HTML
page from run or sweep directories.

    python -m artrec.reporting.report RUN_OR_SWEEP_DIR... --out DIR

Runs judged on the same test cases form a group and are compared case by case; a report
of several groups has one subfolder (and one HTML part) per group.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from artrec.console import make_console
from artrec.data.dataset import Dataset
from artrec.errors import ArtrecError, ConfigError
from artrec.io import write_text_atomic
from artrec.recsys.config import CompareConfig
from artrec.reporting.figures import figure_stem, metric_bars, save_figure, top1_scatter
from artrec.reporting.gallery_files import GALLERY_CHOICES, gallery_runs, write_galleries
from artrec.reporting.html_report import Section, render_html
from artrec.reporting.overview import left_out_lines, run_configs, runs_table
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
from artrec.reporting.runs import RunGroup, group_runs
from artrec.reporting.text_tables import rich_table

INDEX = "index.html"
SCATTER = "imagenet_top1_vs_recall"
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
    page = render_html("artrec comparison report", intro, overview, sections, run_configs(runs))
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
    chosen = gallery_runs(group, list(t2.runs.index), settings.galleries)
    galleries, notes = write_galleries(
        chosen, folder / "galleries", settings.gallery_cases, settings.seed, datasets
    )
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
