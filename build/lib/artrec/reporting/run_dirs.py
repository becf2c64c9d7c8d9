"""Find and read the run directories below the paths given to the report (docs/runs.md).

A run directory holds ``run.json`` (task, status) and, when completed, ``metrics.json``
and ``per_case.csv``; ``config.yaml`` and ``embeddings.npz`` where the job wrote them.
A ``recommend_eval.py`` of several embeddings files keeps each one's results in
``systems/<name>/``: each is a run of its own. Directories with only ``metrics.json`` and
``per_case.csv`` are runs too. Sweeps and folders of runs are searched recursively; a
run's own subdirectories (``start/``, ``checkpoints/``, ``previous/``) are not. A
directory that cannot be read becomes a ``broken`` run with the reason: the report
names it and goes on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from artrec.errors import ReportError
from artrec.reporting.runs import RERUN, Run
from artrec.rundir import (
    COMPLETED,
    CONFIG_FILE,
    FAILED,
    METRICS_FILE,
    PER_CASE_FILE,
    PREVIOUS_DIR,
    RUN_FILE,
    RUNNING,
    SYSTEMS_DIR,
)

MARKERS = (RUN_FILE, METRICS_FILE, CONFIG_FILE)
INCOMPLETE, BROKEN = "incomplete", "broken"


def find_runs(paths: Sequence[str | Path]) -> list[Run]:
    """Every run directory at or below ``paths``, each with a unique, short label."""
    found: dict[Path, None] = {}
    for root in map(Path, paths):
        if not root.is_dir():
            raise ReportError(f"{root}: not a directory; give run or sweep directories.")
        dirs = list(_run_dirs(root))
        if not dirs:
            raise ReportError(
                f"{root}: no run directories at or below it (a run holds run.json, or "
                "metrics.json and per_case.csv). Give a run or sweep directory written by "
                "train.py, extract.py or recommend_eval.py."
            )
        found.update({d.resolve(): None for d in dirs})
    return _labelled([_read_or_broken(d) for d in found])


def _run_dirs(folder: Path) -> Iterator[Path]:
    if any((folder / name).is_file() for name in MARKERS):
        systems = folder / SYSTEMS_DIR
        members = sorted(p for p in systems.iterdir() if p.is_dir()) if systems.is_dir() else []
        if members and not (folder / METRICS_FILE).is_file():
            yield from members
        else:
            yield folder
        return
    for child in sorted(folder.iterdir()):
        hidden = child.name.startswith(".") or child.name == PREVIOUS_DIR
        if child.is_dir() and not child.is_symlink() and not hidden:
            yield from _run_dirs(child)


def _read_or_broken(path: Path) -> Run:
    """:func:`load_run`, with the files a completed run needs read now: a run that cannot
    be read is returned as ``broken``, naming the file and the fix."""
    try:
        run = load_run(path)
        if run.completed:
            _ = run.per_case, run.meta
    except ReportError as exc:
        return Run(path, path.name, BROKEN, {"error": str(exc)})
    return run


def load_run(path: Path) -> Run:
    """Read one run directory; unreadable files raise :class:`ReportError`. A system of a
    several-file evaluation takes its status and config from the evaluation's directory."""
    owner = path.parent.parent if path.parent.name == SYSTEMS_DIR else path
    if not (owner / RUN_FILE).is_file():
        owner = path
    info = _read(owner / RUN_FILE, json.loads)
    config = _read(owner / CONFIG_FILE, yaml.safe_load)
    metrics = _read(path / METRICS_FILE, json.loads)
    complete = bool(metrics) and (path / PER_CASE_FILE).is_file()
    status = info.get("status") or (COMPLETED if complete else INCOMPLETE)
    if status == RUNNING:
        status = INCOMPLETE
        info = {**info, "error": "run.json says running: still running, or it was stopped"}
    if status not in (COMPLETED, FAILED, INCOMPLETE):
        raise ReportError(f"{owner / RUN_FILE}: status {status!r} is not completed or failed.")
    if status == COMPLETED and not complete:
        missing = [f for f in (METRICS_FILE, PER_CASE_FILE) if not (path / f).is_file()]
        raise ReportError(f"{path}: run.json says completed but {missing} missing; {RERUN}.")
    name = path.name if owner != path else config.get("run_name") or info.get("run_name")
    return Run(path, str(name or path.name), status, info, config, metrics)


def _read(path: Path, parse) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise ReportError(f"{path}: unreadable ({exc}); {RERUN}.") from exc
    if not isinstance(value, dict):
        raise ReportError(f"{path}: expected a mapping, found {type(value).__name__}; {RERUN}.")
    return value


def _labelled(runs: list[Run]) -> list[Run]:
    """Runs whose labels collide get the part of their paths that tells them apart:
    ``a/vgg19`` and ``b/vgg19`` for ``a/.../vgg19`` and ``b/.../vgg19``, ``vgg (0)`` and
    ``vgg (1)`` for two folders of a run named ``vgg``."""
    same: dict[str, list[int]] = defaultdict(list)
    for index, run in enumerate(runs):
        same[run.label].append(index)
    out = list(runs)
    for label, indices in same.items():
        if len(indices) > 1:
            paths = [runs[i].path for i in indices]
            for i, name in zip(indices, _distinct(label, paths), strict=True):
                run = runs[i]
                out[i] = Run(run.path, name, run.status, run.info, run.config, run.metrics)
    return out


def _distinct(label: str, paths: list[Path]) -> list[str]:
    """Short unique names for runs called ``label`` in ``paths`` (all different)."""
    parts = [[p for p in path.resolve().parts if p != SYSTEMS_DIR] for path in paths]
    n = next(
        n
        for n in range(1, max(map(len, parts)) + 1)
        if len({tuple(p[-n:]) for p in parts}) == len(parts)
    )
    if n == 1:
        return [f"{label} ({p[-1]})" for p in parts]
    if len({p[-n] for p in parts}) == len(parts):
        return [f"{p[-n]}/{label}" for p in parts]
    return [f"{label} ({'/'.join(p[-n:])})" for p in parts]
