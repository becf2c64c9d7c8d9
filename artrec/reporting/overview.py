"""The report's overview of every run found, completed or not: what each is, which runs
the tables leave out and why, and the configuration each ran with."""

from __future__ import annotations

import yaml

from artrec.reporting.runs import Run
from artrec.reporting.text_tables import Cell, TextTable
from artrec.rundir import CONFIG_FILE


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
            Cell(run.backbone_name),
            Cell(str(run.path)),
            Cell(_last_line(run.error) if not run.completed else ""),
        ]
        for run in runs
    ]
    return TextTable(f"{len(runs)} run(s)", header, rows, left=len(header))


def run_configs(runs: list[Run]) -> list[tuple[str, str]]:
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
