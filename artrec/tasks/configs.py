"""The entry scripts' root configs and the groups the tasks own, as typed dataclasses.

``TrainConfig``, ``ExtractConfig`` and ``RecommendEvalConfig`` are the schemas of
conf/train.yaml, conf/extract.yaml and conf/recommend_eval.yaml: every default and type
lives here or in the owner's dataclass (data, models, recsys), the YAML files only choose
and override, and Hydra refuses a wrong type or a misspelt key before anything runs
(``artrec.tasks.config_store`` registers them). Tasks receive these objects, not dicts.

A node that a config group fills is ``GROUP`` (OmegaConf's MISSING, Hydra's pattern for a
group's node): the option merged into it builds it from its dataclass, defaults and types
included. Hydra deep-copies the stored schemas for every group ``--help`` lists, so a root
schema that holds no group's node keeps ``--help`` quick. A node with a default of the
script's own (extract's ``trainer`` and ``logger``) stays whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING, OmegaConf

from artrec.data.config import DataConfig, DatasetConfig
from artrec.models.config import (
    AugmentConfig,
    BackboneSpec,
    ModelConfig,
    OptimConfig,
    TaskConfig,
    Tuning,
)
from artrec.recsys.config import CompareConfig, ProtocolConfig
from artrec.reporting.config import LoggerConfig

OUTPUT_DIR = "${hydra:runtime.output_dir}"
GROUP: Any = MISSING  # the node of a config group: its chosen option fills it


def _protocol() -> Any:
    """The protocol's default node, built by OmegaConf from the class: composing a config
    (``--help``, ``--cfg job``) never runs ProtocolConfig's checks, which import torch."""
    return OmegaConf.structured(ProtocolConfig)


@dataclass
class TrainerConfig:
    """Lightning's ``Trainer`` arguments, passed as they are (``Trainer(**trainer, ...)``):
    any of them can be set, e.g. ``trainer.max_epochs=1 trainer.limit_train_batches=0.1``.
    Where a default differs from Lightning's it is the project's: one device, 100 epochs
    (early stopping usually ends a run first), deterministic, a log line every 10 steps.
    The code sets the callbacks, loggers, progress bar and root directory itself."""

    accelerator: str = "auto"
    devices: Any = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: Any = "32-true"
    max_epochs: int | None = 100
    min_epochs: int | None = None
    max_steps: int = -1
    max_time: Any = None
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    limit_predict_batches: Any = None
    overfit_batches: Any = 0.0
    val_check_interval: Any = None
    check_val_every_n_epoch: int | None = 1
    num_sanity_val_steps: int | None = None
    log_every_n_steps: int | None = 10
    accumulate_grad_batches: int = 1
    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str | None = None
    deterministic: Any = True
    benchmark: bool | None = None
    inference_mode: bool = True
    use_distributed_sampler: bool = True
    detect_anomaly: bool = False
    barebones: bool = False
    sync_batchnorm: bool = False
    reload_dataloaders_every_n_epochs: int = 0
    fast_dev_run: Any = False


@dataclass
class MonitorConfig:
    """What the checkpoints and early stopping watch: the metric, its better direction,
    the epochs without improvement before stopping (the paper's rule: 5), and whether
    checkpoints/last.ckpt is kept for resuming (``ckpt_path=last``)."""

    metric: str = "val/loss"
    mode: str = "min"
    patience: int = 5
    save_last: bool = True


@dataclass
class RecEvalConfig:
    """The protocol during training: on ``dataset`` (null: the training dataset), at the
    start too (the backbone's own embedding), every n epochs (0: only at start and after
    fit), embedding ``embed_batch_size`` images per forward pass."""

    dataset: DatasetConfig | None = None
    at_start: bool = True
    every_n_epochs: int = 0
    embed_batch_size: int = 64


@dataclass
class TrainConfig:
    """conf/train.yaml: fine-tune a backbone + shared layer + task heads, then judge it."""

    dataset: DatasetConfig = GROUP
    backbone: BackboneSpec = GROUP
    tasks: dict[str, TaskConfig | None] = GROUP
    tuning: Tuning = Tuning.deep  # which layers learn: deep | shallow (frozen: extract.py)
    augment: AugmentConfig = GROUP
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = GROUP
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    rec_eval: RecEvalConfig = field(default_factory=RecEvalConfig)
    protocol: ProtocolConfig = field(default_factory=_protocol)
    logger: LoggerConfig = GROUP
    seed: int = 0
    objective: str = "rec/recall@20"  # what train.py returns to a Hydra sweeper
    ckpt_path: str | None = None  # last (or a path): resume in the same run directory
    output_dir: str = OUTPUT_DIR
    run_name: str | None = None  # label in reports and W&B; null: the run directory's name
    group: str | None = None  # the experiment or sweep (W&B group, report sections)
    progress: bool = True
    overwrite: bool = False  # true: move the directory's earlier files to previous/<time>/


@dataclass
class ExtractConfig:
    """conf/extract.yaml: embed every item with a frozen backbone (or a checkpoint's)."""

    dataset: DatasetConfig = GROUP
    backbone: BackboneSpec = GROUP
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(deterministic=False))
    protocol: ProtocolConfig = field(default_factory=_protocol)
    logger: LoggerConfig = field(default_factory=lambda: LoggerConfig(name="none"))
    ckpt: str | None = None  # a train.py checkpoint: its shared layer gives the embedding
    embed_batch_size: int = 64
    num_workers: int = 2
    image_cache: bool = True  # decode + resize each image once into $ARTREC_CACHE/images
    evaluate: bool = True  # after extracting, run the protocol when there are purchases
    seed: int = 0
    output_dir: str = OUTPUT_DIR
    run_name: str | None = None
    group: str | None = None
    progress: bool = True
    overwrite: bool = False


@dataclass
class RecommendEvalConfig:
    """conf/recommend_eval.yaml: judge embeddings files (several: compared, paired)."""

    dataset: DatasetConfig = GROUP
    protocol: ProtocolConfig = field(default_factory=_protocol)
    compare: CompareConfig = field(default_factory=CompareConfig)
    embeddings: Any = "???"  # one .npz, a list of them, or a directory of */embeddings.npz
    output_dir: str = OUTPUT_DIR
    run_name: str | None = None
    group: str | None = None
    progress: bool = True
    overwrite: bool = False
