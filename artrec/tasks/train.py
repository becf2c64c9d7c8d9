"""train: fine-tune a backbone + shared layer + task heads, judged by the protocol.

The evaluation callback writes the starting embedding's results under ``start/`` and the
fine-tuned one's (``embeddings.npz``, ``metrics.json``, ``per_case.csv``) in the run
directory and prints before / after / Random; ``run`` returns the configured objective
from the metrics the callback left in the trainer (``callback_metrics``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
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
from artrec.models.log_progress import progress_callbacks
from artrec.recsys.config import ProtocolConfig
from artrec.rundir import CHECKPOINTS_DIR, LAST_CHECKPOINT, REC_FINAL, file_input
from artrec.tasks.jobs import Task
from artrec.tasks.loggers import open_loggers, publish_results
from artrec.tasks.objective import in_multirun, objective_value
from artrec.tasks.quiet import SHALLOW_EVAL_MODE
from artrec.tasks.training_data import build_datamodule, rec_inputs


def inputs(cfg: dict[str, Any]) -> dict[str, str]:
    """What a training run reads: the dataset (and the judging dataset) with their images,
    and the checkpoint it starts from (``model.init_from``)."""
    found = dataset_inputs(load_configured_dataset(cfg["dataset"]), images=True)
    if cfg["rec_eval"].get("dataset"):
        judged = load_configured_dataset(cfg["rec_eval"]["dataset"], require_purchases=True)
        found |= dataset_inputs(judged, prefix="rec_eval.dataset", images=True)
    if cfg["model"].get("init_from"):
        found["model.init_from"] = file_input(cfg["model"]["init_from"])
    ckpt = cfg.get("ckpt_path")
    if (
        ckpt
        and ckpt != "last"
        and Path(cfg["output_dir"]).resolve() not in Path(ckpt).resolve().parents
    ):
        found["ckpt_path"] = file_input(ckpt)  # another run's checkpoint to continue from
    return found


def run(cfg: dict[str, Any]) -> float | None:
    """Fit, evaluate, print; return ``cfg['objective']`` (e.g. ``rec/recall@20``, with
    ``protocol.split=time`` the validation period's: artrec.tasks.objective)."""
    if cfg["tuning"]["mode"] == "frozen":
        raise ConfigError(
            "tuning=frozen trains nothing: embed with python extract.py backbone=... instead."
        )
    pl.seed_everything(int(cfg["seed"]), workers=True)
    out = Path(cfg["output_dir"])
    with open_loggers(cfg, out, task="train") as loggers:
        return _fit(cfg, out, loggers)


def _fit(cfg: dict[str, Any], out: Path, loggers: list[Logger]) -> float | None:
    dataset = load_configured_dataset(cfg["dataset"])
    usable = _readable(dataset, cfg["dataset"].get("image_errors", "skip"))
    module, datamodule, features = build_datamodule(cfg, dataset, usable)
    rec_dataset = _rec_dataset(cfg, dataset)
    protocol = ProtocolConfig.from_dict(cfg["protocol"])
    same = rec_dataset is dataset  # then the training data's features and image cache serve
    rec_items = rec_inputs(
        cfg,
        module,
        rec_dataset,
        features if same else None,
        datamodule.image_cache if same else None,
    )
    callbacks = [
        ModelCheckpoint(
            dirpath=out / CHECKPOINTS_DIR,
            filename="best",
            monitor=cfg["monitor"]["metric"],
            mode=cfg["monitor"]["mode"],
            save_last=cfg["callbacks"]["checkpoint"]["save_last"],
        ),
        EarlyStopping(
            monitor=cfg["monitor"]["metric"],
            mode=cfg["monitor"]["mode"],
            patience=int(cfg["callbacks"]["early_stopping"]["patience"]),
        ),
        RecEvalCallback(
            rec_dataset,
            rec_items,
            protocol,
            out,
            at_start=bool(cfg["rec_eval"]["at_start"]),
            every_n_epochs=int(cfg["rec_eval"]["every_n_epochs"]),
            batch_size=int(cfg["rec_eval"]["batch_size"]),
            num_workers=int(cfg["data"]["num_workers"]),
            meta={k: cfg[k] for k in ("backbone", "tasks", "tuning", "augment")},
        ),
        ReproducibleEpochs(int(cfg["seed"]), datamodule.sampler),
        CompactModelSummary(),
    ]
    bar, lines = progress_callbacks(bool(cfg.get("progress", True)))
    if cfg["tuning"]["mode"] == "shallow":
        make_console().print(SHALLOW_EVAL_MODE, markup=False, highlight=False)
    trainer = pl.Trainer(
        **cfg["trainer"],
        max_epochs=int(cfg["max_epochs"]),
        callbacks=[*callbacks, *lines],
        logger=loggers,
        default_root_dir=out,
        deterministic=True,
        enable_progress_bar=bar,
        log_every_n_steps=10,
    )
    ckpt_path = _resume_from(out, cfg.get("ckpt_path"))
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    if not trainer.is_global_zero:
        return None
    objective = _objective(trainer.callback_metrics, cfg["objective"], protocol.split)
    publish_results(loggers, out, dataset=rec_dataset, protocol=protocol)
    return objective


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


def _rec_dataset(cfg: dict[str, Any], dataset: Dataset) -> Dataset:
    other = cfg["rec_eval"].get("dataset")
    return load_configured_dataset(other, require_purchases=True) if other else dataset


def _objective(metrics: Mapping[str, Any], objective: str, split: str) -> float | None:
    """``objective`` from the final evaluation's metrics that RecEvalCallback left in the
    trainer's ``callback_metrics`` (``rec/<metric>``, with ``split=time`` ``rec/val/...``
    and ``rec/test/...``); a test-period objective in a sweep is warned about."""
    prefix = f"{REC_FINAL}/"
    final = {k.removeprefix(prefix): float(v) for k, v in metrics.items() if k.startswith(prefix)}
    value = objective_value(final, objective, split, multirun=in_multirun())
    return None if value is None or math.isnan(value) else value  # undefined: null, as on disk


TASK = Task("train", run, inputs, resumable=True)
