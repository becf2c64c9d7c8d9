"""Wiring for train: the module, its labelled data, and the items the callback embeds."""

from __future__ import annotations

from typing import Any

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
from artrec.models.module import ArtRecModule
from artrec.models.tasks import encode_targets, fit_tasks
from artrec.models.tuning import uses_feature_cache


def build_datamodule(
    cfg: dict[str, Any], dataset: Dataset, usable: np.ndarray
) -> tuple[ArtRecModule, ArtDataModule, FeatureRows | None]:
    """Fit the task encoders on the train split, build the module (with its pretrained
    weights) and the datamodule (images through the image cache when ``data.image_cache``);
    shallow tuning gets the cached backbone features too."""
    data = cfg["data"]
    splits = assign_splits(
        dataset.items,
        fractions=data["split"],
        seed=int(data["split_seed"]),
        stratify=_first_classification_column(cfg["tasks"]),
    )
    specs = fit_tasks(cfg["tasks"], dataset.items.loc[splits == "train"])
    module = ArtRecModule(
        backbone=cfg["backbone"],
        tasks=[spec.to_dict() for spec in specs],
        shared_dim=int(cfg["model"]["shared_dim"]),
        activation=cfg["model"]["activation"],
        dropout=float(cfg["model"]["dropout"]),
        lr=float(cfg["optim"]["lr"]),
        weight_decay=float(cfg["optim"]["weight_decay"]),
        tuning=cfg["tuning"]["mode"],
        load_pretrained=True,
    )
    if cfg["model"].get("init_from"):
        module.init_from_checkpoint(cfg["model"]["init_from"])
    eval_transform = module.backbone.transform(training=False)
    cache = image_cache(cfg, dataset, eval_transform)
    features = None
    if uses_feature_cache(cfg["tuning"]["mode"]):
        images = ItemImages(dataset.items["image"].tolist(), eval_transform, cache=cache)
        features, ok = _features(module, dataset, images, cfg)
        usable = usable & ok.numpy()
        features = FeatureRows(features, ok)
    transforms = {
        "train": build_augmentation(cfg["augment"], module.backbone.data_config),
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
        batch_size=int(data["batch_size"]),
        num_workers=int(data["num_workers"]),
        seed=int(cfg["seed"]),
    )
    return module, datamodule, features


def _first_classification_column(task_cfgs: dict[str, dict] | list[dict]) -> str | None:
    """The split is stratified by the first classification task's column."""
    tasks = task_cfgs.values() if isinstance(task_cfgs, dict) else task_cfgs
    return next((t["column"] for t in tasks if t.get("kind") == "classification"), None)


def image_cache(cfg: dict[str, Any], dataset: Dataset, transform) -> ImageCache | None:
    """The pre-resized images of ``dataset`` for ``transform`` (None: ``data.image_cache``
    is off)."""
    return image_cache_for(
        dataset.items["image"].tolist(),
        transform,
        enabled=bool(cfg["data"].get("image_cache", True)),
        num_workers=int(cfg["data"]["num_workers"]),
        progress=bool(cfg.get("progress", True)),
    )


def _features(module: ArtRecModule, dataset: Dataset, images: ItemImages, cfg: dict[str, Any]):
    """The frozen backbone's features of every item, computed once per backbone + dataset."""
    key = stable_hash(
        cfg["backbone"], cfg["model"].get("init_from"), str(dataset.root), len(dataset.items)
    )
    return cached_features(
        cache_root() / "features" / f"{key}.pt",
        lambda: compute_features(
            module.backbone,
            images,
            batch_size=int(cfg["rec_eval"]["batch_size"]),
            num_workers=int(cfg["data"]["num_workers"]),
            progress=bool(cfg.get("progress", True)),
        ),
    )


def rec_inputs(
    cfg: dict[str, Any],
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
