"""Training data for fine-tuning: labelled items split into train / val / test.

Batches are ``(inputs, targets)``: inputs are images (deep tuning) or cached backbone
features (shallow tuning); targets are float ``[B, T]`` with NaN for a missing label.
Rows outside ``usable`` (unreadable images, found before training) are left out. With an
``image_cache``, every split reads the pre-resized images and applies its transform to them;
validation and test batches, under timm's evaluation transform, skip PIL
(``artrec.data.batched_eval``: the same tensors).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from artrec.data.epoch_sampler import EpochSampler
from artrec.data.image_cache import ImageCache
from artrec.data.images import ItemImages
from artrec.errors import DatasetError


class LabelledImages(Dataset):
    """``(image, targets)`` per item row."""

    def __init__(self, images: ItemImages, targets: torch.Tensor) -> None:
        self.images = images
        self.targets = targets

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        pixels, _, _ = self.images[index]
        return pixels, self.targets[index]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A loader's batch through ``ItemImages.__getitems__``: with the image cache and the
        evaluation transform (validation, test), its images batched without PIL."""
        samples = self.images.__getitems__(indices)
        return [
            (pixels, self.targets[index])
            for (pixels, _, _), index in zip(samples, indices, strict=True)
        ]


class ArtDataModule(pl.LightningDataModule):
    """Train / val / test loaders over the labelled items of one dataset."""

    def __init__(
        self,
        *,
        targets: np.ndarray,
        splits: np.ndarray,
        image_paths: Sequence[str | None] | None = None,
        transforms: dict[str, Callable] | None = None,
        features: torch.Tensor | None = None,
        usable: np.ndarray | None = None,
        image_cache: ImageCache | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.targets = torch.as_tensor(targets, dtype=torch.float32)
        labelled = ~torch.isnan(self.targets).all(dim=1).numpy()
        if usable is not None:
            labelled &= usable
        self.rows = {
            name: np.flatnonzero((splits == name) & labelled) for name in ("train", "val", "test")
        }
        for name in ("train", "val"):
            if len(self.rows[name]) == 0:
                raise DatasetError(
                    f"no labelled item in the '{name}' split; check the task columns and the "
                    "dataset's split column (or data.split fractions)."
                )
        self.image_paths, self.transforms = image_paths, transforms or {}
        self.features, self.image_cache = features, image_cache
        self.batch_size, self.num_workers = batch_size, num_workers
        self.sampler = EpochSampler(len(self.rows["train"]), seed)

    def _dataset(self, split: str) -> Dataset:
        if self.features is not None:
            return Subset(TensorDataset(self.features, self.targets), self.rows[split])
        transform = self.transforms["train" if split == "train" else "eval"]
        images = ItemImages(self.image_paths, transform, on_error="fail", cache=self.image_cache)
        return Subset(LabelledImages(images, self.targets), self.rows[split])

    def _loader(self, split: str) -> DataLoader:
        """Training batches in the epoch's order (``EpochSampler``); the other splits in
        row order, with a private generator that never moves the global random state."""
        training = split == "train"
        return DataLoader(
            self._dataset(split),
            batch_size=self.batch_size,
            sampler=self.sampler if training else None,
            num_workers=self.num_workers,
            worker_init_fn=self.sampler.seed_worker if training and self.num_workers else None,
            generator=torch.Generator(),
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
