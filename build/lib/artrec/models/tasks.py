"""Training tasks: what each head predicts, its label encoder, loss and metrics.

A task reads one label column of items.csv. Classification tasks (artist, medium, type)
learn with cross-entropy over the classes seen in the training split; regression tasks
(period: the year) learn with MAE on the target normalised by the training split's mean
and standard deviation. Missing labels are NaN targets: masked per task, so an item
with some labels still trains the tasks it has. Each kind of task is one entry of
``KINDS``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torchmetrics import MeanAbsoluteError, Metric
from torchmetrics.classification import MulticlassAccuracy

from artrec.errors import ConfigError, DatasetError, preview

log = logging.getLogger(__name__)

# Task names become metric names (val/<name>/acc) and module keys.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
CONFIG_KEYS = frozenset({"name", "column", "kind", "weight"})
IGNORE = -1  # classification target of a masked row, for torchmetrics' ignore_index


@dataclass(frozen=True)
class TaskSpec:
    """One fitted task: its label column, kind, loss weight and label encoder."""

    name: str
    column: str
    kind: str
    weight: float = 1.0
    classes: tuple[str, ...] | None = None
    mean: float | None = None
    std: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            raise ConfigError(
                f"task name {self.name!r} is invalid: use letters, digits and underscores, "
                f"starting with a letter (it names metrics such as val/<name>/acc)."
            )
        if self.kind not in KINDS:
            raise ConfigError(
                f"tasks.{self.name}.kind={self.kind!r} is unknown; use one of {sorted(KINDS)}."
            )
        if isinstance(self.weight, bool) or not isinstance(self.weight, int | float):
            raise ConfigError(f"tasks.{self.name}.weight={self.weight!r} must be a number.")
        if not np.isfinite(self.weight) or self.weight < 0:
            raise ConfigError(f"tasks.{self.name}.weight={self.weight!r} must be >= 0.")
        object.__setattr__(self, "weight", float(self.weight))
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes))

    @property
    def handler(self) -> TaskKind:
        """The kind's encoder, loss and metrics."""
        return KINDS[self.kind]

    @property
    def out_dim(self) -> int:
        """Width of this task's output layer."""
        return self.handler.out_dim(self)

    def to_dict(self) -> dict:
        """Plain data (lists, not tuples) for the checkpoint's hyperparameters and YAML."""
        data = dataclasses.asdict(self)
        data["classes"] = list(self.classes) if self.classes is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> TaskSpec:
        """The spec saved by ``to_dict``."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ConfigError(
                f"task spec has unknown keys {sorted(unknown)}; known: {sorted(fields)}."
            )
        return cls(**dict(data))


class TaskKind(Protocol):
    """What one kind of task provides; ``KINDS`` maps kind names to implementations."""

    def fit(self, name: str, values: pd.Series) -> dict:
        """The encoder's TaskSpec fields, from the training split's label column."""

    def encode(self, spec: TaskSpec, values: pd.Series) -> np.ndarray:
        """float32 targets of a label column, NaN where missing or unknown."""

    def out_dim(self, spec: TaskSpec) -> int:
        """Width of the task's output layer."""

    def row_losses(self, spec: TaskSpec, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``[B]`` per-row losses of outputs ``[B, out_dim]`` against NaN-free targets ``[B]``."""

    def metrics(self, spec: TaskSpec) -> dict[str, Metric]:
        """Fresh torchmetrics, by the suffix they are logged under (val/<task>/<suffix>)."""

    def metric_inputs(
        self, spec: TaskSpec, out: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(preds, target)`` for the metrics' update, from outputs and NaN-masked targets."""


class Classification:
    """Cross-entropy over the training split's classes (sorted); top-1 and top-5 accuracy."""

    def fit(self, name: str, values: pd.Series) -> dict:
        classes = tuple(sorted(values.dropna().unique().tolist()))
        if len(classes) < 2:
            raise DatasetError(
                f"task {name!r}: column {values.name!r} has {len(classes)} class(es) "
                f"{preview(classes)} in the training split; classification needs at least 2."
            )
        return {"classes": classes}

    def encode(self, spec: TaskSpec, values: pd.Series) -> np.ndarray:
        codes = pd.Index(list(spec.classes)).get_indexer(values)
        unseen = int(((codes < 0) & values.notna().to_numpy()).sum())
        if unseen:
            log.info("Task %s: %d labels not seen in training are masked.", spec.name, unseen)
        return np.where(codes < 0, np.nan, codes).astype(np.float32)

    def out_dim(self, spec: TaskSpec) -> int:
        if not spec.classes:
            raise ConfigError(f"task {spec.name!r} has no classes: fit it with fit_tasks first.")
        return len(spec.classes)

    def row_losses(self, spec: TaskSpec, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, target.long(), reduction="none")

    def metrics(self, spec: TaskSpec) -> dict[str, Metric]:
        n = self.out_dim(spec)
        return {
            "acc": MulticlassAccuracy(n, top_k=1, average="micro", ignore_index=IGNORE),
            "top5": MulticlassAccuracy(n, top_k=min(5, n), average="micro", ignore_index=IGNORE),
        }

    def metric_inputs(
        self, spec: TaskSpec, out: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """All rows, masked ones as ``ignore_index`` (updates never see an empty batch)."""
        return out, torch.nan_to_num(target, nan=IGNORE).long()


class Regression:
    """MAE on the normalised target; MAE reported in the column's own units (years)."""

    def fit(self, name: str, values: pd.Series) -> dict:
        numbers = _numbers(name, values).dropna().to_numpy(dtype=np.float64)
        mean, std = float(numbers.mean()), float(numbers.std())
        if std == 0:
            raise DatasetError(
                f"task {name!r}: column {values.name!r} is {mean:g} in every labelled training "
                f"row; regression needs varying values."
            )
        return {"mean": mean, "std": std}

    def encode(self, spec: TaskSpec, values: pd.Series) -> np.ndarray:
        numbers = _numbers(spec.name, values).to_numpy(dtype=np.float64, na_value=np.nan)
        return ((numbers - spec.mean) / spec.std).astype(np.float32)

    def out_dim(self, spec: TaskSpec) -> int:
        if spec.mean is None or spec.std is None:
            raise ConfigError(f"task {spec.name!r} has no mean/std: fit it with fit_tasks first.")
        return 1

    def row_losses(self, spec: TaskSpec, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (out[:, 0] - target.to(out.dtype)).abs()

    def metrics(self, spec: TaskSpec) -> dict[str, Metric]:
        return {"mae": MeanAbsoluteError()}

    def metric_inputs(
        self, spec: TaskSpec, out: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Labelled rows, denormalised to the column's units."""
        mask = ~torch.isnan(target)
        return out[mask, 0].float() * spec.std + spec.mean, target[mask] * spec.std + spec.mean


KINDS: dict[str, TaskKind] = {"classification": Classification(), "regression": Regression()}


def _numbers(name: str, values: pd.Series) -> pd.Series:
    """Numeric values of a label column (NaN where missing); DatasetError naming bad cells."""
    numbers = pd.to_numeric(values.astype("object"), errors="coerce").astype("float64")
    bad = values.notna() & ~np.isfinite(numbers)
    if bad.any():
        raise DatasetError(
            f"task {name!r} is a regression but column {values.name!r} has {int(bad.sum())} "
            f"non-numeric value(s), e.g. {preview(values[bad].unique())}. Clean the column "
            f"(numbers only, empty = missing) or make the task a classification."
        )
    return numbers


def _task_configs(task_cfgs: Mapping | Sequence) -> list[dict]:
    """Task config entries as dicts with a name: from ``{name: {column, kind, weight}}``
    (the conf/tasks/*.yaml form, in insertion order; a null entry drops that task) or from
    a list of ``{name, column, kind, weight}``."""
    if isinstance(task_cfgs, Mapping):
        entries = [
            {"name": name, **dict(entry)} for name, entry in task_cfgs.items() if entry is not None
        ]
    else:
        entries = [dict(entry) for entry in task_cfgs]
    if not entries:
        raise ConfigError("no tasks configured: choose a preset, e.g. tasks=artist_medium.")
    for entry in entries:
        unknown = set(entry) - CONFIG_KEYS
        if unknown or "name" not in entry or "kind" not in entry:
            raise ConfigError(
                f"task config {entry} needs a name and a kind (keys: {sorted(CONFIG_KEYS)}); "
                f"unknown keys: {sorted(unknown)}."
            )
    names = [e["name"] for e in entries]
    if len(set(names)) < len(names):
        raise ConfigError(f"task names must be unique, got {names}.")
    return entries


def fit_tasks(task_cfgs: Mapping | Sequence, labels: pd.DataFrame) -> list[TaskSpec]:
    """Fitted tasks from their configs and the *training split's* label columns.

    ``column`` defaults to the task's name and ``weight`` to 1.
    """
    specs = []
    for entry in _task_configs(task_cfgs):
        spec = TaskSpec(
            name=entry["name"],
            column=entry.get("column", entry["name"]),
            kind=entry["kind"],
            weight=entry.get("weight", 1.0),
        )
        values = _column(spec, labels)
        if values.notna().sum() == 0:
            raise DatasetError(
                f"task {spec.name!r}: column {spec.column!r} has no labelled row in the "
                f"training split ({len(values)} rows, all empty)."
            )
        specs.append(dataclasses.replace(spec, **spec.handler.fit(spec.name, values)))
    return specs


def encode_targets(specs: Sequence[TaskSpec], labels: pd.DataFrame) -> np.ndarray:
    """``[N, T]`` float32 targets in task order: class index or normalised value, NaN = masked."""
    columns = [spec.handler.encode(spec, _column(spec, labels)) for spec in specs]
    return np.stack(columns, axis=1) if columns else np.zeros((len(labels), 0), np.float32)


def _column(spec: TaskSpec, labels: pd.DataFrame) -> pd.Series:
    if spec.column not in labels.columns:
        raise ConfigError(
            f"task {spec.name!r} reads column {spec.column!r}, which the dataset does not have; "
            f"its label columns are {list(labels.columns)}. Set tasks.{spec.name}.column= or "
            f"choose another tasks= preset."
        )
    return labels[spec.column]


def task_loss(spec: TaskSpec, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean loss over the rows the task has labels for; 0 with zero gradients when none.

    Masking instead of indexing keeps shapes static: no device sync, and every head is in
    the graph on every step (DDP needs no unused-parameter search).
    """
    mask = ~torch.isnan(target)
    rows = spec.handler.row_losses(spec, out, torch.where(mask, target, 0.0))
    return torch.where(mask, rows, 0.0).sum() / mask.sum().clamp(min=1)


def total_loss(
    specs: Sequence[TaskSpec], outputs: Mapping[str, torch.Tensor], targets: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``sum_i weight_i * L_i`` and the per-task losses; ``targets`` columns follow ``specs``."""
    losses = {s.name: task_loss(s, outputs[s.name], targets[:, i]) for i, s in enumerate(specs)}
    return sum(s.weight * losses[s.name] for s in specs), losses
