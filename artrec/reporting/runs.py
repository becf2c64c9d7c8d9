"""Collect run directories (the RUN DIRECTORY CONTRACT) for reports, and group the runs
that were judged on the same test cases.

A run directory holds ``run.json`` (written last, status completed / failed) and, when
completed, ``metrics.json`` and ``per_case.csv``; ``config.yaml`` and ``embeddings.npz``
where the job wrote them. Older directories with only ``metrics.json`` and
``per_case.csv`` (``recommend_eval.py`` outputs) are runs too. A sweep directory is
searched recursively; a run's own subdirectories (``start/``, ``checkpoints/``) are not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from artrec.data.csvio import read_string_csv
from artrec.data.dataset import Dataset, load_dataset
from artrec.data.source import load_configured_dataset
from artrec.embeddings import EMBEDDINGS_FILE
from artrec.errors import ArtrecError, ReportError
from artrec.recsys.compare import CASE_KEYS
from artrec.recsys.evaluate import METRICS_FILE, PER_CASE_COLUMNS, PER_CASE_FILE
from artrec.recsys.metrics import METRICS, random_expectation
from artrec.rundir import CONFIG_FILE, RUN_FILE

MARKERS = (RUN_FILE, METRICS_FILE, CONFIG_FILE)
STATUSES = ("completed", "failed", "incomplete")
RERUN = "re-run the job, or leave its directory out of the report"
NUMERIC = ["n_candidates", "n_relevant", "first_rank", *METRICS]


@dataclass(frozen=True)
class Run:
    """One run directory: its files as plain data (``{}`` where a file is absent)."""

    path: Path
    label: str
    status: str
    info: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def error(self) -> str | None:
        if self.status == "incomplete":
            return "no run.json: still running, or stopped before it finished"
        return self.info.get("error")

    @property
    def group(self) -> str:
        """The experiment or sweep the run belongs to (config ``group``), if any."""
        return str(self.info.get("group") or self.config.get("group") or "")

    @property
    def task(self) -> str:
        """train / extract from run.json; else guessed from the config; else 'evaluate'."""
        if self.info.get("task"):
            return str(self.info["task"])
        if self.config:
            return "train" if "tuning" in self.config else "extract"
        return "evaluate"

    @property
    def tuning(self) -> str:
        """frozen / shallow / deep, 'checkpoint' for an extract from a fine-tuned one, or
        'unknown' (no config.yaml and no embeddings meta to tell)."""
        if not self.config and not self.meta:
            return "unknown"
        mode = (self.config.get("tuning") or self.meta.get("tuning") or {}).get("mode")
        if mode:
            return str(mode)
        return "checkpoint" if self.config.get("ckpt") or self.meta.get("checkpoint") else "frozen"

    @property
    def augment(self) -> str:
        """Deep tuning's training augmentation (conf/augment/), '' for other runs (shallow
        tuning trains on cached, unaugmented features). Deep runs that predate the augment
        group trained with timm's ImageNet transform."""
        if self.tuning != "deep":
            return ""
        chosen = self.config.get("augment") or self.meta.get("augment") or {}
        return str(chosen.get("name") or "imagenet")

    @property
    def frozen(self) -> bool:
        return self.tuning == "frozen"

    @property
    def backbone(self) -> dict[str, Any]:
        return self.config.get("backbone") or self.meta.get("backbone") or {}

    @property
    def tasks(self) -> str:
        tasks = self.config.get("tasks") or self.meta.get("tasks") or {}
        return "+".join(tasks) if isinstance(tasks, dict) else str(tasks or "")

    @property
    def imagenet(self) -> tuple[float | None, float | None]:
        """The backbone's ImageNet top-1 / top-5 accuracy; None unless the run uses the very
        weights the figures describe (not a random init, custom weights or fine-tuning)."""
        backbone = self.backbone
        source = str(self.meta.get("backbone", {}).get("weights_source") or "")
        own = backbone.get("pretrained", True) and not backbone.get("weights")
        if not (self.frozen and own and source != "random-init" and not source.startswith("file:")):
            return None, None
        return backbone.get("imagenet_top1"), backbone.get("imagenet_top5")

    @property
    def embeddings_path(self) -> Path | None:
        """``embeddings.npz`` here, else the file metrics.json names (if it exists)."""
        candidates = [self.path / EMBEDDINGS_FILE, Path(str(self.metrics.get("embeddings", "")))]
        return next((p for p in candidates if p.name and p.is_file()), None)

    @cached_property
    def meta(self) -> dict[str, Any]:
        """The embeddings' meta (docs/data.md), read without loading the vectors."""
        path = self.embeddings_path
        if path is None:
            return {}
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"])) if "meta" in data.files else {}
        except (OSError, ValueError) as exc:
            raise ReportError(f"{path}: not a readable embeddings file ({exc}); {RERUN}.") from exc
        return meta if isinstance(meta, dict) else {}

    @cached_property
    def per_case(self) -> pd.DataFrame:
        """per_case.csv, case keys as written (strings), counts and metrics as numbers."""
        path = self.path / PER_CASE_FILE
        try:
            frame = read_string_csv(path, required=PER_CASE_COLUMNS)
            frame[NUMERIC] = frame[NUMERIC].apply(pd.to_numeric, errors="raise")
        except (ArtrecError, ValueError) as exc:
            raise ReportError(f"{path}: unreadable per-case results ({exc}); {RERUN}.") from exc
        return frame

    def dataset(self) -> Dataset:
        """The dataset the run was judged on: rec_eval.dataset, else its dataset config, else
        the root metrics.json names."""
        configured = (self.config.get("rec_eval") or {}).get("dataset") or self.config.get(
            "dataset"
        )
        if configured:
            return load_configured_dataset(configured, require_purchases=True)
        if not self.metrics.get("dataset"):
            raise ReportError(
                f"{self.path}: neither {CONFIG_FILE} nor {METRICS_FILE} names the dataset."
            )
        return load_dataset(
            self.metrics["dataset"], allow_absolute_images=True, require_purchases=True
        )


