"""Scores and ranks (docs/protocol.md, rules 7-8) as chunked matrix work on a torch device.

Cases are taken user by user, a batch at a time. In a batch, the cosine rows of the
distinct profile items are computed once (matrix products with all items), each case
folds in its share of the profile, and a scan over each user's cases folds every case
into the next; a user whose cases continue into the next batch carries its state along,
so the cost stays near one product of each user's bought items by all items. The rank of
a relevant item is counted, not sorted: candidates scoring higher, plus those scoring
equal that come earlier in items.csv, plus one. The two large matrices of a batch live in
buffers reused across batches; everything else works on row chunks of about
``CHUNK_ELEMENTS`` values, small enough to stay in cache while a chunk of score rows is
restricted to the candidates and ranked (and fresh large allocations cost page faults).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from artrec.embeddings import EmbeddingTable
from artrec.recsys.aggregations import AGGREGATIONS
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.protocol import Inventory, TestCases
from artrec.recsys.stock import Stock, ragged

CHUNK_ELEMENTS = 1 << 19


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
    with one_thread():
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
    """Cases user by user, at most ``batch_size`` per batch. A case costs the profile items
    bought since the same user's previous case (all of them for a user's first case); a
    batch ends before a case that would take it past ``batch_size`` profile items."""
    order = np.lexsort((cases.time, cases.user_code))
    batches: list[np.ndarray] = []
    current: list[int] = []
    items, previous_user, previous_size = 0, -1, 0
    for case in order.tolist():
        user, size = int(cases.user_code[case]), int(cases.profile_size[case])
        cost = size - previous_size if user == previous_user else size
        if current and (len(current) >= batch_size or items + cost > batch_size):
            batches.append(np.asarray(current))
            current, items = [], 0
        current.append(case)
        items, previous_user, previous_size = items + cost, user, size
    if current:
        batches.append(np.asarray(current))
    return batches


def rank_batches(cases: TestCases, scored: Iterable[BatchScores]) -> Iterator[BatchRanks]:
    """Rank the relevant items of each scored chunk (from :func:`score_batches`)."""
    for part in scored:
        case, items = ragged(
            cases.relevant_offsets[part.cases], cases.n_relevant[part.cases], cases.relevant_items
        )
        with one_thread():
            ranks = _count_ranks(part, case, items, _step(part.scores.shape[1]))
        yield BatchRanks(part.cases, part.n_candidates, ranks)


@dataclass(frozen=True)
class BatchScores:
    """For the cases ``cases``: their [B, n_items] scores (a view of a reused buffer: valid
    until the next chunk is scored), which items are candidates (``present``, float32 1 or
    0: see :meth:`Stock.candidates`), and their candidate counts."""

    cases: np.ndarray
    scores: torch.Tensor
    present: torch.Tensor
    n_candidates: np.ndarray

    def candidate_scores(self, row: int) -> torch.Tensor:
        """A copy of one case's scores with non-candidates at -inf."""
        return self.scores[row].masked_fill(self.present[row] == 0, -torch.inf)


