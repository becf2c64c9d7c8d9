"""Shared by the image-cache and batched-transform tests: a small timm evaluation transform
and a folder of JPEGs of given sizes with random pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import timm
from PIL import Image
from torchvision import transforms as T

DATA_CONFIG = {
    "input_size": (3, 64, 64),
    "interpolation": "bicubic",
    "mean": (0.485, 0.456, 0.406),
    "std": (0.229, 0.224, 0.225),
    "crop_pct": 0.875,
    "crop_mode": "center",
}


def eval_transform(**change) -> T.Compose:
    """timm's evaluation transform for DATA_CONFIG, with ``change`` applied."""
    return timm.data.create_transform(**{**DATA_CONFIG, **change}, is_training=False)


def write_random_jpegs(folder: Path, sizes: list[tuple[int, int]]) -> list[str]:
    """One JPEG (quality 90, random pixels, seed 0) per (width, height), in order."""
    rng = np.random.default_rng(0)
    paths = []
    for k, (w, h) in enumerate(sizes):
        path = folder / f"img{k}.jpg"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path, quality=90)
        paths.append(str(path))
    return paths
