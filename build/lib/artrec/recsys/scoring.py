"""Scores and ranks (docs/protocol.md, rules 7-8) as chunked matrix work on a torch device.

Cases are taken user by user, a batch at a time. In a batch, the cosine rows of the
distinct profile items are computed once (matrix products with all items), each case
folds in its share of the profile, and a scan over each user's cases folds every case
into the next, so the cost stays near one product of bought items by all items. The rank
of a relevant item is counted, not sorted: candidates scoring higher, plus those scoring
equal that come earlier in items.csv, plus one. The two large matrices of a batch live in
buffers reused across batches; everything else works on row chunks of about
``CHUNK_ELEMENTS`` values (fresh large allocations cost page faults on CPU).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from artrec.embeddings import EmbeddingTable
from artrec.recsys.aggregations import AGGREGATIONS
from artrec.recsys.protocol import Inventory, TestCases

CHUNK_ELEMENTS = 1 << 22


def unit_vectors(
    table: EmbeddingTable, item_ids: np.ndarray, device: str
) -> tuple[torch.Tensor, np.ndarray]:
    """The embeddings of ``item_ids`` (matched by id) as unit-length float32 rows on
    ``device``, and which ids have one. Rows without one, and zero vectors, stay zero:
    cosine 0 with everything."""
    rows = pd.Index(table.item_ids).get_indexer(np.asarray(item_ids))
    present = rows >= 0
    source = torch.as_tensor(table.vectors)
    if not len(source):
        source = torch.zeros((1, table.dim), dtype=source.dtype)
    unit = source.index_select(0, torch.as_tensor(np.maximum(rows, 0)))
    unit = unit.to(device=device, dtype=torch.float32)
    unit[torch.as_tensor(~present, device=device)] = 0.0
    unit.div_(unit.norm(dim=1, keepdim=True).clamp_min_(torch.finfo(torch.float32).tiny))
    return unit, present


@dataclass(frozen=True)
class BatchRanks:
    """For the cases ``cases`` (indices into TestCases): their candidate counts and the
    ranks of their relevant items, in ``TestCases.relevant_items`` order."""

    cases: np.ndarray
    n_candidates: np.ndarray
    ranks: np.ndarray


def plan_batches(cases: TestCases, batch_size: int) -> list[np.ndarray]:
    """Cases user by user, at most ``batch_size`` per batch. A user's first case in a batch
    needs its whole profile, a later one only the items bought since; a new user starts a
    new batch when its profile would take the batch past ``batch_size`` profile items."""
    order = np.lexsort((cases.time, cases.user_code))
    batches: list[np.ndarray] = []
    current: list[int] = []
    items, previous_user, previous_size = 0, -1, 0
    for case in order.tolist():
        user, size = int(cases.user_code[case]), int(cases.profile_size[case])
        follower = bool(current) and user == previous_user
        cost = size - previous_size if follower else size
        if current and (len(current) >= batch_size or (not follower and items + cost > batch_size)):
            batches.append(np.asarray(current))
            current, items, cost = [], 0, size
        current.append(case)
        items, previous_user, previous_size = items + cost, user, size
    if current:
        batches.append(np.asarray(current))
    return batches


def rank_batches(cases: TestCases, scored: Iterable[BatchScores]) -> Iterator[BatchRanks]:
    """Rank the relevant items of each scored batch (from :func:`score_batches`)."""
    for part in scored:
        case, items = ragged(
            cases.relevant_offsets[part.cases], cases.n_relevant[part.cases], cases.relevant_items
        )
        ranks = _count_ranks(part.scores, case, items, _step(part.scores.shape[1]))
        yield BatchRanks(part.cases, part.n_candidates, ranks)


@dataclass(frozen=True)
class BatchScores:
    """For the cases ``cases``: their [B, n_items] scores, non-candidates at -inf (a reused
    buffer: valid until the next batch is scored), and their candidate counts."""

    cases: np.ndarray
    scores: torch.Tensor
    n_candidates: np.ndarray


def score_batches(
    cases: TestCases,
    inventory: Inventory,
    unit: torch.Tensor,
    aggregation: str,
    topk: int,
    exclude_consumed: bool,
    batch_size: int,
    batches: list[np.ndarray],
) -> Iterator[BatchScores]:
    """Score the cases batch by batch (docs/protocol.md, rules 6-7); ranks and top-k lists
    both start here."""
    stock = _Stock(inventory, unit.device)
    work = _Workspace(unit, batch_size, AGGREGATIONS[aggregation](topk))
    for batch in batches:
        scores = _scores(cases, batch, work)
        n_candidates = stock.restrict(scores, cases, batch, exclude_consumed, work.step)
        yield BatchScores(batch, scores, n_candidates)


def _step(n_items: int) -> int:
    """Rows per chunk so that a chunk holds about ``CHUNK_ELEMENTS`` values."""
    return max(1, CHUNK_ELEMENTS // n_items)


class _Workspace:
    """What a batch works with: the unit vectors, the aggregation, and two large buffers
    (the aggregation state, and a block of cosine rows) allocated once and reused."""

    def __init__(self, unit: torch.Tensor, batch_size: int, aggregate) -> None:
        self.unit, self.batch_size, self.aggregate = unit, batch_size, aggregate
        self.n_items = unit.shape[0]
        self.step = _step(self.n_items)
        self._buffers: dict[str, torch.Tensor] = {}

    def buffer(self, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        """A contiguous float32 tensor of ``shape`` (uninitialised), reusing memory."""
        size = math.prod(shape)
        held = self._buffers.get(name)
        if held is None or held.numel() < size:
            held = self._buffers[name] = torch.empty(size, device=self.unit.device)
        return held[:size].view(shape)


class _Stock:
    """The inventory as tensors on the scoring device (an item without an embedding never
    enters the stock)."""

    def __init__(self, inventory: Inventory, device: torch.device) -> None:
        self.inventory = inventory
        upload = np.where(inventory.kept, inventory.upload, np.inf)
        self.upload = torch.as_tensor(upload, device=device)
        self.sold = torch.as_tensor(inventory.sold, device=device)

    def restrict(
        self,
        scores: torch.Tensor,
        cases: TestCases,
        batch: np.ndarray,
        exclude_consumed: bool,
        step: int,
    ) -> np.ndarray:
        """Set the scores of non-candidates (out of stock at the case's time, or in its
        profile if asked) to -inf, in place; return the number of candidates per case."""
        times = cases.time[batch]
        when = torch.as_tensor(times, device=scores.device)[:, None]
        for part in _parts(len(batch), step):
            absent = (self.upload > when[part]) | (when[part] > self.sold)
            scores[part].masked_fill_(absent, -torch.inf)
        counts = self.inventory.count_in_stock(times)
        if exclude_consumed:
            case, items = ragged(
                cases.profile_start[batch], cases.profile_size[batch], cases.profile_items
            )
            flat = torch.as_tensor(case * scores.shape[1] + items, device=scores.device)
            scores.view(-1).index_fill_(0, flat, -torch.inf)
            stocked = self.inventory.in_stock(items, times[case])
            counts = counts - np.bincount(case[stocked], minlength=len(batch))
        return counts


def ragged(starts: np.ndarray, sizes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
    """(case, value) pairs of ``values[starts[c]:starts[c] + sizes[c]]`` for each case c."""
    case = np.repeat(np.arange(len(sizes)), sizes)
    within = np.arange(len(case)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return case, values[np.repeat(starts, sizes) + within]


def _scores(cases: TestCases, batch: np.ndarray, work: _Workspace) -> torch.Tensor:
    """[B, n_items] scores of a batch. Each case first folds in its own share of the profile
    (all of it for a user's first case in the batch, else the items bought since the case
    before), from cosine rows computed once per distinct item, ``batch_size`` rows at a
    time; then a scan over each user's cases folds every case into the next one."""
    device, aggregate, step = work.unit.device, work.aggregate, work.step
    users, sizes = cases.user_code[batch], cases.profile_size[batch]
    follows = np.concatenate([[False], users[1:] == users[:-1]])
    done = np.where(follows, np.concatenate([[0], sizes[:-1]]), 0)
    case, items = ragged(cases.profile_start[batch] + done, sizes - done, cases.profile_items)
    distinct, row = np.unique(items, return_inverse=True)
    by_row = np.argsort(row, kind="stable")
    starts = np.arange(0, len(distinct), work.batch_size)
    bounds = np.searchsorted(row[by_row], np.append(starts, len(distinct)))
    state = work.buffer("state", aggregate.shape(len(batch), work.n_items)).fill_(aggregate.start)
    for chunk, begin in enumerate(starts):
        block = distinct[begin : begin + work.batch_size]
        sims = work.buffer("sims", (len(block), work.n_items))
        own = work.unit.index_select(0, torch.as_tensor(block, device=device))
        torch.mm(own, work.unit.T, out=sims)
        pairs = by_row[bounds[chunk] : bounds[chunk + 1]]
        for part in _parts(len(pairs), step):
            target = torch.as_tensor(case[pairs[part]], device=device)
            aggregate.update(state, target, _take(sims, row[pairs[part]] - begin))
    for follower in np.flatnonzero(follows).tolist():
        aggregate.fold(state, follower)
    return aggregate.scores(state, torch.as_tensor(sizes, device=device))


