"""Wiring for train: the module, its labelled data, and the items the callback embeds."""

from __future__ import annotations

import dataclasses

import numpy as np
from torch.utils.data import Dataset as TorchDataset

from artrec.data.datamodule import ArtDataModule
from artrec.data.dataset import Dataset
from artrec.data.feature_cache import FeatureRows, cached_features, compute_features
from artrec.data.images import ItemImages
from artrec.data.splits import assign_splits
from artrec.io import cache_root, stable_hash
from artrec.models.augment import build_augmentation
from artrec.models.config import TaskConfig
from artrec.models.module import ArtRecModule
from artrec.models.tasks import encode_targets, fit_tasks
from artrec.models.tuning import uses_feature_cache
from artrec.tasks.configs import TrainConfig


def build_datamodule(
    cfg: TrainConfig, dataset: Dataset, usable: np.ndarray
) -> tuple[ArtRecModule, ArtDataModule, FeatureRows | None]:
    """Fit the task encoders on the train split, build the module (with its pretrained
    weights) and the datamodule; shallow tuning gets the cached backbone features too."""
    data = cfg.data
    tasks = task_entries(cfg.tasks)
    splits = assign_splits(
        dataset.items,
        fractions=data.split,
        seed=data.split_seed,
        stratify=_first_classification_column(tasks),
    )
    specs = fit_tasks(tasks, dataset.items.loc[splits == "train"])
    module = ArtRecModule(
        backbone=dataclasses.asdict(cfg.backbone),
        tasks=[spec.to_dict() for spec in specs],
        shared_dim=cfg.model.shared_dim,
        activation=cfg.model.activation,
        dropout=cfg.model.dropout,
        lr=cfg.optim.lr,
        weight_decay=cfg.optim.weight_decay,
        tuning=cfg.tuning.mode,
        load_pretrained=True,
    )
    if cfg.model.init_from:
        module.init_from_checkpoint(cfg.model.init_from)
    features = None
    if uses_feature_cache(cfg.tuning.mode):
        features, ok = _features(module, dataset, cfg)
        usable = usable & ok.numpy()
        features = FeatureRows(features, ok)
    transforms = {
        "train": build_augmentation(cfg.augment, module.backbone.data_config),
        "eval": module.backbone.transform(training=False),
    }
    datamodule = ArtDataModule(
        targets=encode_targets(specs, dataset.items),
        splits=splits,
        image_paths=dataset.items["image"].tolist(),
        transforms=transforms,
        features=None if features is None else features.features,
        usable=usable,
        batch_size=data.train_batch_size,
        num_workers=data.num_workers,
        seed=cfg.seed,
    )
    return module, datamodule, features


def task_entries(tasks: dict[str, TaskConfig | None]) -> dict[str, dict]:
    """The configured tasks as ``fit_tasks`` takes them: a null entry drops its task, a
    null column is the task's name."""
    return {
        name: {key: value for key, value in dataclasses.asdict(task).items() if value is not None}
        for name, task in tasks.items()
        if task is not None
    }


def _first_classification_column(tasks: dict[str, dict]) -> str | None:
    """The split is stratified by the first classification task's column."""
    return next(
        (t.get("column", name) for name, t in tasks.items() if t["kind"] == "classification"),
        None,
    )


def _features(module: ArtRecModule, dataset: Dataset, cfg: TrainConfig):
    """The frozen backbone's features of every item, computed once per backbone + dataset."""
    key = stable_hash(
        dataclasses.asdict(cfg.backbone), cfg.model.init_from, str(dataset.root), len(dataset.items)
    )
    images = ItemImages(dataset.items["image"].tolist(), module.backbone.transform(training=False))
    return cached_features(
        cache_root() / "features" / f"{key}.pt",
        lambda: compute_features(
            module.backbone,
            images,
            batch_size=cfg.rec_eval.embed_batch_size,
            num_workers=cfg.data.num_workers,
            progress=cfg.progress,
        ),
    )


def rec_inputs(
    module: ArtRecModule, dataset: Dataset, features: FeatureRows | None
) -> TorchDataset:
    """What the evaluation callback embeds: cached features when it judges the training
    dataset under shallow tuning, else the images with the evaluation transform."""
    if features is not None:
        return features
    return ItemImages(dataset.items["image"].tolist(), module.backbone.transform(training=False))
