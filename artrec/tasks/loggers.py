"""Lightning loggers from the ``logger`` config group (a registry, one builder per name),
opened and closed around a train or extract run, and given its results at the end."""

from __future__ import annotations

import csv
import dataclasses
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pytorch_lightning.loggers import CSVLogger, Logger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment

from artrec.data.dataset import Dataset
from artrec.embeddings import EmbeddingTable, load_embeddings
from artrec.errors import ConfigError
from artrec.recsys.config import ProtocolConfig
from artrec.rundir import EMBEDDINGS_FILE
from artrec.tasks.configs import ExtractConfig, TrainConfig

if TYPE_CHECKING:
    from artrec.reporting.wandb_run import RunIdentity


class _KeepingWriter(ExperimentWriter):
    """Lightning's CSV writer, but rows already in ``metrics.csv`` (an interrupted attempt's,
    before a resume) are kept and the new ones appended, instead of deleting the file."""

    def _check_log_dir_exists(self) -> None:
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="", encoding="utf-8") as handle:
                self.metrics_keys = sorted(next(csv.reader(handle), []))


class KeepingCSVLogger(CSVLogger):
    """``logs/metrics.csv`` that survives a resume: every attempt's rows, in order."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:  # Lightning's own property, with the keeping writer
            os.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingWriter(log_dir=self.log_dir)
        return self._experiment


RunConfig = TrainConfig | ExtractConfig


def _csv(cfg: RunConfig, out: Path, task: str) -> list[Logger]:
    return [KeepingCSVLogger(save_dir=out, name="logs", version="")]


def _wandb(cfg: RunConfig, out: Path, task: str) -> list[Logger]:
    from artrec.reporting.wandb_run import wandb_logger  # wandb is imported only for W&B runs

    identity = run_identity(cfg, out)
    plain = dataclasses.asdict(cfg)  # W&B records the whole config
    return [wandb_logger(cfg.logger, identity, out=out, task=task, seed=cfg.seed, config=plain)]


def run_identity(cfg: RunConfig, out: Path) -> RunIdentity:
    """The W&B name, group and tags of a train or extract run (``out``: its directory, whose
    name is the run's when ``run_name`` is not set)."""
    from artrec.reporting.wandb_run import RunIdentity

    common = {
        "name": cfg.run_name or out.name,
        "group": cfg.group,
        "dataset": cfg.dataset.name,
        "extra_tags": tuple(cfg.logger.tags),
    }
    match cfg:
        case ExtractConfig(ckpt=str()):
            return RunIdentity(tuning="checkpoint", **common)
        case ExtractConfig(backbone=backbone):
            return RunIdentity(tuning="frozen", backbone=backbone, **common)
        case TrainConfig(backbone=backbone, tuning=tuning, tasks=tasks):
            chosen = tuple(name for name, spec in tasks.items() if spec is not None)
            return RunIdentity(tuning=str(tuning), backbone=backbone, tasks=chosen, **common)
    raise TypeError(f"no W&B identity for {type(cfg).__name__}")


def _wandb_loggers(loggers: list[Logger]) -> list[Logger]:
    """The W&B loggers among ``loggers`` (none unless ``_wandb`` imported W&B)."""
    module = sys.modules.get("artrec.reporting.wandb_run")
    return [x for x in loggers if module is not None and isinstance(x, module.ArtrecWandbLogger)]


LOGGERS: dict[str, Callable[[RunConfig, Path, str], list[Logger]]] = {
    "csv": _csv,
    "wandb": _wandb,
    "none": lambda cfg, out, task: [],
}


def build_loggers(cfg: RunConfig, out: Path, task: str) -> list[Logger]:
    """The loggers ``cfg.logger.name`` selects for a ``task`` run (``cfg``: the whole
    config, which W&B records), writing under the run directory ``out``."""
    name = cfg.logger.name
    if name not in LOGGERS:
        raise ConfigError(f"logger={name!r}: use one of {sorted(LOGGERS)}.")
    return LOGGERS[name](cfg, out, task)


@contextmanager
def open_loggers(cfg: RunConfig, out: Path, task: str) -> Iterator[list[Logger]]:
    """The run's loggers, closed however the run ends: a W&B run finishes (exit code 1
    after a failure), so the next job of a sweep in the same process gets a fresh run."""
    loggers = build_loggers(cfg, out, task)
    failed = True
    try:
        yield loggers
        failed = False
    finally:
        for logger in _wandb_loggers(loggers):
            logger.finish_run(failed)


def publish_results(
    loggers: list[Logger],
    out: Path,
    *,
    dataset: Dataset,
    protocol: ProtocolConfig,
    table: EmbeddingTable | None = None,
) -> None:
    """Give the loggers that show more than scalars (W&B: summary, tables, galleries) the
    results written in ``out`` (metrics.json, per_case.csv), of ``table`` on ``dataset``.

    ``table`` None: ``out``'s embeddings.npz, read only when such a logger is present."""
    publishers = _wandb_loggers(loggers)
    if publishers and table is None:
        table = load_embeddings(out / EMBEDDINGS_FILE)
    for logger in publishers:
        logger.log_results(out, dataset, table, protocol)
