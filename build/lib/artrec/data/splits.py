"""Train / val / test splits: the dataset's ``split`` column when present, else a seeded
split stratified by a label column (the first classification task) where possible."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from artrec.errors import ConfigError, DatasetError, preview

SPLITS = ("train", "val", "test")


def assign_splits(
    items: pd.DataFrame,
    *,
    fractions: Sequence[float] = (0.7, 0.2, 0.1),
    seed: int = 0,
    stratify: str | None = None,
) -> np.ndarray:
    """One of ``train``/``val``/``test`` per item row."""
    if "split" in items.columns:
        return _given(items["split"])
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise ConfigError(f"data.split={list(fractions)}: give three fractions summing to 1.")
    rng = np.random.default_rng(seed)
    labels = (
        items[stratify].fillna("<missing>").astype(str).to_numpy()
        if stratify in items.columns
        else np.zeros(len(items), dtype=str)
    )
    result = np.empty(len(items), dtype=object)
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        cuts = np.round(np.cumsum(fractions)[:2] * len(rows)).astype(int)
        for name, part in zip(SPLITS, np.split(rows, cuts), strict=True):
            result[part] = name
    return result.astype(str)


def _given(column: pd.Series) -> np.ndarray:
    values = column.fillna("").astype(str).str.strip().str.lower()
    bad = ~values.isin(SPLITS)
    if bad.any():
        raise DatasetError(
            f"items.csv: column 'split' must be one of {SPLITS} on every row; found "
            f"{preview(values[bad].unique())} (an empty cell shows as ''). Fill it in, or "
            "drop the column to get a seeded split."
        )
    return values.to_numpy(dtype=str)
