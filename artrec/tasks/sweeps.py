"""Hydra sweeps: stable, readable directories and the end-of-sweep summary (``sweep.csv``,
and with ``protocol.split=time`` the best job's test-period numbers).

A sweep lands in ``outputs/<script>/multirun/<sweep name>/<job name>``: the sweep name is
its ``group`` or else its command-line overrides, the job name the job's own overrides
(not Hydra's numbered ``override_dirname``), so running the same command again finds the same
directories and skips the completed jobs (``jobs.run_job``). Importing this module registers
nothing: each entry script calls :func:`register_resolvers` before Hydra composes.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from rich.markup import escape
from rich.table import Table

from artrec.console import make_console
from artrec.io import stable_hash, write_json_atomic, write_text_atomic
from artrec.rundir import (
    COMPLETED,
    CONFIG_FILE,
    FAILED,
    METRICS_FILE,
    RUN_FILE,
    now_iso,
    read_run,
)
from artrec.tasks.fingerprint import FINGERPRINT_IGNORED
from artrec.tasks.jobs import JobInfo, is_writer

log = logging.getLogger("artrec")
SUMMARY_FILE = "sweep.csv"
FAILURES = ".failures"  # <sweep>/.failures/<job>.json: jobs whose latest attempt failed
MAX_NAME = 120  # characters of a directory name; longer names end in a hash
NO_OVERRIDES = "default"
ITEM_SEP = "__"  # between overrides in a sweep name (their values may hold commas)
# Override keys left out of directory names: those that do not change results (they are
# not in the fingerprint either) and data locations (paths would make long names).
NAME_EXCLUDED = (*FINGERPRINT_IGNORED, "dataset.root", "rec_eval.dataset.root")


def safe_name(text: str) -> str:
    """A single, portable directory name: '/' becomes '-', other odd characters '_'."""
    name = re.sub(r"[^\w.=,+\-@%\[\]]", "_", text.replace("/", "-").replace("\\", "-"))
    name = name.strip(".") or NO_OVERRIDES
    if len(name) > MAX_NAME:
        name = f"{name[: MAX_NAME - 17]}~{stable_hash(text)}"
    return name


def sweep_name(group: Any, overrides: Any) -> str:
    """The sweep directory's name: ``group`` when set, else the command line's overrides
    (the sweep's own, values with commas) without the keys that do not define jobs."""
    if group:
        return safe_name(str(group))
    return safe_name(ITEM_SEP.join(_defining(overrides)))


def job_name(overrides: Any) -> str:
    """A job directory's name: its own overrides (no job number, so a re-run of the sweep
    finds it again), without the keys that do not define jobs; "default" without any."""
    return safe_name(",".join(_defining(overrides)))


def _defining(overrides: Any) -> list[str]:
    """``key=value`` overrides sorted by key, without NAME_EXCLUDED keys (or their subkeys)."""
    kept = {}
    for override in map(str, overrides or ()):
        key = override.split("=", 1)[0].lstrip("+~")
        if not any(key == k or key.startswith(f"{k}.") for k in NAME_EXCLUDED):
            kept[key] = override
    return [kept[key] for key in sorted(kept)]


def register_resolvers() -> None:
    """``${artrec.sweep_name:...}`` (cached: every job reuses the value the sweep computed
    from the command line, as Hydra's ``${now:...}`` does) and ``${artrec.job_name:...}``."""
    OmegaConf.register_new_resolver("artrec.sweep_name", sweep_name, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("artrec.job_name", job_name, replace=True)


def record_failure(job: JobInfo, error: str) -> None:
    """Mark a sweep's job as failed in its latest attempt, wherever it failed (also before
    it could run, when its run.json, maybe a completed one, is left as it was)."""
    if is_writer():
        write_json_atomic(_failure_file(job), {"error": error, "time": now_iso()})


def clear_failure(job: JobInfo) -> None:
    """A sweep's job completed (or was complete): forget an earlier attempt's failure."""
    if is_writer():
        _failure_file(job).unlink(missing_ok=True)


def _failure_file(job: JobInfo) -> Path:
    assert job.sweep_dir is not None and job.output_dir is not None, "not a sweep's job"
    return job.sweep_dir / FAILURES / f"{job.output_dir.name}.json"


@dataclass(frozen=True)
class JobRow:
    """One line of ``sweep.csv``; ``failed_at`` is when its latest attempt failed."""

    job: str
    status: str
    objective: float | None
    seconds: float | None
    error: str | None
    failed_at: str | None


def sweep_rows(sweep_dir: Path) -> list[JobRow]:
    """A row per job (a directory holding run.json or config.yaml, or a recorded failure),
    sorted by name: its run.json's status, or "failed" when its latest attempt failed."""
    failures = {p.stem: _read_json(p) for p in sorted((sweep_dir / FAILURES).glob("*.json"))}
    dirs = {
        p.name
        for p in sweep_dir.iterdir()
        if p.is_dir() and ((p / RUN_FILE).is_file() or (p / CONFIG_FILE).is_file())
    }
    rows = []
    for job in sorted(dirs | failures.keys()):
        record = read_run(sweep_dir / job) or {"status": "incomplete"}
        failure = failures.get(job)
        if failure is not None:
            record = {**record, "status": FAILED, "objective": None, "error": failure["error"]}
        rows.append(
            JobRow(
                job=job,
                status=str(record["status"]),
                objective=record.get("objective"),
                seconds=record.get("seconds"),
                error=record.get("error"),
                failed_at=failure["time"] if failure is not None else None,
            )
        )
    return rows


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"error": f"unreadable {path}", "time": ""}


def write_summary(rows: list[JobRow], path: Path) -> None:
    """``sweep.csv``: job, status, objective, seconds, error, failed_at (atomically)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([f.name for f in fields(JobRow)])
    writer.writerows(["" if v is None else v for v in astuple(row)] for row in rows)
    write_text_atomic(path, buffer.getvalue())


def summary_table(rows: list[JobRow], title: str) -> Table:
    """The sweep's jobs as a console table."""
    table = Table(title=title, title_justify="left")
    for column in ("job", "status", "objective", "seconds", "error"):
        table.add_column(column, justify="right" if column in ("objective", "seconds") else "left")
    for row in rows:
        objective = "-" if row.objective is None else f"{row.objective:.4f}"
        seconds = "-" if row.seconds is None else f"{row.seconds:.1f}"
        table.add_row(escape(row.job), row.status, objective, seconds, escape(row.error or ""))
    return table


def best_job(sweep_dir: Path, rows: list[JobRow], direction: str = "maximize") -> str | None:
    """When the best completed job (by objective) carries a validation and a test period
    (``protocol.split=time``): its name, objective, and test-period numbers, which the
    search never saw. ``None`` otherwise."""
    done = [row for row in rows if row.status == COMPLETED and row.objective is not None]
    if not done:
        return None
    pick = min if direction == "minimize" else max
    best = pick(done, key=lambda row: row.objective)
    metrics_file = sweep_dir / best.job / METRICS_FILE
    final = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    if "split" not in final:
        return None
    numbers = "  ".join(
        f"{name} {value:.4f}" for name, value in final["metrics"].items() if value is not None
    )
    return (
        f"Best job by the validation objective ({best.objective:.4f}): {best.job}\n"
        f"Its test period (from {final['split']['test_start']}, {final['n_test_cases']} "
        f"cases, never seen by the search): {numbers}"
    )


class SweepSummary(Callback):
    """At the end of a multirun: the jobs' table, ``sweep.csv``, and exit status 1 when a
    job of this sweep failed (the jobs themselves never stop the sweep: ``run_task``)."""

    def __init__(self) -> None:
        self.started = now_iso()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.started = now_iso()
        make_console().print(f"Sweep directory: {config.hydra.sweep.dir}", markup=False)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        rows = sweep_rows(sweep_dir) if sweep_dir.is_dir() else []
        write_summary(rows, sweep_dir / SUMMARY_FILE)
        # a group's directory may hold older sweeps' jobs: only this sweep's failures count
        failed = [r.job for r in rows if r.failed_at and r.failed_at >= self.started]
        console = make_console()
        console.print(summary_table(rows, f"Sweep: {len(rows)} jobs, {len(failed)} failed now"))
        console.print(f"Summary: {sweep_dir / SUMMARY_FILE}", markup=False)
        direction = OmegaConf.select(config, "hydra.sweeper.direction", default="maximize")
        best = best_job(sweep_dir, rows, str(direction))
        if best:
            console.print(best, markup=False, highlight=False, soft_wrap=True)
        if failed:
            log.error("%d job(s) of this sweep failed: %s", len(failed), ", ".join(failed))
            raise SystemExit(1)
