"""The classic non-neural baseline: a joint RGB colour histogram, L1-normalised."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image
from rich.progress import track

from artrec.data.dataset import Dataset
from artrec.embeddings import EmbeddingTable
from artrec.errors import DatasetError

DEFAULT_BINS = 8


def color_histogram(pixels: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Joint histogram of an ``[H, W, 3]`` uint8 image over ``bins**3`` RGB cells, summing to 1."""
    cells = (pixels.reshape(-1, 3).astype(np.int64) * bins) // 256
    index = (cells[:, 0] * bins + cells[:, 1]) * bins + cells[:, 2]
    counts = np.bincount(index, minlength=bins**3).astype(np.float32)
    return counts / max(counts.sum(), 1.0)


def color_histogram_embeddings(
    dataset: Dataset,
    bins: int = DEFAULT_BINS,
    size: int | None = 64,
    progress: bool = False,
    skip_ids: Iterable[str] = (),
) -> EmbeddingTable:
    """Histogram of every item's image (resized to ``size`` px first when given, for speed)."""
    if "image" not in dataset.items.columns:
        raise DatasetError(
            f"{dataset.root}/items.csv has no 'image' column to compute histograms of."
        )
    skip = set(skip_ids)
    rows = [
        (i, p)
        for i, p in zip(dataset.items["item_id"], dataset.items["image"], strict=True)
        if p is not None and i not in skip
    ]
    if progress:
        rows = track(rows, description="Colour histograms")
    ids, vectors = [], []
    for item_id, path in rows:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if size:
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            vectors.append(color_histogram(np.asarray(image), bins))
        ids.append(item_id)
    meta = {
        "backbone": "color_histogram",
        "bins": bins,
        "resize": size,
        "dataset": str(dataset.root),
    }
    return EmbeddingTable(np.asarray(ids, dtype=str), np.stack(vectors), meta)
