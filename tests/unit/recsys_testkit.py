"""Helpers for the recsys tests: tiny datasets on disk, and a slow reference protocol."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from artrec.data import Dataset, load_dataset
from artrec.embeddings import EmbeddingTable
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.evaluate import evaluate
from artrec.recsys.result import EvalResult


def write_dataset(root: Path, items: str, purchases: str) -> Dataset:
    """Write items.csv / purchases.csv (dedented CSV text) into ``root`` and load them."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "items.csv").write_text(textwrap.dedent(items).strip() + "\n")
    (root / "purchases.csv").write_text(textwrap.dedent(purchases).strip() + "\n")
    return load_dataset(root)


def table(vectors: dict[str, list[float]]) -> EmbeddingTable:
    ids = np.array(list(vectors), dtype=str)
    return EmbeddingTable(item_ids=ids, vectors=np.array(list(vectors.values()), np.float32))


def run(dataset: Dataset, vectors: dict[str, list[float]], **protocol) -> EvalResult:
    return evaluate(dataset, table(vectors), ProtocolConfig(**protocol))


def random_shop(
    root: Path, seed: int, n_items: int = 14, n_users: int = 5, n_purchases: int | None = None
) -> Dataset:
    """A small random shop: colliding times, some upload times missing, a partly empty
    ``unique`` column, repeated purchases (prints); 12 to 21 purchases unless given."""
    rng = np.random.default_rng(seed)
    unique = rng.choice(["true", "false", ""], size=n_items, p=[0.2, 0.2, 0.6])
    upload = [str(t) if rng.random() < 0.7 else "" for t in rng.integers(0, 12, n_items)]
    items = ["item_id,upload_time,unique"]
    items += [f"i{i},{upload[i]},{unique[i]}" for i in rng.permutation(n_items)]
    purchases = ["user_id,item_id,time"]
    drawn = int(rng.integers(12, 22))
    for _ in range(n_purchases or drawn):
        user, item, time = rng.integers(n_users), rng.integers(n_items), rng.integers(0, 15)
        purchases.append(f"u{user},i{item},{time}")
    return write_dataset(root, "\n".join(items), "\n".join(purchases))


def exact_vectors(ids: list[str], seed: int, dim: int = 8) -> dict[str, list[float]]:
    """Vectors with four entries of +-1 (norm 2, so unit entries are +-0.5: every cosine is
    a multiple of 1/4, exact in float32, and ties are common); a few are zero."""
    rng = np.random.default_rng(seed)
    vectors = {}
    for item in ids:
        vector = np.zeros(dim)
        if rng.random() > 0.1:
            vector[rng.choice(dim, 4, replace=False)] = rng.choice([-1.0, 1.0], 4)
        vectors[item] = vector.tolist()
    return vectors


def reference(dataset: Dataset, vectors: dict[str, list[float]], **settings) -> pd.DataFrame:
    """docs/protocol.md written out literally, one test case at a time (float64 scores):
    ``user_id``, ``time`` (raw), ``n_candidates`` and the sorted ranks of G, per case."""
    cfg = ProtocolConfig(**settings)
    items = dataset.items
    n = len(items)
    unit = np.array([vectors[i] for i in items["item_id"]], dtype=np.float64)
    unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-300)
    baskets = dataset.purchases.groupby(["user_id", "time"])
    tx = [(u, t, g["time_raw"].iloc[0], set(g["item_idx"])) for (u, t), g in baskets]
    tx.sort(key=lambda row: (row[1], row[0]))
    bought = np.zeros(n, int)
    first = np.full(n, np.inf)
    for _, t, _, basket in tx:
        for i in basket:
            bought[i] += 1
            first[i] = min(first[i], t)
    unique = {"all": np.ones(n, bool), "none": np.zeros(n, bool), "auto": bought == 1}[
        cfg.unique_items
    ]
    if cfg.unique_items == "auto" and "unique" in items.columns:
        cells = zip(unique, items["unique"], strict=True)
        unique = np.array([rule if pd.isna(cell) else bool(cell) for rule, cell in cells])
    upload = items["upload_time"].to_numpy(float)
    rows = []
    for user, t, raw, basket in tx:
        earlier = [b for u, s, _, b in tx if u == user and s < t]
        profile = sorted(set().union(*earlier))
        if not earlier or len(profile) < cfg.min_profile:
            continue
        stock = [i for i in range(n) if not upload[i] > t and not (unique[i] and first[i] < t)]
        candidates = [i for i in stock if not (cfg.exclude_consumed and i in profile)]
        later = [b for u, s, _, b in tx if u == user and s >= t]
        truth = basket if cfg.ground_truth == "next" else set().union(*later)
        relevant = [i for i in candidates if i in truth]
        if not relevant:
            continue
        sims = unit[candidates] @ unit[profile].T
        score = _aggregate(np.sort(sims, axis=1)[:, ::-1], cfg.aggregation, cfg.topk)
        ranking = [candidates[j] for j in np.lexsort((candidates, -score))]
        ranks = sorted(ranking.index(i) + 1 for i in relevant)
        rows.append({"user_id": user, "time": raw, "n_candidates": len(candidates), "ranks": ranks})
    return pd.DataFrame(rows, columns=["user_id", "time", "n_candidates", "ranks"])


def _aggregate(descending: np.ndarray, aggregation: str, topk: int) -> np.ndarray:
    if aggregation == "max":
        return descending[:, 0]
    if aggregation == "mean":
        return descending.mean(axis=1)
    return descending[:, :topk].mean(axis=1)
