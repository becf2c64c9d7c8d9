"""The classic non-neural baseline: a joint RGB colour histogram, L1-normalised.

It runs through the same image pipeline as the CNNs (workers, corrupt-image policy, DDP): the
histogram is the *transform*, and the encoder is the identity.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

DEFAULT_BINS = 8


def color_histogram(pixels: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Joint histogram of an ``[H, W, 3]`` uint8 image over ``bins**3`` RGB cells, summing to 1."""
    cells = (pixels.reshape(-1, 3).astype(np.int64) * bins) // 256
    index = (cells[:, 0] * bins + cells[:, 1]) * bins + cells[:, 2]
    counts = np.bincount(index, minlength=bins**3).astype(np.float32)
    return counts / max(counts.sum(), 1.0)


class ColorHistogramTransform:
    """PIL image -> histogram tensor (resized to ``resize`` px first when given, for speed)."""

    def __init__(self, bins: int = DEFAULT_BINS, resize: int | None = 64) -> None:
        self.bins = bins
        self.resize = resize

    def __call__(self, image: Image.Image) -> torch.Tensor:
        image = image.convert("RGB")
        if self.resize:
            image = image.resize((self.resize, self.resize), Image.Resampling.BILINEAR)
        return torch.from_numpy(color_histogram(np.asarray(image), self.bins))

    def meta(self) -> dict[str, Any]:
        return {
            "name": "color_histogram",
            "preset": "color_histogram",
            "feature": "joint RGB histogram, L1-normalised",
            "feature_dim": self.bins**3,
            "bins": self.bins,
            "resize": self.resize,
            "weights_source": "none (no network)",
        }
