"""Splits, the shallow-tuning feature cache, and the datamodule's rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from artrec.data.datamodule import ArtDataModule
from artrec.data.feature_cache import cached_features
from artrec.data.splits import assign_splits
from artrec.errors import ConfigError, DatasetError


def test_stratified_split_fractions_and_seed():
    items = pd.DataFrame({"artist": ["a"] * 10 + ["b"] * 20})
    splits = assign_splits(items, seed=3, stratify="artist")
    for artist, (train, val, test) in {"a": (7, 2, 1), "b": (14, 4, 2)}.items():
        part = splits[items["artist"].to_numpy() == artist]
        assert [(part == s).sum() for s in ("train", "val", "test")] == [train, val, test]
    assert (assign_splits(items, seed=3, stratify="artist") == splits).all()
    assert (assign_splits(items, seed=4, stratify="artist") != splits).any()


def test_split_column_wins_and_is_checked():
    items = pd.DataFrame({"split": pd.array(["train", "VAL", " test"], dtype="string")})
    assert assign_splits(items).tolist() == ["train", "val", "test"]
    with pytest.raises(DatasetError, match="'split' must be one of"):
        assign_splits(pd.DataFrame({"split": pd.array(["train", pd.NA], dtype="string")}))
    with pytest.raises(ConfigError, match="three fractions"):
        assign_splits(pd.DataFrame({"x": [1]}), fractions=(0.5, 0.5))


def test_feature_cache_computes_once(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return torch.arange(6.0).reshape(3, 2), torch.tensor([True, False, True])

    first = cached_features(tmp_path / "f.pt", compute)
    second = cached_features(tmp_path / "f.pt", compute)
    assert len(calls) == 1
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_datamodule_keeps_labelled_usable_rows():
    targets = np.array([[0, np.nan], [np.nan, np.nan], [1, 0.5], [0, 0], [1, 1]], np.float32)
    splits = np.array(["train", "train", "val", "train", "test"])
    usable = np.array([True, True, True, False, True])
    features = torch.arange(10.0).reshape(5, 2)
    dm = ArtDataModule(targets=targets, splits=splits, features=features, usable=usable)
    assert {k: v.tolist() for k, v in dm.rows.items()} == {"train": [0], "val": [2], "test": [4]}
    x, y = next(iter(dm.val_dataloader()))
    assert x.tolist() == [[4.0, 5.0]] and y.tolist() == [[1.0, 0.5]]
    with pytest.raises(DatasetError, match="'val' split"):
        ArtDataModule(targets=targets, splits=np.array(["train"] * 5), features=features)
