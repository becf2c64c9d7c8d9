"""The purchase-prediction timeline of docs/protocol.md: which items are in stock when, which
transactions are test cases, each case's profile and ground truth.

Everything here is index work over items.csv rows; scores come later (``scoring``). A case
keeps its profile as a prefix of its user's distinct items in first-purchase order, so the
cases of one user share one list and a later case only adds to the earlier one's profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from artrec.data import Dataset
from artrec.errors import EmbeddingsError, preview

GROUND_TRUTHS = ("next", "future")


def _unique_auto(items: pd.DataFrame, n_baskets: np.ndarray) -> np.ndarray:
    """The ``unique`` column where it has a value, else: bought in exactly one transaction."""
    bought_once = n_baskets == 1
    if "unique" not in items.columns:
        return bought_once
    column = items["unique"].astype("boolean")
    return column.fillna(pd.Series(bought_once, index=items.index)).to_numpy(dtype=bool)


UNIQUE_RULES = {
    "auto": _unique_auto,
    "all": lambda items, n_baskets: np.ones(len(items), dtype=bool),
    "none": lambda items, n_baskets: np.zeros(len(items), dtype=bool),
}


@dataclass(frozen=True)
class Inventory:
    """Per item: in stock at t iff ``upload <= t <= sold`` and ``kept``. ``upload`` is -inf
    for items always available; ``sold`` is the first purchase time of a unique item (it is
    still in stock at that time: same-time transactions do not see each other), else +inf;
    ``kept`` is False for items dropped for lack of an embedding."""

    upload: np.ndarray
    sold: np.ndarray
    kept: np.ndarray

    def in_stock(self, items: np.ndarray, time: float | np.ndarray) -> np.ndarray:
        return (self.upload[items] <= time) & (time <= self.sold[items]) & self.kept[items]

    def count_in_stock(self, times: np.ndarray) -> np.ndarray:
        """How many items are in stock at each time: those uploaded by t, minus those sold
        before t (items never in stock, e.g. sold before their upload, count in neither)."""
        never = ~self.kept | (self.sold < self.upload)
        upload = np.sort(np.where(never, np.inf, self.upload))
        sold = np.sort(np.where(never, np.inf, self.sold))
        uploaded = np.searchsorted(upload, times, side="right")
        return uploaded - np.searchsorted(sold, times, side="left")


@dataclass(frozen=True)
class TestCases:
    """Scored test cases in transaction order. Case c's profile is
    ``profile_items[profile_start[c]:][:profile_size[c]]``; its ground truth (candidates only,
    ascending item rows) is ``relevant_items[relevant_offsets[c]:relevant_offsets[c + 1]]``."""

    user_id: np.ndarray
    user_code: np.ndarray
    time: np.ndarray
    time_raw: np.ndarray
    profile_items: np.ndarray
    profile_start: np.ndarray
    profile_size: np.ndarray
    relevant_items: np.ndarray
    relevant_offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.time)

    @property
    def n_relevant(self) -> np.ndarray:
        return np.diff(self.relevant_offsets)


@dataclass(frozen=True)
class Timeline:
    inventory: Inventory
    cases: TestCases
    n_skipped: int
    n_dropped_items: int


@dataclass
class _Walk:
    """Test cases as found by walking each user's transactions, before dropping items:
    per case its transaction row, the start and size of its profile in ``order``, and its
    ground-truth candidates (``truth``, flat, ``truth_sizes`` per case)."""

    rows: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray
    order: np.ndarray
    truth: np.ndarray
    truth_sizes: np.ndarray


def build_timeline(
    dataset: Dataset,
    has_embedding: np.ndarray,
    *,
    unique_items: str = "auto",
    min_profile: int = 1,
    exclude_consumed: bool = True,
    ground_truth: str = "next",
    missing_embeddings: str = "error",
    source: str = "embeddings",
    skipped: np.ndarray | None = None,
) -> Timeline:
    """Find the test cases of ``dataset`` (docs/protocol.md, rules 1-6 and 9).
    ``min_profile`` counts the distinct items of the user's earlier transactions. Items
    the protocol needs (in stock at some test time, or in a tested profile) without an
    embedding raise :class:`EmbeddingsError`, or with ``missing_embeddings='drop'`` leave
    candidates, profiles and ground truth; a case left without profile or ground truth is
    skipped.
    Items marked in ``skipped`` (their image could not be read) are always dropped."""
    transactions = dataset.transactions
    baskets = [np.asarray(b, dtype=np.int64) for b in transactions["items"]]
    times = transactions["time"].to_numpy(dtype=np.float64)
    inventory = _inventory(dataset.items, baskets, times, unique_items)
    walk = _walk_users(
        transactions, baskets, inventory, min_profile, exclude_consumed, ground_truth
    )
    missing = _needed(walk, inventory, times) & ~has_embedding
    unexplained = missing if skipped is None else missing & ~skipped
    if missing_embeddings == "error" and unexplained.any():
        raise EmbeddingsError(
            f"{source}: {int(unexplained.sum())} item(s) the protocol needs have no embedding, "
            f"e.g. {preview(dataset.item_ids[unexplained])}; embed them, or set "
            "protocol.missing_embeddings=drop."
        )
    kept = np.asarray(has_embedding, dtype=bool)
    inventory = Inventory(upload=inventory.upload, sold=inventory.sold, kept=kept)
    cases, n_skipped = _keep(walk, kept, transactions, times)
    return Timeline(inventory, cases, n_skipped, int(missing.sum()))


def _inventory(
    items: pd.DataFrame, baskets: list[np.ndarray], times: np.ndarray, unique_items: str
) -> Inventory:
    n_items = len(items)
    flat = np.concatenate(baskets) if baskets else np.zeros(0, dtype=np.int64)
    flat_times = np.repeat(times, [len(b) for b in baskets])
    n_baskets = np.bincount(flat, minlength=n_items)
    first_bought = np.full(n_items, np.inf)
    np.minimum.at(first_bought, flat, flat_times)
    unique = UNIQUE_RULES[unique_items](items, n_baskets)
    upload = items["upload_time"].to_numpy(dtype=np.float64)
    return Inventory(
        upload=np.where(np.isnan(upload), -np.inf, upload),
        sold=np.where(unique, first_bought, np.inf),
        kept=np.ones(n_items, dtype=bool),
    )


def _walk_users(
    transactions: pd.DataFrame,
    baskets: list[np.ndarray],
    inventory: Inventory,
    min_profile: int,
    exclude_consumed: bool,
    ground_truth: str,
) -> _Walk:
    """Walk each user's transactions in time order, growing the profile (distinct items in
    first-purchase order); ground truth keeps candidates only, before any item is dropped."""
    rows, starts, sizes, truths, order = [], [], [], [], []
    for user_rows in transactions.groupby("user_id", sort=False).indices.values():
        start, seen = len(order), set()
        for position, (row, truth) in enumerate(
            zip(user_rows, _truths(user_rows, baskets, ground_truth), strict=True)
        ):
            if position > 0 and len(seen) >= min_profile:
                rows.append(int(row))
                starts.append(start)
                sizes.append(len(order) - start)
                truths.append([i for i in truth if i not in seen] if exclude_consumed else truth)
            fresh = [int(i) for i in baskets[row] if i not in seen]
            seen.update(fresh)
            order.extend(fresh)
    truth_sizes = np.array([len(t) for t in truths], dtype=np.int64)
    flat = np.concatenate([np.asarray(t, dtype=np.int64) for t in truths] or [np.zeros(0, int)])
    when = np.repeat(transactions["time"].to_numpy(dtype=np.float64)[rows], truth_sizes)
    in_stock = inventory.in_stock(flat, when)
    case = np.repeat(np.arange(len(rows)), truth_sizes)
    return _Walk(
        rows=np.asarray(rows, dtype=np.int64),
        starts=np.asarray(starts, dtype=np.int64),
        sizes=np.asarray(sizes, dtype=np.int64),
        order=np.asarray(order, dtype=np.int64),
        truth=flat[in_stock],
        truth_sizes=np.bincount(case[in_stock], minlength=len(rows)),
    )


def _truths(rows: np.ndarray, baskets: list[np.ndarray], ground_truth: str) -> list[np.ndarray]:
    """Per transaction of a user: its items (``next``) or those of it and all later ones."""
    own = [baskets[row] for row in rows]
    if ground_truth == "next":
        return own
    later: list[np.ndarray] = []
    union = np.zeros(0, dtype=np.int64)
    for basket in reversed(own):
        union = np.union1d(union, basket)
        later.append(union)
    return later[::-1]


def _needed(walk: _Walk, inventory: Inventory, times: np.ndarray) -> np.ndarray:
    """Items in stock at some test time, or in some tested profile."""
    test_times = np.sort(times[walk.rows])
    first = np.searchsorted(test_times, inventory.upload, side="left")
    last = np.searchsorted(test_times, inventory.sold, side="right")
    needed = first < last
    cover = np.zeros(len(walk.order) + 1, dtype=np.int64)
    np.add.at(cover, walk.starts, 1)
    np.add.at(cover, walk.starts + walk.sizes, -1)
    needed[walk.order[np.cumsum(cover[:-1]) > 0]] = True
    return needed


def _keep(
    walk: _Walk, kept: np.ndarray, transactions: pd.DataFrame, times: np.ndarray
) -> tuple[TestCases, int]:
    """Drop items without embeddings from profiles and ground truth; skip emptied cases;
    put the cases in transaction order."""
    kept_order = kept[walk.order]
    before = np.concatenate([[0], np.cumsum(kept_order)])
    profile_start = before[walk.starts]
    profile_size = before[walk.starts + walk.sizes] - profile_start
    truth_case = np.repeat(np.arange(len(walk.rows)), walk.truth_sizes)
    usable = kept[walk.truth]
    n_truth = np.bincount(truth_case[usable], minlength=len(walk.rows))
    scored = (profile_size > 0) & (n_truth > 0)
    chosen = np.flatnonzero(scored)[np.argsort(walk.rows[scored], kind="stable")]
    place = np.full(len(walk.rows), len(chosen))
    place[chosen] = np.arange(len(chosen))
    relevant = usable & scored[truth_case]
    by_place = np.argsort(place[truth_case[relevant]], kind="stable")
    rows = walk.rows[chosen]
    users = transactions["user_id"].to_numpy(dtype=object)[rows]
    cases = TestCases(
        user_id=users,
        user_code=pd.factorize(users)[0].astype(np.int64),
        time=times[rows],
        time_raw=transactions["time_raw"].to_numpy(dtype=object)[rows],
        profile_items=walk.order[kept_order],
        profile_start=profile_start[chosen],
        profile_size=profile_size[chosen],
        relevant_items=walk.truth[relevant][by_place],
        relevant_offsets=np.concatenate([[0], np.cumsum(n_truth[chosen])]).astype(np.int64),
    )
    return cases, int((~scored).sum())
