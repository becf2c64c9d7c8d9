"""The demo gallery's shop: upload times, prints, users' hidden tastes and their purchases.

Items enter the stock over two years; each transaction is drawn, in time order, from
the items in stock at that moment (uploaded earlier, and not a one-of-a-kind item that
was already sold), weighted softmax-like by the user's taste. Tastes are mostly a few
favourite artists, plus composition, brushwork and palette preferences and noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from artrec.data.gallery_styles import COMPOSITIONS, ArtistStyle, Catalogue

START = 1388534400  # 2014-01-01T00:00:00Z
DAY = 86_400
SPAN_DAYS = 730
INITIAL_SHARE = 0.2  # share of items already in stock when the shop opens
PRINT_SHARE = 0.1  # share of items that are prints (unique=false)
BASKET_SIZES = (1, 2, 3)
BASKET_PROBS = (0.82, 0.14, 0.04)
FAVOURITE_BONUS = (8.0, 6.0, 5.0, 5.0)  # taste for a user's 1st, 2nd, ... favourite artist


@dataclass(frozen=True)
class Stock:
    """When each item was uploaded (sorted: item k is the k-th upload) and if it is unique."""

    upload_time: np.ndarray  # int64 seconds
    unique: np.ndarray  # bool


@dataclass(frozen=True)
class Purchases:
    """One row per bought item: user index, item index, time (int seconds)."""

    user: np.ndarray
    item: np.ndarray
    time: np.ndarray


def sample_stock(n_items: int, rng: np.random.Generator) -> Stock:
    """Upload times (the first ~20% before opening day) and which items are prints.

    At least one print is in stock from the start, so no buyer ever finds the shop empty.
    """
    n_initial = max(1, round(INITIAL_SHARE * n_items))
    before = START - rng.integers(1, 30 * DAY, n_initial)
    later = START + rng.integers(0, SPAN_DAYS * DAY, n_items - n_initial)
    upload = np.sort(np.concatenate([before, later]))
    unique = rng.random(n_items) >= PRINT_SHARE
    unique[int(rng.integers(n_initial))] = False
    return Stock(upload_time=upload.astype(np.int64), unique=unique)


class Tastes:
    """Each user's utility for every item: favourite artists dominate, the rest is style."""

    def __init__(
        self,
        n_users: int,
        artists: list[ArtistStyle],
        catalogue: Catalogue,
        rng: np.random.Generator,
        seed: int,
    ) -> None:
        n_artists = len(artists)
        popularity = 1.0 / np.arange(1, n_artists + 1) ** 0.7
        popularity = rng.permutation(popularity / popularity.sum())
        self.favourite = np.zeros((n_users, n_artists), dtype=np.float32)
        for u in range(n_users):
            n_fav = min(n_artists, int(rng.integers(2, 5)))
            chosen = rng.choice(n_artists, size=n_fav, replace=False, p=popularity)
            self.favourite[u, chosen] = FAVOURITE_BONUS[:n_fav]
        self.composition = rng.normal(0.0, 0.6, (n_users, len(COMPOSITIONS))).astype(np.float32)
        self.brush = rng.normal(0.0, 0.5, n_users).astype(np.float32)
        self.hue = rng.random(n_users)
        self.hue_strength = rng.uniform(0.0, 0.8, n_users)
        self.artist = catalogue.artist
        self.item_composition = np.array([COMPOSITIONS.index(a.composition) for a in artists])[
            catalogue.artist
        ]
        lengths = np.array([a.stroke_length for a in artists])
        self.item_brush = ((lengths - lengths.mean()) / (lengths.std() + 1e-9))[catalogue.artist]
        self.item_hue = np.array([a.hue for a in artists])[catalogue.artist]
        self.appeal = rng.normal(0.0, 0.3, catalogue.artist.size)
        self.seed = seed

    def utility(self, user: int) -> np.ndarray:
        """The user's utility for every item; the noise term is fixed per (user, item)."""
        noise = np.random.default_rng([self.seed, 2, user]).normal(0.0, 0.5, self.artist.size)
        return (
            self.favourite[user, self.artist]
            + self.composition[user, self.item_composition]
            + self.brush[user] * self.item_brush
            + self.hue_strength[user] * np.cos(2 * np.pi * (self.item_hue - self.hue[user]))
            + self.appeal
            + noise
        )


def transactions_per_user(
    n_users: int, n_transactions: int, rng: np.random.Generator
) -> np.ndarray:
    """Heavy-tailed counts, each at least 1, summing to ``n_transactions``."""
    activity = rng.lognormal(0.0, 1.2, n_users)
    extra = rng.multinomial(n_transactions - n_users, activity / activity.sum())
    return 1 + extra


def simulate_purchases(
    stock: Stock, tastes: Tastes, n_users: int, n_transactions: int, rng: np.random.Generator
) -> Purchases:
    """Play the shop forward: transactions at distinct times, each from the stock at that time."""
    counts = transactions_per_user(n_users, n_transactions, rng)
    buyers = rng.permutation(np.repeat(np.arange(n_users), counts))
    offsets = rng.choice(SPAN_DAYS * DAY - DAY, size=n_transactions, replace=False)
    times = START + DAY + np.sort(offsets)
    sizes = rng.choice(BASKET_SIZES, size=n_transactions, p=BASKET_PROBS)
    sold = np.zeros(stock.unique.size, dtype=bool)
    owned: dict[int, list[int]] = {}
    rows: list[tuple[int, int, int]] = []
    for user, time, size in zip(buyers.tolist(), times.tolist(), sizes.tolist(), strict=True):
        n_uploaded = int(np.searchsorted(stock.upload_time, time, side="left"))
        basket = _choose(tastes.utility(user)[:n_uploaded], sold, owned.get(user, []), size, rng)
        sold[basket[stock.unique[basket]]] = True
        owned.setdefault(user, []).extend(basket.tolist())
        rows.extend((user, int(item), time) for item in basket)
    user_col, item_col, time_col = (
        np.array(col, dtype=np.int64) for col in zip(*rows, strict=True)
    )
    return Purchases(user=user_col, item=item_col, time=time_col)


def _choose(
    utility: np.ndarray, sold: np.ndarray, owned: list[int], size: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``size`` distinct in-stock items with probability ~ exp(utility) (Gumbel top-k).

    Items the user already owns are skipped unless nothing else is left.
    """
    in_stock = ~sold[: utility.size]
    fresh = in_stock.copy()
    fresh[owned] = False
    candidates = np.flatnonzero(fresh if fresh.any() else in_stock)
    keys = utility[candidates] + rng.gumbel(size=candidates.size)
    take = min(size, candidates.size)
    return np.sort(candidates[np.argsort(-keys, kind="stable")[:take]])
