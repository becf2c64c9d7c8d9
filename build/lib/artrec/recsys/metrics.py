"""Ranking metrics of docs/metrics.md, per test case, from the ranks of its relevant items.

A test case is summed up by ``n`` (candidates), ``g`` (relevant candidates) and the sorted
1-based ranks of its relevant items; every metric, both variants, follows from those. The
random baseline is the exact expectation of each metric under a uniformly random order of
the same candidates (closed forms), and a seeded sampled ranking serves paired tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

#: Metric names in the order of metrics.json and per_case.csv.
METRICS = ("recall", "precision", "f1", "map", "mrr", "ndcg", "auc")
#: Cells of the [cases x positions] matrices the random expectation builds per chunk.
_CHUNK_CELLS = 1 << 22


def metric_key(name: str, k: int) -> str:
    """The metrics.json key of a metric: ``recall@20``, ..., ``auc`` (no cut-off)."""
    return name if name == "auc" else f"{name}@{k}"


@dataclass(frozen=True)
class RankedCases:
    """Test cases as ``n`` [C] candidates each and the ranks of their relevant items:
    ``ranks[offsets[c]:offsets[c + 1]]`` ascending, 1-based over the case's candidates."""

    n: np.ndarray
    ranks: np.ndarray
    offsets: np.ndarray

    @property
    def g(self) -> np.ndarray:
        return np.diff(self.offsets).astype(np.int64)


def discount_sums(k: int) -> np.ndarray:
    """``table[m]`` = sum of 1/log2(r + 1) for r = 1..m: the ideal DCG of m relevant items."""
    return np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])


@dataclass(frozen=True)
class Variant:
    """How MAP and nDCG are defined: observed values and their random expectation.

    ``map_weights(ranks, g, k)`` is each relevant rank's share of its case's MAP (ranks
    beyond k included, weighing 0; ``g`` per rank); ``random_map(n, g, k)`` its expectation.
    """

    map_weights: Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]
    random_map: Callable[[np.ndarray, np.ndarray, int], np.ndarray]
    ndcg: Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]
    random_ndcg: Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def harmonic_sums(k: int) -> np.ndarray:
    """``table[m]`` = sum of 1/i for i = 1..m (m = 0..k)."""
    return np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, k + 1))])


