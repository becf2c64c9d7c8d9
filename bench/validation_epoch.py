"""Part 4 of bench/bench_image_cache.py: one validation epoch (Lightning ``validate``) over
the datamodule's val loader, through the image cache's batched path, against the same
module on pre-made tensors, the per-image PIL path of the cache (validation before the
batched path) and today's uncached decoding."""

from __future__ import annotations

import time

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import Dataset as TorchDataset

from artrec.data.datamodule import ArtDataModule
from artrec.data.dataset import Dataset
from artrec.data.image_cache import ImageCache
from artrec.models.module import ArtRecModule
from artrec.models.tasks import encode_targets, fit_tasks

VARIANTS = ("in-memory", "cached", "per-image", "uncached")


class PerImage(TorchDataset):
    """A dataset's samples one at a time (no ``__getitems__``): the per-image path."""

    def __init__(self, dataset: TorchDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        return self.dataset[index]


class PerImageData(ArtDataModule):
    """The datamodule with every split read image by image, as validation was read before."""

    def _dataset(self, split: str) -> TorchDataset:
        return PerImage(super()._dataset(split))


class ValidationClock(pl.Callback):
    """Seconds of the last validation epoch."""

    seconds = 0.0

    def on_validation_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.seconds = time.perf_counter()

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.seconds = time.perf_counter() - self.seconds


def validate_seconds(module: ArtRecModule, datamodule: ArtDataModule) -> float:
    """One validation epoch on the CPU, timed from its start to its end."""
    clock = ValidationClock()
    trainer = pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
    )
    trainer.validate(module, datamodule=datamodule, verbose=False)
    return clock.seconds


def validation(args, dataset: Dataset, cache: ImageCache, tensors: torch.Tensor, report) -> None:
    """Part 4: validation epochs over 90% of the items (batch 32, the evaluation transform),
    the variants interleaved over ``--rounds`` + 1 rounds, the first a warm-up."""
    items, paths = dataset.items, dataset.items["image"].tolist()
    splits = np.where(np.arange(len(items)) % 10 == 0, "train", "val")
    specs = fit_tasks({"artist": {"column": "artist", "kind": "classification"}}, items)
    pl.seed_everything(0, verbose=False)
    module = ArtRecModule(backbone=args.backbone_cfg, tasks=[s.to_dict() for s in specs])
    base = {"targets": encode_targets(specs, items), "splits": splits, "batch_size": 32}
    files = {"image_paths": paths, "num_workers": args.workers}
    files["transforms"] = {"train": None, "eval": module.backbone.transform(training=False)}
    data = {
        "in-memory": ArtDataModule(**base, features=tensors),
        "cached": ArtDataModule(**base, **files, image_cache=cache),
        "per-image": PerImageData(**base, **files, image_cache=cache),
        "uncached": ArtDataModule(**base, **files),
    }
    seconds: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for _ in range(args.rounds + 1):
        for variant in VARIANTS:
            seconds[variant].append(validate_seconds(module, data[variant]))
    n = int((splits == "val").sum())
    print(f"\n[4] validation epoch, {n} images, best of rounds 2-{args.rounds + 1}:")
    best = {variant: min(values[1:]) for variant, values in seconds.items()}
    report(best, n, target=False)  # no target: the issue set none for validation
    gain = best["per-image"] / best["cached"]
    print(f"    per-image / cached (the batched path's gain) = {gain:.2f}")