def _take(rows: torch.Tensor, index: np.ndarray) -> torch.Tensor:
    """``rows[index]``: a view when ``index`` is a run of consecutive rows, else a copy."""
    if len(index) and (np.diff(index) == 1).all():
        return rows[index[0] : index[0] + len(index)]
    return rows.index_select(0, torch.as_tensor(index, device=rows.device))


def _count_ranks(scores: torch.Tensor, case: np.ndarray, items: np.ndarray, step: int):
    """1-based rank of each (case, relevant item) among the case's candidates (non-candidates
    score -inf). A case's first relevant item is compared with the score rows in place;
    further ones (rarer) with gathered copies of their case's row."""
    device = scores.device
    flat = torch.as_tensor(case * scores.shape[1] + items, device=device)
    own = scores.view(-1).index_select(0, flat)
    first = np.flatnonzero(np.diff(case, prepend=-1) != 0)
    assert (case[first] == np.arange(len(scores))).all(), "every case has a relevant item"
    ranks = np.empty(len(case), dtype=np.int64)
    for part in _parts(len(first), step):
        chosen = first[part]
        ranks[chosen] = _ranks(scores[part], own[chosen], items[chosen])
    rest = np.setdiff1d(np.arange(len(case)), first)
    for part in _parts(len(rest), step):
        chosen = rest[part]
        rows = scores.index_select(0, torch.as_tensor(case[chosen], device=device))
        ranks[chosen] = _ranks(rows, own[chosen], items[chosen])
    return ranks


def _ranks(rows: torch.Tensor, own: torch.Tensor, items: np.ndarray) -> np.ndarray:
    """Per row: entries above ``own``, plus entries equal to it at an earlier position
    (items.csv order), plus one."""
    mine = own[:, None]
    rank = _count(rows > mine) + 1
    tied = torch.nonzero(_count(rows == mine) > 1).squeeze(1)
    if len(tied):
        rows, mine = rows.index_select(0, tied), mine.index_select(0, tied)
        position = torch.arange(rows.shape[1], device=rows.device)
        earlier = position[None, :] < torch.as_tensor(items, device=rows.device)[tied, None]
        rank.index_add_(0, tied, _count((rows == mine) & earlier))
    return rank.cpu().numpy()


def _count(mask: torch.Tensor) -> torch.Tensor:
    """True values per row (int32: a few times faster than count_nonzero on CPU)."""
    return mask.sum(dim=1, dtype=torch.int32)


def _parts(n: int, size: int) -> list[slice]:
    return [slice(start, start + size) for start in range(0, n, size)]
