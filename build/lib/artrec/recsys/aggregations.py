"""How a profile's similarities become one score per candidate (docs/protocol.md, rule 7): ``max``,
``mean`` and ``topk_mean``, as in-place updates of a per-batch state tensor.

Each aggregation gets the similarity rows of a batch's profile items (``update``), folds a
user's previous case into the next (``fold``, so a profile grows without recomputation),
and turns its state into scores (``scores``).
"""

from __future__ import annotations

import math
import warnings

import torch


class _RowAggregation:
    """An aggregation whose state is one row of values per case: [cases, items]."""

    def __init__(self, topk: int) -> None:
        del topk

    def shape(self, rows: int, n_items: int) -> tuple[int, ...]:
        return (rows, n_items)


class MaxAggregation(_RowAggregation):
    """Score = the largest similarity to a profile item."""

    start = -math.inf

    def update(self, state: torch.Tensor, rows: torch.Tensor, sims: torch.Tensor) -> None:
        with warnings.catch_warnings():  # index_reduce_ is "beta", and the fastest on CPU
            warnings.filterwarnings("ignore", message="index_reduce", category=UserWarning)
            state.index_reduce_(0, rows, sims, "amax")

    def fold(self, state: torch.Tensor, case: int) -> None:
        """Fold case - 1 (the same user's previous case) into ``case``."""
        torch.maximum(state[case], state[case - 1], out=state[case])

    def scores(self, state: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
        return state


class MeanAggregation(_RowAggregation):
    """Score = the mean similarity over the profile's distinct items (state: the sums)."""

    start = 0.0

    def update(self, state: torch.Tensor, rows: torch.Tensor, sims: torch.Tensor) -> None:
        state.index_add_(0, rows, sims)

    def fold(self, state: torch.Tensor, case: int) -> None:
        state[case].add_(state[case - 1])

    def scores(self, state: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
        return state.div_(sizes.to(state.dtype)[:, None])


class TopkMeanAggregation:
    """Score = the mean of the ``topk`` largest similarities (fewer for smaller profiles).
    State: [topk, cases, items], each case's running top-k per item, descending."""

    start = -math.inf

    def __init__(self, topk: int) -> None:
        self.topk = topk

    def shape(self, rows: int, n_items: int) -> tuple[int, ...]:
        return (self.topk, rows, n_items)

    def update(self, state: torch.Tensor, rows: torch.Tensor, sims: torch.Tensor) -> None:
        order = torch.argsort(rows, stable=True)
        ordered = rows.index_select(0, order)
        slot = torch.arange(len(rows), device=rows.device) - torch.searchsorted(ordered, ordered)
        for occurrence in range(int(slot.max()) + 1 if len(rows) else 0):
            chosen = order[slot == occurrence]
            self._insert(state, rows.index_select(0, chosen), sims.index_select(0, chosen))

    def _insert(self, state: torch.Tensor, rows: torch.Tensor, sims: torch.Tensor) -> None:
        top, carry = state.index_select(1, rows), sims
        for level in range(self.topk):
            kept = top[level].clone()
            torch.maximum(kept, carry, out=top[level])
            carry = torch.minimum(kept, carry)
        state.index_copy_(1, rows, top)

    def fold(self, state: torch.Tensor, case: int) -> None:
        both = torch.cat([state[:, case], state[:, case - 1]])
        state[:, case] = both.topk(self.topk, dim=0).values

    def scores(self, state: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
        counted = sizes.clamp(max=self.topk)
        for level in range(1, self.topk):
            state[0].add_(state[level].masked_fill_((counted <= level)[:, None], 0.0))
        return state[0].div_(counted.to(state.dtype)[:, None])


AGGREGATIONS = {
    "max": MaxAggregation,
    "mean": MeanAggregation,
    "topk_mean": TopkMeanAggregation,
}
