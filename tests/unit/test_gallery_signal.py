"""The demo gallery carries the signal the research questions need, visible without a CNN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from artrec.data import load_dataset
from artrec.data.gallery import generate_gallery

SMALL = {"items": 200, "users": 80, "transactions": 160, "artists": 12, "image_size": 64, "seed": 8}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_gallery(tmp_path_factory.mktemp("gallery") / "small", **SMALL)


def _pixels(root: Path) -> np.ndarray:
    items = pd.read_csv(root / "items.csv", dtype=str)
    return np.stack([np.asarray(Image.open(root / path)) for path in items["image"]]).astype(float)


def _histograms(root: Path, bins: int = 4) -> np.ndarray:
    """Joint RGB histograms (bins^3 cells), L2-normalised: one row per item."""
    cells = _pixels(root).astype(np.int64) // (256 // bins)
    codes = (cells[..., 0] * bins + cells[..., 1]) * bins + cells[..., 2]
    counts = np.stack([np.bincount(c.ravel(), minlength=bins**3) for c in codes]).astype(float)
    return counts / np.linalg.norm(counts, axis=1, keepdims=True)


def _purchase_artists(root: Path) -> pd.DataFrame:
    items = pd.read_csv(root / "items.csv", dtype=str)
    purchases = pd.read_csv(root / "purchases.csv", dtype=str)
    artist = purchases["item_id"].map(dict(zip(items["item_id"], items["artist"], strict=True)))
    return purchases.assign(artist=artist)


def _same_artist_pair_rate(users: np.ndarray, artists: np.ndarray) -> float:
    """Share of (purchase, other purchase of the same user) pairs that have the same artist."""
    same_user = users[:, None] == users[None]
    np.fill_diagonal(same_user, False)
    return float((artists[:, None] == artists[None])[same_user].mean())


def _top_artist_share(frame: pd.DataFrame, min_purchases: int = 3) -> float:
    """Mean over users (with enough purchases) of the share going to their top artist."""
    counts = frame.groupby("user_id")["artist"].agg(lambda s: s.value_counts().iloc[0] / len(s))
    sizes = frame.groupby("user_id").size()
    return float(counts[sizes >= min_purchases].mean())


def test_images_of_one_artist_share_colours(small: Path) -> None:
    hist = _histograms(small)
    artist = pd.read_csv(small / "items.csv", dtype=str)["artist"].to_numpy()
    cosine = hist @ hist.T
    same = artist[:, None] == artist[None]
    np.fill_diagonal(same, False)
    different = artist[:, None] != artist[None]
    intra, inter = cosine[same].mean(), cosine[different].mean()
    assert intra > 2 * inter and intra - inter > 0.2, (intra, inter)


def test_users_buy_from_few_artists(small: Path) -> None:
    frame = _purchase_artists(small)
    users, artists = frame["user_id"].to_numpy(), frame["artist"].to_numpy()
    observed = _same_artist_pair_rate(users, artists)
    rng = np.random.default_rng(0)
    chance = np.mean([_same_artist_pair_rate(users, rng.permutation(artists)) for _ in range(20)])
    assert observed > 3 * chance, (observed, chance)


def test_year_follows_the_artist(small: Path) -> None:
    items = pd.read_csv(small / "items.csv", dtype=str)
    year = items["year"].astype(int)
    assert year.groupby(items["artist"]).std().mean() < 0.5 * year.std()


def test_media_change_the_texture(small: Path) -> None:
    luminance = _pixels(small) @ np.array([0.299, 0.587, 0.114])
    roughness = np.abs(np.diff(luminance, axis=1)).mean(axis=(1, 2)) + np.abs(
        np.diff(luminance, axis=2)
    ).mean(axis=(1, 2))
    contrast = luminance.std(axis=(1, 2))
    medium = pd.read_csv(small / "items.csv", dtype=str)["medium"].to_numpy()
    rough = {m: roughness[medium == m].mean() for m in np.unique(medium)}
    spread = {m: contrast[medium == m].mean() for m in np.unique(medium)}
    assert rough["watercolor"] < rough["oil"] / 3  # soft washes vs thick impasto
    assert rough["watercolor"] < rough["pastel"] < rough["oil"]
    assert spread["ink"] > 1.5 * max(spread["watercolor"], spread["pastel"])  # black on paper


def _histogram_recall_ratio(root: Path, k: int = 20) -> float:
    """Recall@k of colour histograms under docs/protocol.md (max cosine to the profile,
    among items in stock) divided by the exact random expectation."""
    dataset = load_dataset(root, require_purchases=True)
    hist = _histograms(root, bins=8)
    upload = dataset.items["upload_time"].to_numpy()
    unique = dataset.items["unique"].to_numpy(dtype=bool)
    sold = np.zeros(len(upload), dtype=bool)
    profiles: dict[str, list[int]] = {}
    recall, chance = [], []
    for user, time, basket in dataset.transactions[["user_id", "time", "items"]].itertuples(
        index=False
    ):
        profile = profiles.setdefault(user, [])
        candidates = (upload <= time) & ~sold
        candidates[profile] = False
        relevant = [i for i in basket if candidates[i]]
        if profile and relevant:
            pool = np.flatnonzero(candidates)
            score = (hist[pool] @ hist[profile].T).max(axis=1)
            top = pool[np.argsort(-score, kind="stable")[:k]]
            recall.append(np.isin(relevant, top).mean())
            chance.append(min(k, pool.size) / pool.size)
        sold[[i for i in basket if unique[i]]] = True
        profile.extend(basket)
    return float(np.mean(recall) / np.mean(chance))


@pytest.mark.slow
def test_default_scale_has_the_protocol_signal(tmp_path: Path) -> None:
    root = generate_gallery(tmp_path / "default", seed=0)
    baskets = load_dataset(root, require_purchases=True).transactions
    n_cases = int(baskets.duplicated("user_id").sum())
    assert n_cases == 1500 - 500  # every user buys; each later transaction is a test case
    frame = _purchase_artists(root)
    rng = np.random.default_rng(0)
    chance = np.mean(
        [
            _top_artist_share(frame.assign(artist=rng.permutation(frame["artist"])))
            for _ in range(10)
        ]
    )
    assert _top_artist_share(frame) > 2 * chance
    assert _histogram_recall_ratio(root) > 3.5