def find_runs(paths: Sequence[str | Path]) -> list[Run]:
    """Every run directory at or below ``paths``, each with a unique label."""
    found: dict[Path, Path] = {}
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
        found.update({d.resolve(): root for d in dirs if d.resolve() not in found})
    return _labelled([load_run(d) for d in found], found)


def _run_dirs(folder: Path):
    if any((folder / name).is_file() for name in MARKERS):
        yield folder
        return
    for child in sorted(folder.iterdir()):
        if child.is_dir() and not child.is_symlink() and not child.name.startswith("."):
            yield from _run_dirs(child)


def load_run(path: Path, label: str | None = None) -> Run:
    """Read one run directory; unreadable files raise :class:`ReportError`."""
    info = _read(path / RUN_FILE, json.loads)
    config = _read(path / CONFIG_FILE, yaml.safe_load)
    metrics = _read(path / METRICS_FILE, json.loads)
    complete = bool(metrics) and (path / PER_CASE_FILE).is_file()
    status = info.get("status") or ("completed" if complete else "incomplete")
    if status not in STATUSES[:2] and info:
        raise ReportError(f"{path / RUN_FILE}: status {status!r} is not completed or failed.")
    if status == "completed" and not complete:
        missing = [f for f in (METRICS_FILE, PER_CASE_FILE) if not (path / f).is_file()]
        raise ReportError(f"{path}: run.json says completed but {missing} missing; {RERUN}.")
    name = config.get("run_name") or info.get("run_name") or path.name
    return Run(path, str(name), status, info, config, metrics)


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


def _labelled(runs: list[Run], roots: dict[Path, Path]) -> list[Run]:
    """Runs whose labels collide are named by their path below the directory given."""
    counts = pd.Series([run.label for run in runs]).value_counts()
    out = []
    for run in runs:
        if counts[run.label] > 1:
            root = roots[run.path.resolve()]
            relative = run.path.resolve().relative_to(root.resolve())
            name = str(relative) if str(relative) != "." else str(run.path)
            run = Run(run.path, name, run.status, run.info, run.config, run.metrics)
        out.append(run)
    return out


@dataclass(frozen=True)
class RunGroup:
    """Completed runs judged on the same test cases (same per_case.csv case keys, k and
    metric variant): only these can be compared case by case."""

    runs: list[Run]
    k: int
    variant: str
    dataset: str
    n_cases: int

    @property
    def title(self) -> str:
        return f"{Path(self.dataset).name or self.dataset}: {self.n_cases} test cases, k={self.k}"

    @property
    def per_case(self) -> dict[str, pd.DataFrame]:
        return {run.label: run.per_case for run in self.runs}

    def random_per_case(self) -> pd.DataFrame:
        """The exact per-case expectation under a random ranking (the Random row)."""
        first = self.runs[0].per_case
        n, g = first["n_candidates"].to_numpy(), first["n_relevant"].to_numpy()
        expected = random_expectation(n, g, self.k, self.variant)
        frame = first[list(CASE_KEYS)].copy()
        for name in ("first_rank", *METRICS):
            frame[name] = expected[name]
        return frame


def group_runs(runs: Sequence[Run]) -> list[RunGroup]:
    """The completed runs, grouped by the test cases they were judged on (largest first)."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        if run.completed:
            keys = run.per_case[list(CASE_KEYS)].to_csv(index=False).encode()
            protocol = run.metrics.get("protocol") or {}
            key = (hashlib.sha256(keys).hexdigest(), run.metrics.get("k"), protocol.get("variant"))
            groups.setdefault(key, []).append(run)
    out = [
        RunGroup(
            members,
            int(k),
            str(variant or "standard"),
            str(members[0].metrics.get("dataset", "")),
            len(members[0].per_case),
        )
        for (_, k, variant), members in groups.items()
    ]
    return sorted(out, key=lambda group: -len(group.runs))
