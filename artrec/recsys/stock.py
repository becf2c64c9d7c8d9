"""The inventory (docs/protocol.md, rules 2 and 6) on the scoring device, as integer time codes.

Only the test cases' times matter, so each time becomes its position among the distinct
case times (float32 below 2**24 of them, where it is exact), and each item the range of positions
at which it is in stock: two float32 comparisons per item and case instead of float64
ones, and candidate counts by table look-up.
"""

from __future__ import annotations

import numpy as np
import torch

from artrec.recsys.protocol import Inventory, TestCases


def ragged(starts: np.ndarray, sizes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
    """(case, value) pairs of ``values[starts[c]:starts[c] + sizes[c]]`` for each case c."""
    case = np.repeat(np.arange(len(sizes)), sizes)
    within = np.arange(len(case)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return case, values[np.repeat(starts, sizes) + within]


class Stock:
    """Item i is in stock for case c iff ``first[i] <= code[c] < end[i]`` (an item without
    an embedding never is); ``profile items`` leave the candidates if ``exclude_consumed``."""

    def __init__(
        self, inventory: Inventory, cases: TestCases, exclude_consumed: bool, device: torch.device
    ) -> None:
        times = np.unique(cases.time)
        upload = np.where(inventory.kept, inventory.upload, np.inf)
        first = np.searchsorted(times, upload, side="left")
        end = np.searchsorted(times, inventory.sold, side="right")
        never = first >= end
        first[never] = end[never] = len(times)
        self.cases, self.exclude_consumed = cases, exclude_consumed
        self.code = np.searchsorted(times, cases.time).astype(np.int32)
        self.first_np, self.end_np = first, end
        exact = np.float32 if len(times) < 1 << 24 else np.float64
        self.first = torch.as_tensor(first.astype(exact), device=device)
        self.end = torch.as_tensor(end.astype(exact), device=device)
        arrivals = np.bincount(first, minlength=len(times) + 1)
        departures = np.bincount(end, minlength=len(times) + 1)
        self.count = np.cumsum(arrivals - departures)

    def candidates(self, chosen: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """For cases ``chosen``: [cases, n_items] float32, 1 for each case's candidates and
        0 elsewhere (float comparisons are several times faster than bool ones on CPU, and
        in stock = uploaded by then minus sold before then); and the candidates per case."""
        code = self.code[chosen]
        when = torch.as_tensor(code, dtype=self.first.dtype, device=self.first.device)[:, None]
        present, sold = torch.empty((2, len(chosen), len(self.first)), device=when.device)
        torch.le(self.first, when, out=present).sub_(torch.le(self.end, when, out=sold))
        counts = self.count[code]
        if not self.exclude_consumed:
            return present, counts
        cases = self.cases
        case, items = ragged(
            cases.profile_start[chosen], cases.profile_size[chosen], cases.profile_items
        )
        flat = torch.as_tensor(case * present.shape[1] + items, device=present.device)
        present.view(-1).index_fill_(0, flat, 0.0)
        stocked = (self.first_np[items] <= code[case]) & (code[case] < self.end_np[items])
        return present, counts - np.bincount(case[stocked], minlength=len(chosen))
