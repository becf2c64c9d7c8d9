"""Statistics for comparing systems on paired test cases: bootstrap, Wilcoxon, Holm.

Plain numpy/scipy over arrays, so the comparison tables stay independent of how the
per-case values were produced.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

#: Most bootstrap-count cells held in memory at once (replicates x test cases).
_CHUNK_CELLS = 4_000_000


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values; NaN entries (tests not run) stay NaN and do not count.

    With the m finite p-values sorted ascending, p_(i) becomes
    ``max_{j <= i} min(1, (m - j + 1) * p_(j))`` (i, j from 1): controls the family-wise
    error rate without assuming independence, and is uniformly more powerful than Bonferroni.
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    factors = len(order) - np.arange(len(order))
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(factors * p[order]))
    return adjusted


def paired_wilcoxon(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of the paired differences ``a - b``.

    Uses ``zero_method="wilcox"``: cases where both systems score the same (very common at
    a cut-off k, where neither system finds anything) say nothing about which is better and
    are dropped before ranking. When every difference is zero the systems are
    indistinguishable and the p-value is 1 (scipy would return NaN). scipy chooses the
    method: the exact null distribution for small samples without ties, else the normal
    approximation.
    """
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if not np.any(diff):
        return 1.0
    return float(stats.wilcoxon(diff, zero_method="wilcox", alternative="two-sided").pvalue)


def bootstrap_means(
    values: np.ndarray, n_bootstrap: int, seed: int, chunk_cells: int = _CHUNK_CELLS
) -> np.ndarray:
    """Column means of ``values`` (cases x columns) over ``n_bootstrap`` resamples of the rows.

    Each resample draws n row indices with replacement, once for all columns, so the
    replicates of different columns are paired. Resamples are turned into per-row counts
    and applied as one matrix product; they are drawn in chunks of replicates to bound
    memory, so the result is fixed by (n, n_bootstrap, seed). Returns (n_bootstrap, columns).
    """
    values = np.asarray(values, dtype=float)
    n_cases = values.shape[0]
    rng = np.random.default_rng(seed)
    # Shifting by the first row makes a constant column's replicates exactly that constant.
    base = values[0]
    centred = values - base
    step = max(1, chunk_cells // n_cases)
    blocks = []
    for start in range(0, n_bootstrap, step):
        rows = min(step, n_bootstrap - start)
        idx = rng.integers(0, n_cases, size=(rows, n_cases))
        flat = (idx + n_cases * np.arange(rows)[:, None]).ravel()
        counts = np.bincount(flat, minlength=rows * n_cases).reshape(rows, n_cases)
        blocks.append(counts @ centred / n_cases + base)
    return np.concatenate(blocks, axis=0)


def percentile_ci(replicates: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of level ``1 - alpha`` per column of ``replicates``."""
    low, high = np.quantile(replicates, [alpha / 2, 1 - alpha / 2], axis=0)
    return low, high