def score_batches(
    cases: TestCases,
    inventory: Inventory,
    unit: torch.Tensor,
    protocol: ProtocolConfig,
    batches: Iterable[np.ndarray],
) -> Iterator[BatchScores]:
    """Score the cases batch by batch (docs/protocol.md, rules 6-7), yielding row chunks of
    each batch: a chunk is restricted to its candidates when asked for, so a consumer that
    ranks it straight away finds its rows still in cache. Ranks and top-k lists both start
    here. The protocol gives the aggregation, ``exclude_consumed`` and the batch size."""
    stock = Stock(inventory, cases, protocol.exclude_consumed, unit.device)
    aggregate = AGGREGATIONS[protocol.aggregation](protocol.topk)
    work = _Workspace(unit, protocol.chunk_size, aggregate, _previous(cases))
    for batch in batches:
        scores = _scores(cases, batch, work)
        for part in _parts(len(batch), work.step):
            with one_thread():
                present, n_candidates = stock.candidates(batch[part])
            yield BatchScores(batch[part], scores[part], present, n_candidates)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run small row-chunk operations on one CPU thread: splitting them gains little on a
    quiet machine, and when other processes hold the cores each split operation waits for
    a time slice (OpenMP barriers), which made them 20x slower. Products keep every thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _step(n_items: int) -> int:
    """Rows per chunk so that a chunk holds about ``CHUNK_ELEMENTS`` values."""
    return max(1, CHUNK_ELEMENTS // n_items)


def _previous(cases: TestCases) -> np.ndarray:
    """Per case: the same user's previous test case, or -1."""
    order = np.lexsort((cases.time, cases.user_code))
    previous = np.full(len(cases), -1, dtype=np.int64)
    same = cases.user_code[order[1:]] == cases.user_code[order[:-1]]
    previous[order[1:][same]] = order[:-1][same]
    return previous


class _Workspace:
    """What a batch works with: the unit vectors, the aggregation, two large buffers (the
    aggregation state, and a block of cosine rows) allocated once and reused, and the
    state of the previous batch's last case (``carry``, for a user that continues)."""

    def __init__(self, unit: torch.Tensor, batch_size: int, aggregate, previous) -> None:
        self.unit, self.batch_size, self.aggregate = unit, batch_size, aggregate
        self.previous = previous
        self.n_items = unit.shape[0]
        self.step = _step(self.n_items)
        self.carry: tuple[int, torch.Tensor] | None = None
        self._buffers: dict[str, torch.Tensor] = {}

    def buffer(self, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        """A contiguous float32 tensor of ``shape`` (uninitialised), reusing memory."""
        size = math.prod(shape)
        held = self._buffers.get(name)
        if held is None or held.numel() < size:
            held = self._buffers[name] = torch.empty(size, device=self.unit.device)
        return held[:size].view(shape)

    def start(self, cases: TestCases, batch: np.ndarray) -> tuple[torch.Tensor, int]:
        """The batch's state, each case at the aggregation's start except the first one, if
        it continues the previous batch's user: that one starts from the carried state.
        Also returns the profile items the first case already has (carried)."""
        state = self.buffer("state", self.aggregate.shape(len(batch), self.n_items))
        state.fill_(self.aggregate.start)
        if self.carry is None or self.carry[0] != self.previous[batch[0]]:
            return state, 0
        state.select(-2, 0).copy_(self.carry[1])
        return state, int(cases.profile_size[self.carry[0]])


def _scores(cases: TestCases, batch: np.ndarray, work: _Workspace) -> torch.Tensor:
    """[B, n_items] scores of a batch. Each case first folds in its own share of the profile
    (all of it for a user's first case, else the items bought since the case before), from
    cosine rows computed once per distinct item, ``batch_size`` rows at a time; then a scan
    over each user's cases folds every case into the next one."""
    device, aggregate = work.unit.device, work.aggregate
    users, sizes = cases.user_code[batch], cases.profile_size[batch]
    follows = np.concatenate([[False], users[1:] == users[:-1]])
    with one_thread():
        state, carried = work.start(cases, batch)
    done = np.where(follows, np.concatenate([[0], sizes[:-1]]), 0)
    done[0] = carried
    case, items = ragged(cases.profile_start[batch] + done, sizes - done, cases.profile_items)
    distinct, row = np.unique(items, return_inverse=True)
    by_row = np.argsort(row, kind="stable")
    starts = np.arange(0, len(distinct), work.batch_size)
    bounds = np.searchsorted(row[by_row], np.append(starts, len(distinct)))
    for chunk, begin in enumerate(starts):
        block = distinct[begin : begin + work.batch_size]
        sims = work.buffer("sims", (len(block), work.n_items))
        own = work.unit.index_select(0, torch.as_tensor(block, device=device))
        torch.mm(own, work.unit.T, out=sims)
        pairs = by_row[bounds[chunk] : bounds[chunk + 1]]
        _fold_in(work, state, sims, case[pairs], row[pairs] - begin)
    with one_thread():
        for follower in np.flatnonzero(follows).tolist():
            aggregate.fold(state, follower)
    work.carry = (int(batch[-1]), state.select(-2, len(batch) - 1).clone())
    return aggregate.scores(state, torch.as_tensor(sizes, device=device))


def _fold_in(
    work: _Workspace, state: torch.Tensor, sims: torch.Tensor, case: np.ndarray, rows: np.ndarray
) -> None:
    """Fold row ``rows[p]`` of ``sims`` into the state of case ``case[p]``, for each pair p
    (``rows`` ascending, every row of ``sims`` at least once). Each row's first pair reads
    the rows in place; repeats (an item new to several cases) read gathered copies."""
    lead = np.diff(rows, prepend=-1) != 0
    device, size = state.device, 16 * work.step
    with one_thread():
        for part in _parts(len(sims), size):
            target = torch.as_tensor(case[lead][part], device=device)
            work.aggregate.update(state, target, sims[part])
        for part in _parts(int((~lead).sum()), size):
            target = torch.as_tensor(case[~lead][part], device=device)
            again = torch.as_tensor(rows[~lead][part], device=device)
            work.aggregate.update(state, target, sims.index_select(0, again))


def _count_ranks(part: BatchScores, case: np.ndarray, items: np.ndarray, step: int):
    """1-based rank of each (case, relevant item) among the case's candidates. A case's
    first relevant item is compared with the score rows in place; further ones (rarer)
    with gathered copies of their case's row."""
    scores, present = part.scores, part.present
    device = scores.device
    flat = torch.as_tensor(case * scores.shape[1] + items, device=device)
    own = scores.reshape(-1).index_select(0, flat)
    first = np.flatnonzero(np.diff(case, prepend=-1) != 0)
    assert (case[first] == np.arange(len(scores))).all(), "every case has a relevant item"
    ranks = np.empty(len(case), dtype=np.int64)
    for rows in _parts(len(first), step):
        chosen = first[rows]
        ranks[chosen] = _ranks(scores[rows], present[rows], own[chosen], items[chosen])
    rest = np.setdiff1d(np.arange(len(case)), first)
    for rows in _parts(len(rest), step):
        chosen = rest[rows]
        index = torch.as_tensor(case[chosen], device=device)
        gathered, mask = scores.index_select(0, index), present.index_select(0, index)
        ranks[chosen] = _ranks(gathered, mask, own[chosen], items[chosen])
    return ranks


def _ranks(
    rows: torch.Tensor, present: torch.Tensor, own: torch.Tensor, items: np.ndarray
) -> np.ndarray:
    """Per row: candidates above ``own``, plus candidates equal to it at an earlier position
    (items.csv order), plus one. Comparisons write float32 0/1 (several times faster than
    bool on CPU), times ``present``; their sums are exact integers below 2**24."""
    mine, flags = own[:, None], torch.empty_like(rows)
    rank = torch.gt(rows, mine, out=flags).mul_(present).sum(dim=1)
    equal = torch.eq(rows, mine, out=flags).mul_(present)
    tied = torch.nonzero(equal.sum(dim=1) > 1).squeeze(1)
    if len(tied):
        position = torch.arange(rows.shape[1], device=rows.device)
        own_position = torch.as_tensor(items, device=rows.device)[tied, None]
        earlier = equal.index_select(0, tied).mul_(position[None, :] < own_position)
        rank.index_add_(0, tied, earlier.sum(dim=1))
    return rank.to(torch.int64).cpu().numpy() + 1


def _parts(n: int, size: int) -> list[slice]:
    return [slice(start, start + size) for start in range(0, n, size)]
