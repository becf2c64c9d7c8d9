"""A run as the report sees it (docs/runs.md), and the runs judged on the same test cases.

:mod:`artrec.reporting.run_dirs` finds and reads the directories; this module says what a
run is (task, tuning, backbone, dataset) and groups completed runs by their test cases.
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

from artrec.data.config import DatasetConfig
from artrec.data.csvio import read_string_csv
from artrec.data.dataset import Dataset, load_dataset
from artrec.data.source import load_configured_dataset
from artrec.errors import ArtrecError, ReportError
from artrec.recsys.compare import CASE_KEYS
from artrec.recsys.metrics import METRICS, random_expectation
from artrec.recsys.periods import PERIOD, TEST
from artrec.recsys.result import PER_CASE_COLUMNS
from artrec.rundir import (
    COMPLETED,
    CONFIG_FILE,
    EMBEDDINGS_FILE,
    FILE_WEIGHTS,
    METRICS_FILE,
    PER_CASE_FILE,
    RANDOM_INIT,
    recorded_tuning,
)

RERUN = "re-run the job, or leave its directory out of the report"
DATASET_NAMES = {"demo": "the demo gallery"}  # config name -> words for titles
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
        return self.status == COMPLETED

    @property
    def error(self) -> str | None:
        if self.status == "incomplete" and not self.info.get("error"):
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
        mode = recorded_tuning(self.config) or recorded_tuning(self.meta)
        if mode:
            return mode
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
        """The embeddings' backbone where a checkpoint made them (the config names the
        default one), else the config's, else the embeddings meta's."""
        if self.config.get("ckpt") or self.meta.get("checkpoint"):
            return self.meta.get("backbone") or self.config.get("backbone") or {}
        return self.config.get("backbone") or self.meta.get("backbone") or {}

    @property
    def backbone_name(self) -> str:
        """The backbone for people: its preset's name, else its timm name ('' unknown)."""
        return str(self.backbone.get("preset") or self.backbone.get("name") or "")

    @property
    def dataset_name(self) -> str:
        """The dataset for people: its config name, else its folder's name."""
        configured = self._dataset_config() or {}
        name = configured.get("name") if isinstance(configured, dict) else None
        if name and name != "folder":
            return DATASET_NAMES.get(str(name), str(name))
        folder = Path(str(configured.get("root") or self.metrics.get("dataset") or "")).name
        return "a generated gallery" if folder.startswith("gallery-") else folder

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
        if not (
            self.frozen and own and source != RANDOM_INIT and not source.startswith(FILE_WEIGHTS)
        ):
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
        """per_case.csv, case keys as written (strings), counts and metrics as numbers; of a
        ``protocol.split=time`` run the test period's cases only (the validation period's
        chose the hyperparameters)."""
        path = self.path / PER_CASE_FILE
        try:
            frame = read_string_csv(path, required=PER_CASE_COLUMNS)
            frame[NUMERIC] = frame[NUMERIC].apply(pd.to_numeric, errors="raise")
        except (ArtrecError, ValueError) as exc:
            raise ReportError(f"{path}: unreadable per-case results ({exc}); {RERUN}.") from exc
        if PERIOD in frame.columns:
            frame = frame[frame[PERIOD] == TEST].drop(columns=PERIOD).reset_index(drop=True)
        return frame

    @property
    def split(self) -> dict[str, str] | None:
        """The cut times of a ``protocol.split=time`` run (metrics.json ``split``)."""
        return self.metrics.get("split")

    def dataset(self) -> Dataset:
        """The dataset the run was judged on: rec_eval.dataset, else its dataset config, else
        the root metrics.json names."""
        configured = self._dataset_config()
        if configured:
            return load_configured_dataset(
                DatasetConfig.recorded(configured), require_purchases=True
            )
        if not self.metrics.get("dataset"):
            raise ReportError(
                f"{self.path}: neither {CONFIG_FILE} nor {METRICS_FILE} names the dataset."
            )
        return load_dataset(
            self.metrics["dataset"], allow_absolute_images=True, require_purchases=True
        )

    def _dataset_config(self) -> Any:
        return (self.config.get("rec_eval") or {}).get("dataset") or self.config.get("dataset")


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
        name = self.runs[0].dataset_name or self.dataset
        period = " of the test period" if self.split else ""
        return f"{name}: {self.n_cases} test cases{period}, k={self.k}"

    @property
    def split(self) -> dict[str, str] | None:
        """The cut times when the runs were judged with ``protocol.split=time``."""
        return self.runs[0].split

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
