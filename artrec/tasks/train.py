"""train: fine-tune a backbone + shared layer + task heads, judged by the protocol.

The evaluation callback writes the starting embedding's results under ``start/`` and the
fine-tuned one's (``embeddings.npz``, ``metrics.json``, ``per_case.csv``) in the run
directory and prints before / after / Random; ``run`` returns the configured objective
from the metrics the callback left in the trainer (``callback_metrics``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import Logger

from artrec.callbacks.model_summary import CompactModelSummary
from artrec.callbacks.rec_eval import RecEvalCallback
from artrec.callbacks.reproducible import ReproducibleEpochs
from artrec.console import make_console
from artrec.data.dataset import Dataset
from artrec.data.fingerprint import dataset_inputs
from artrec.data.image_check import check_images
from artrec.data.source import load_configured_dataset
from artrec.errors import ConfigError
from artrec.models.checkpoints import read_checkpoint
from artrec.models.config import Tuning
from artrec.models.log_progress import progress_callbacks
from artrec.rundir import CHECKPOINTS_DIR, LAST_CHECKPOINT, REC_FINAL, file_input
from artrec.tasks.configs import TrainConfig
from artrec.tasks.jobs import Task
from artrec.tasks.loggers import open_loggers, publish_results
from artrec.tasks.objective import in_multirun, objective_value
from artrec.tasks.quiet import SHALLOW_EVAL_MODE
from artrec.tasks.training_data import build_datamodule, rec_inputs


def inputs(cfg: TrainConfig) -> dict[str, str]:
    """What a training run reads: the dataset (and the judging dataset) with their images,
    and the checkpoint it starts from (``model.init_from``)."""
    found = dataset_inputs(load_configured_dataset(cfg.dataset), images=True)
    if cfg.rec_eval.dataset:
        judged = load_configured_dataset(cfg.rec_eval.dataset, require_purchases=True)
        found |= dataset_inputs(judged, prefix="rec_eval.dataset", images=True)
    if cfg.model.init_from:
        found["model.init_from"] = file_input(cfg.model.init_from)
    ckpt = cfg.ckpt_path
    if (
        ckpt
        and ckpt != "last"
        and Path(cfg.output_dir).resolve() not in Path(ckpt).resolve().parents
    ):
        found["ckpt_path"] = file_input(ckpt)  # another run's checkpoint to continue from
    return found


def run(cfg: TrainConfig) -> float | None:
    """Fit, evaluate, print; return ``cfg.objective`` (e.g. ``rec/recall@20``, with
    ``protocol.split=time`` the validation period's: artrec.tasks.objective)."""
    if cfg.tuning == Tuning.frozen:
        raise ConfigError(
            "tuning=frozen trains nothing: embed with python extract.py backbone=... instead."
        )
    pl.seed_everything(cfg.seed, workers=True)
    out = Path(cfg.output_dir)
    with open_loggers(cfg, out, task="train") as loggers:
        return _fit(cfg, out, loggers)


def _fit(cfg: TrainConfig, out: Path, loggers: list[Logger]) -> float | None:
    dataset = load_configured_dataset(cfg.dataset)
    usable = _readable(dataset, cfg.dataset.image_errors)
    module, datamodule, features = build_datamodule(cfg, dataset, usable)
    rec_dataset = _rec_dataset(cfg, dataset)
    same = rec_dataset is dataset  # then the training data's features and image cache serve
    rec_items = rec_inputs(
        cfg,
        module,
        rec_dataset,
        features if same else None,
        datamodule.image_cache if same else None,
    )
    callbacks = [
        *_monitored(cfg, out),
        RecEvalCallback(
            rec_dataset,
            rec_items,
            cfg.protocol,
            out,
            at_start=cfg.rec_eval.at_start,
            every_n_epochs=cfg.rec_eval.every_n_epochs,
            batch_size=cfg.rec_eval.embed_batch_size,
            num_workers=cfg.data.num_workers,
            meta=_plain(cfg, "backbone", "tasks", "tuning", "augment"),
        ),
        ReproducibleEpochs(cfg.seed, datamodule.sampler),
        CompactModelSummary(),
    ]
    if cfg.tuning == Tuning.shallow:
        make_console().print(SHALLOW_EVAL_MODE, markup=False, highlight=False)
    trainer = build_trainer(cfg, out, callbacks, loggers)
    ckpt_path = _resume_from(out, cfg.ckpt_path)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    if not trainer.is_global_zero:
        return None
    objective = _objective(trainer.callback_metrics, cfg.objective, cfg.protocol.split)
    publish_results(loggers, out, dataset=rec_dataset, protocol=cfg.protocol)
    return objective


def build_trainer(
    cfg: TrainConfig, out: Path, callbacks: list[pl.Callback], loggers: list[Logger]
) -> pl.Trainer:
    """Lightning's Trainer on the ``trainer`` group, which is its arguments as they are; the
    callbacks, loggers, progress display and root directory are the run's."""
    bar, lines = progress_callbacks(cfg.progress)
    return pl.Trainer(
        **dataclasses.asdict(cfg.trainer),
        callbacks=[*callbacks, *lines],
        logger=loggers,
        default_root_dir=out,
        enable_progress_bar=bar,
    )


def _monitored(cfg: TrainConfig, out: Path) -> list[pl.Callback]:
    """The best (and last) checkpoint and early stopping, on ``cfg.monitor``."""
    monitor = cfg.monitor
    return [
        ModelCheckpoint(
            dirpath=out / CHECKPOINTS_DIR,
            filename="best",
            monitor=monitor.metric,
            mode=monitor.mode,
            save_last=monitor.save_last,
        ),
        EarlyStopping(monitor=monitor.metric, mode=monitor.mode, patience=monitor.patience),
    ]


def _plain(cfg: TrainConfig, *names: str) -> dict[str, Any]:
    """The named settings as plain data (the embeddings' provenance; ``tuning`` as text)."""
    plain = OmegaConf.to_container(OmegaConf.structured(cfg), enum_to_str=True)
    return {key: value for key, value in plain.items() if key in names}


def _resume_from(out: Path, ckpt_path: str | None) -> str | None:
    """The checkpoint to resume from, checked first: a truncated, foreign or unsafe file
    gives a one-line error naming it (Lightning would show a torch traceback)."""
    if not ckpt_path:
        return None
    path = out / LAST_CHECKPOINT if ckpt_path == "last" else Path(ckpt_path)
    if ckpt_path == "last" and not path.is_file():
        return "last"  # Lightning starts afresh, with a warning, when there is none yet
    read_checkpoint(path, what="ckpt_path=")
    return str(path)


def _readable(dataset: Dataset, image_errors: str) -> np.ndarray:
    """Rows whose image decodes (unreadable ones are counted, then skipped or fatal)."""
    report = check_images(dataset, on_error=image_errors)
    bad = set(report.bad)
    return (
        ~dataset.items["item_id"].isin(bad).to_numpy() & dataset.items["image"].notna().to_numpy()
    )


def _rec_dataset(cfg: TrainConfig, dataset: Dataset) -> Dataset:
    other = cfg.rec_eval.dataset
    return load_configured_dataset(other, require_purchases=True) if other else dataset


def _objective(metrics: Mapping[str, Any], objective: str, split: str) -> float | None:
    """``objective`` from the final evaluation's metrics that RecEvalCallback left in the
    trainer's ``callback_metrics`` (``rec/<metric>``, with ``split=time`` ``rec/val/...``
    and ``rec/test/...``); a test-period objective in a sweep is warned about."""
    prefix = f"{REC_FINAL}/"
    final = {k.removeprefix(prefix): float(v) for k, v in metrics.items() if k.startswith(prefix)}
    value = objective_value(final, objective, split, multirun=in_multirun())
    return None if value is None or math.isnan(value) else value  # undefined: null, as on disk


TASK = Task("train", run, schema=TrainConfig, inputs=inputs, resumable=True)
