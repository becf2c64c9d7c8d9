"""Wiring for train: the module, its labelled data, and the items the callback embeds."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch.utils.data import Dataset as TorchDataset

from artrec.data.datamodule import ArtDataModule
from artrec.data.dataset import Dataset
from artrec.data.feature_cache import FeatureRows, cached_features, compute_features
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
    weights) and the datamodule; shallow tuning gets the cached backbone features too."""
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
    features = None
    if uses_feature_cache(cfg["tuning"]["mode"]):
        features, ok = _features(module, dataset, cfg)
        usable = usable & ok.numpy()
        features = FeatureRows(features, ok)
    transforms = {
        "train": build_augmentation(cfg["augment"], module.backbone.data_config),
        "eval": module.backbone.transform(training=False),
    }
    datamodule = ArtDataModule(
        targets=encode_targets(specs, dataset.items),
        splits=splits,
        image_paths=dataset.items["image"].tolist(),
        transforms=transforms,
        features=None if features is None else features.features,
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


def _features(module: ArtRecModule, dataset: Dataset, cfg: dict[str, Any]):
    """The frozen backbone's features of every item, computed once per backbone + dataset."""
    key = stable_hash(
        cfg["backbone"], cfg["model"].get("init_from"), str(dataset.root), len(dataset.items)
    )
    images = ItemImages(dataset.items["image"].tolist(), module.backbone.transform(training=False))
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
    module: ArtRecModule, dataset: Dataset, features: FeatureRows | None
) -> TorchDataset:
    """What the evaluation callback embeds: cached features when it judges the training
    dataset under shallow tuning, else the images with the evaluation transform."""
    if features is not None:
        return features
    return ItemImages(dataset.items["image"].tolist(), module.backbone.transform(training=False))
