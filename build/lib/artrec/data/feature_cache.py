"""Frozen-backbone features computed once per (backbone, dataset) and kept on disk.

Shallow tuning trains only the layers above a frozen backbone, so each image's features
never change: computing them once makes every later epoch (and every later run of a
sweep) skip the backbone entirely.
"""

from __future__ import annotations

from pathlib import Path

import torch
from rich.progress import track
from torch import nn
from torch.utils.data import DataLoader

from artrec.data.images import ItemImages
from artrec.io import atomic_path


@torch.inference_mode()
def compute_features(
    encoder: nn.Module,
    images: ItemImages,
    *,
    batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``[N, F]`` float32 features of every image (zeros where unreadable) and the ok mask."""
    encoder.eval()
    device = next(encoder.parameters()).device
    # its own generator: computing features never moves the global (training) random state
    loader = DataLoader(
        images, batch_size=batch_size, num_workers=num_workers, generator=torch.Generator()
    )
    batches = track(loader, description="Backbone features") if progress else loader
    features: torch.Tensor | None = None
    ok_all = torch.zeros(len(images), dtype=torch.bool)
    for pixels, rows, ok in batches:
        out = encoder(pixels.to(device)).float().cpu()
        if features is None:
            features = torch.zeros(len(images), out.shape[1])
        features[rows] = out * ok[:, None]
        ok_all[rows] = ok
    assert features is not None, "compute_features needs at least one image"
    return features, ok_all


def cached_features(path: Path, compute) -> tuple[torch.Tensor, torch.Tensor]:
    """Load ``path`` if present, else ``compute()`` and store it atomically."""
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        return saved["features"], saved["ok"]
    features, ok = compute()
    with atomic_path(path) as tmp:
        torch.save({"features": features, "ok": ok}, tmp)
    return features, ok


class FeatureRows(torch.utils.data.Dataset):
    """Cached features served like :class:`ItemImages`: ``(features, row, ok)``."""

    def __init__(self, features: torch.Tensor, ok: torch.Tensor) -> None:
        self.features, self.ok = features, ok

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, bool]:
        return self.features[index], index, bool(self.ok[index])