def _standard_map_weights(ranks: np.ndarray, nth: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
    """Average precision cut at k: precision at each relevant rank r <= k, / min(g, k)."""
    return np.where(ranks <= k, nth / ranks, 0.0) / np.minimum(g, k)


def _paper_map_weights(ranks: np.ndarray, nth: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
    """Mean of P@i over i = 1..k: a hit at rank r <= k adds 1/i to every P@i with i >= r,
    so its share is (H_k - H_(r-1)) / k."""
    harmonic = harmonic_sums(k)
    share = harmonic[k] - harmonic[np.clip(ranks - 1, 0, k)]
    return np.where(ranks <= k, share, 0.0) / k


def _standard_random_map(n: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
    """E[sum of precisions at relevant ranks <= k] / min(g, k): a relevant item at rank r
    (probability g/n) brings 1/r for itself and (g-1)/(n-1) for each rank above it."""
    top = np.minimum(k, n)
    harmonic = harmonic_sums(k)[top]
    same = np.divide(g - 1, n - 1, out=np.zeros(len(n)), where=n > 1)
    return g / n * (harmonic + same * (top - harmonic)) / np.minimum(g, k)


def _paper_random_map(n: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
    """(1/k) sum_i g*min(i, n)/(n*i): E[hits in the top i] = g*min(i, n)/n. With n >= k
    this is g/n, P@k's expectation."""
    top = np.minimum(k, n)
    harmonic = harmonic_sums(k)
    return g / (n * k) * (top + n * (harmonic[k] - harmonic[top]))


def _standard_ndcg(dcg: np.ndarray, h: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
    return dcg / discount_sums(k)[np.minimum(g, k)]


def _paper_ndcg(dcg: np.ndarray, h: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
    ideal = discount_sums(k)[h]
    return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=h > 0)


def _standard_random_ndcg(n: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
    table = discount_sums(k)
    return g / n * table[np.minimum(k, n)] / table[np.minimum(g, k)]


def _paper_random_ndcg(n: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
    """E[DCG / IDCG(h)] = sum over h of P(h) * (h / k') * IDCG(k') / IDCG(h), where h is
    hypergeometric (k' = min(k, n) positions drawn from n, g of them relevant)."""
    table = discount_sums(k)
    top = np.minimum(k, n)
    out = np.empty(len(n))
    for rows in _chunks(len(n), k):
        h = np.arange(1, k + 1)[None, :]
        pmf = _hypergeom_pmf(h, n[rows, None], g[rows, None], top[rows, None])
        per_h = pmf * h / top[rows, None] * table[top[rows], None] / table[h]
        out[rows] = per_h.sum(axis=1)
    return out


VARIANTS: dict[str, Variant] = {
    "standard": Variant(
        _standard_map_weights, _standard_random_map, _standard_ndcg, _standard_random_ndcg
    ),
    "paper": Variant(_paper_map_weights, _paper_random_map, _paper_ndcg, _paper_random_ndcg),
}


def case_metrics(cases: RankedCases, k: int, variant: str) -> dict[str, np.ndarray]:
    """Every metric per test case (plus ``first_rank``); every case needs g >= 1."""
    n, g, ranks = cases.n.astype(np.int64), cases.g, cases.ranks.astype(np.int64)
    assert (g > 0).all(), "test cases without relevant items are skipped before scoring"
    case = np.repeat(np.arange(len(n)), g)
    nth = np.arange(len(ranks)) - cases.offsets[case] + 1
    top = ranks <= k
    h = np.bincount(case, weights=top, minlength=len(n))
    chosen = VARIANTS[variant]
    map_weights = chosen.map_weights(ranks, nth, g[case], k)
    dcg = np.bincount(case, weights=top / np.log2(ranks + 1.0), minlength=len(n))
    first = ranks[cases.offsets[:-1]]
    negatives = n - g
    ordered = np.bincount(case, weights=negatives[case] - (ranks - nth), minlength=len(n))
    pairs = g * negatives
    return {
        "first_rank": first,
        "recall": h / g,
        "precision": h / k,
        "f1": 2 * h / (g + k),
        "map": np.bincount(case, weights=map_weights, minlength=len(n)),
        "mrr": np.where(first <= k, 1.0 / first, 0.0),
        "ndcg": chosen.ndcg(dcg, h.astype(np.int64), g, k),
        "auc": np.divide(ordered, pairs, out=np.ones(len(n)), where=pairs > 0),
    }


def random_expectation(n: np.ndarray, g: np.ndarray, k: int, variant: str) -> dict[str, np.ndarray]:
    """The exact expectation of every metric (and of the first relevant rank) under a
    uniformly random order of n candidates of which g are relevant."""
    n, g = np.asarray(n, dtype=np.int64), np.asarray(g, dtype=np.int64)
    top = np.minimum(k, n)
    hits = top * g / n
    chosen = VARIANTS[variant]
    return {
        "first_rank": (n + 1) / (g + 1),
        "recall": hits / g,
        "precision": hits / k,
        "f1": 2 * hits / (g + k),
        "map": chosen.random_map(n, g, k),
        "mrr": _random_mrr(n, g, k),
        "ndcg": chosen.random_ndcg(n, g, k),
        "auc": np.where(n == g, 1.0, 0.5),
    }


def _random_mrr(n: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
    """sum over r <= min(k, n) of P(first relevant at r) / r, with P(first = 1) = g/n and
    P(first = r + 1) = P(first = r) * (n - r - g + 1) / (n - r)."""
    out = np.empty(len(n))
    r = np.arange(1, k + 1)[None, :]
    for rows in _chunks(len(n), k):
        nn, gg = n[rows, None].astype(np.float64), g[rows, None]
        steps = np.clip((nn - r[:, :-1] - gg + 1) / np.maximum(nn - r[:, :-1], 1), 0.0, None)
        prob = gg / nn * np.cumprod(np.concatenate([np.ones_like(nn), steps], axis=1), axis=1)
        out[rows] = np.where(r <= nn, prob / r, 0.0).sum(axis=1)
    return out


def _hypergeom_pmf(h: np.ndarray, n: np.ndarray, g: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """P(h relevant among `draws` positions drawn from n, g relevant), in log space."""
    valid = (h <= g) & (h <= draws) & (draws - h <= n - g)

    def log_choose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.broadcast_arrays(a, b)
        a, b = np.where(valid, a, 1), np.where(valid, b, 0)
        return gammaln(a + 1.0) - gammaln(b + 1.0) - gammaln(a - b + 1.0)

    log_pmf = log_choose(g, h) + log_choose(n - g, draws - h) - log_choose(n, draws)
    return np.where(valid, np.exp(log_pmf), 0.0)


def _chunks(n_rows: int, width: int) -> list[slice]:
    step = max(1, _CHUNK_CELLS // max(width, 1))
    return [slice(start, start + step) for start in range(0, n_rows, step)]


def sample_random_ranks(n: np.ndarray, g: np.ndarray, seed: int) -> RankedCases:
    """The ranks of the relevant items under one seeded uniformly random order per case:
    g distinct positions out of 1..n, drawn case by case from one generator."""
    rng = np.random.default_rng(seed)
    n, g = np.asarray(n, dtype=np.int64), np.asarray(g, dtype=np.int64)
    parts = [
        np.sort(rng.choice(size, count, replace=False)) + 1
        for size, count in zip(n, g, strict=True)
    ]
    ranks = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return RankedCases(n=n, ranks=ranks, offsets=np.concatenate([[0], np.cumsum(g)]))
