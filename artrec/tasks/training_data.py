"""Wiring for train: the module, its labelled data, and the items the callback embeds."""

from __future__ import annotations

import dataclasses

import numpy as np
from torch.utils.data import Dataset as TorchDataset

from artrec.data.datamodule import ArtDataModule
from artrec.data.dataset import Dataset
from artrec.data.feature_cache import FeatureRows, cached_features, compute_features
from artrec.data.image_cache import ImageCache, image_cache_for
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
    weights) and the datamodule (images through the image cache when ``data.image_cache``);
    shallow tuning gets the cached backbone features too."""
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
        tuning=cfg.tuning.value,  # plain text: the checkpoint's hyperparameters
        load_pretrained=True,
    )
    if cfg.model.init_from:
        module.init_from_checkpoint(cfg.model.init_from)
    eval_transform = module.backbone.transform(training=False)
    cache = image_cache(cfg, dataset, eval_transform)
    features = None
    if uses_feature_cache(cfg.tuning):
        images = ItemImages(dataset.items["image"].tolist(), eval_transform, cache=cache)
        features, ok = _features(module, dataset, images, cfg)
        usable = usable & ok.numpy()
        features = FeatureRows(features, ok)
    transforms = {
        "train": build_augmentation(cfg.augment, module.backbone.data_config),
        "eval": eval_transform,
    }
    datamodule = ArtDataModule(
        targets=encode_targets(specs, dataset.items),
        splits=splits,
        image_paths=dataset.items["image"].tolist(),
        transforms=transforms,
        features=None if features is None else features.features,
        image_cache=cache,
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


def image_cache(cfg: TrainConfig, dataset: Dataset, transform) -> ImageCache | None:
    """The pre-resized images of ``dataset`` for ``transform`` (None: ``data.image_cache``
    is off)."""
    return image_cache_for(
        dataset.items["image"].tolist(),
        transform,
        enabled=cfg.data.image_cache,
        num_workers=cfg.data.num_workers,
        progress=cfg.progress,
    )


def _features(module: ArtRecModule, dataset: Dataset, images: ItemImages, cfg: TrainConfig):
    """The frozen backbone's features of every item, computed once per backbone + dataset."""
    key = stable_hash(
        dataclasses.asdict(cfg.backbone), cfg.model.init_from, str(dataset.root), len(dataset.items)
    )
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
    cfg: TrainConfig,
    module: ArtRecModule,
    judged: Dataset,
    features: FeatureRows | None,
    cache: ImageCache | None,
) -> TorchDataset:
    """What the evaluation callback embeds: ``features`` when given (shallow tuning judging
    the training dataset), else ``judged``'s images with the evaluation transform, through
    ``cache`` (the training dataset's image cache) or else ``judged``'s own."""
    if features is not None:
        return features
    transform = module.backbone.transform(training=False)
    if cache is None:
        cache = image_cache(cfg, judged, transform)
    return ItemImages(judged.items["image"].tolist(), transform, cache=cache)
