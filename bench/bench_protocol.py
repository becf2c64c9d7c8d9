"""Benchmarks of the purchase-prediction protocol (artrec.recsys.evaluate).

    python bench/bench_protocol.py [--only 1,2,3] [--dims 64,256,1024,2048] [--gallery]
                                   [--repeat 5] [--threads N] [--quick]

1. A gallery-like timeline at UGallery's scale (6,040 items, 2,919 users, 4,650
   transactions: about 1,720 test cases; ``--gallery`` uses artrec's demo gallery at that
   scale instead), random embeddings of each width in ``--dims``: artrec against a
   straightforward per-test-case numpy implementation that ranks by counting (candidates
   scoring above each relevant item, plus earlier ties), not by sorting. Target: >= 5x
   faster, identical per-case metrics (asserted). The embeddings are integers over 2**10
   with a squared norm of exactly 2**20, so every cosine is exact in float32 whatever the
   summation order and both implementations must agree bit for bit.
2. The same run against the floor: one matrix product of the embeddings of every distinct
   item in some tested profile by all items' embeddings. Target: artrec <= 2x the floor.
3. 200,000 items, 100,000 transactions, 256-d, CPU, in a fresh process (``--quick``: a
   quarter of that): test cases per second and peak memory (ru_maxrss, target < 4 GB),
   against the floor measured in the same process: the products of each user's tested
   profile items (each once) by all items, and one pass over a row of all items per test
   case. Target: artrec <= 3x the floor.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from artrec.data import Dataset, load_dataset
from artrec.embeddings import EmbeddingTable, load_embeddings, save_embeddings
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.evaluate import evaluate
from artrec.recsys.protocol import build_timeline
from artrec.recsys.scoring import unit_vectors
from artrec.recsys.stock import ragged

YEAR = 365 * 86400
METRIC_COLUMNS = ["first_rank", "recall", "precision", "f1", "map", "mrr", "ndcg", "auc"]


def synthetic_gallery(root: Path, items: int, users: int, transactions: int, seed: int) -> Path:
    """A shop over three years: staggered uploads, 8% prints, one-of-a-kind items leave
    once sold, a few heavy repeat buyers (Zipf), mostly one-item baskets."""
    rng = np.random.default_rng(seed)
    upload = rng.uniform(-0.25 * 3 * YEAR, 3 * YEAR, items).round().astype(np.int64)
    prints = rng.random(items) < 0.08
    zipf = 1 / np.arange(1, users + 1) ** 1.1
    extra = rng.multinomial(transactions - users, zipf / zipf.sum())
    owner = rng.permutation(np.repeat(np.arange(users), 1 + extra))
    times = np.sort(rng.choice(3 * YEAR, len(owner), replace=False))
    by_upload = np.argsort(upload, kind="stable")
    uploaded = np.searchsorted(upload[by_upload], times, side="right")
    sold = np.zeros(items, dtype=bool)
    rows = []
    for user, when, shown in zip(owner, times, uploaded, strict=True):
        for _ in range(1 + min(rng.poisson(0.25), 4)):
            item = _pick(rng, by_upload[: max(shown, 1)], sold, prints)
            sold[item] |= not prints[item]
            rows.append((f"u{user:05d}", f"i{item:06d}", int(when)))
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"item_id": [f"i{i:06d}" for i in range(items)], "upload_time": upload}).to_csv(
        root / "items.csv", index=False
    )
    pd.DataFrame(rows, columns=["user_id", "item_id", "time"]).to_csv(
        root / "purchases.csv", index=False
    )
    return root


def _pick(rng: np.random.Generator, shown: np.ndarray, sold: np.ndarray, prints: np.ndarray):
    for _ in range(50):
        item = shown[rng.integers(len(shown))]
        if not sold[item]:
            return item
    return shown[rng.integers(len(shown))]


def exact_unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    """Random integer vectors scaled by 2**-10 whose squared norm is exactly 2**20: uniform
    ints (filling about 90% of the norm) in all but the last four coordinates, and the rest
    put as a sum of four squares into those four (any dimension >= 8)."""
    rng = np.random.default_rng(seed)
    bound = int(np.sqrt(2.7 * (1 << 20) / (dim - 4)))
    ints = rng.integers(-bound, bound + 1, size=(n, dim))
    ints[:, -4:] = 0
    while (over := (ints**2).sum(axis=1) > 1 << 20).any():
        ints[over, :-4] = rng.integers(-bound, bound + 1, size=(int(over.sum()), dim - 4))
    left = (1 << 20) - (ints**2).sum(axis=1)
    ints[:, -4:] = np.array([four_squares(int(v)) for v in left]) * rng.choice([-1, 1], (n, 4))
    assert ((ints**2).sum(axis=1) == 1 << 20).all()
    return (ints / 1024.0).astype(np.float32)


def four_squares(value: int) -> tuple[int, int, int, int]:
    """(a, b, c, d) with a**2 + b**2 + c**2 + d**2 == value (Lagrange: one always exists)."""
    for a in range(math.isqrt(value), -1, -1):
        for b in range(math.isqrt(value - a * a), -1, -1):
            rest = value - a * a - b * b
            for c in range(math.isqrt(rest), math.isqrt(rest // 2) - 1, -1):
                d = math.isqrt(rest - c * c)
                if c * c + d * d == rest:
                    return a, b, c, d
    raise AssertionError(value)


def baseline(dataset: Dataset, table: EmbeddingTable, k: int = 20):
    """docs/protocol.md with default settings, one test case at a time, in plain numpy (a
    ``unique`` cell wins over the bought-once rule)."""
    vectors, _ = table.align(dataset.item_ids.tolist())
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-30)
    tx = dataset.transactions
    flat = np.concatenate([np.asarray(b) for b in tx["items"]])
    stamp = np.repeat(tx["time"].to_numpy(), [len(b) for b in tx["items"]])
    first = pd.Series(stamp).groupby(flat).min()
    sold = np.full(len(unit), np.inf)
    declared = dataset.items.get("unique")
    for item, count in pd.Series(flat).value_counts().items():
        unique = count == 1 if declared is None or pd.isna(declared[item]) else declared[item]
        if unique:
            sold[item] = first[item]
    upload = np.nan_to_num(dataset.items["upload_time"].to_numpy(float), nan=-np.inf)
    history: dict[str, list[int]] = {}
    rows, profiled = [], set()
    for user, when, basket in zip(tx["user_id"], tx["time"], tx["items"], strict=True):
        profile = sorted(set(history.get(user, [])))
        history.setdefault(user, []).extend(basket)
        if not profile:
            continue
        stock = (upload <= when) & (when <= sold)
        stock[profile] = False
        truth = [i for i in basket if stock[i]]
        if not truth:
            continue
        profiled.update(profile)
        candidates = np.flatnonzero(stock)
        score = (unit[candidates] @ unit[profile].T).max(axis=1)
        ranks = sorted(_count_rank(score, candidates, i) for i in truth)
        rows.append(_metrics(ranks, len(candidates), k))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS), sorted(profiled)


def _count_rank(score: np.ndarray, candidates: np.ndarray, item: int) -> int:
    """1-based rank of ``item`` by counting: higher scores, plus equal ones earlier in
    items.csv (``candidates`` ascending), plus one."""
    own = score[np.searchsorted(candidates, item)]
    higher = np.count_nonzero(score > own)
    return higher + np.count_nonzero(score[: np.searchsorted(candidates, item)] == own) + 1


def _metrics(ranks: list[int], n: int, k: int) -> list[float]:
    g = len(ranks)
    hits = [r for r in ranks if r <= k]
    ap = sum((j + 1) / r for j, r in enumerate(hits)) / min(g, k)
    dcg = sum(1 / np.log2(r + 1) for r in hits)
    ideal = sum(1 / np.log2(r + 1) for r in range(1, min(g, k) + 1))
    above = sum(r - (j + 1) for j, r in enumerate(ranks))
    auc = 1.0 if n == g else 1 - above / (g * (n - g))
    mrr = 1 / ranks[0] if ranks[0] <= k else 0.0
    h = len(hits)
    return [ranks[0], h / g, h / k, 2 * h / (g + k), ap, mrr, dcg / ideal, auc]


def timed(function, *args):
    """The value of one call and its wall time."""
    start = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - start


def paper_scale(use_gallery: bool, work: Path) -> Dataset:
    if use_gallery:
        from artrec.data.gallery import ensure_gallery

        return load_dataset(ensure_gallery(scale="ugallery", image_size=32))
    return load_dataset(synthetic_gallery(work / "paper", 6040, 2919, 4650, seed=0))


def bench_paper(which: set[int], use_gallery: bool, work: Path, repeat: int, dims) -> None:
    dataset = paper_scale(use_gallery, work)
    print(
        f"paper scale: {len(dataset.items)} items, {len(dataset.transactions)} transactions, "
        f"{torch.get_num_threads()} torch threads; best of {repeat} interleaved runs"
    )
    for dim in dims:
        vectors = exact_unit_vectors(len(dataset.items), dim, seed=1)
        table = EmbeddingTable(item_ids=dataset.item_ids.astype(str), vectors=vectors)
        bench_width(which, dataset, table, repeat)


def bench_width(which: set[int], dataset: Dataset, table: EmbeddingTable, repeat: int) -> None:
    protocol = ProtocolConfig()
    unit = torch.nn.functional.normalize(torch.from_numpy(table.vectors), dim=1)
    evaluate(dataset, table, protocol)  # warm-up (thread pools, caches)
    ours, floor, slow = np.inf, np.inf, np.inf
    for _ in range(repeat):  # interleaved, so that a busy moment hurts all alike
        result, seconds = timed(evaluate, dataset, table, protocol)
        ours = min(ours, seconds)
        (expected, profiled), seconds = timed(baseline, dataset, table)
        slow = min(slow, seconds)
        index = torch.as_tensor(profiled)
        floor = min(floor, timed(lambda rows=index: unit[rows] @ unit.T)[1])
    line = f"  {table.dim:>4}-d, {result.n_test_cases} test cases: artrec {ours:.3f} s"
    if 1 in which:
        got = result.per_case[METRIC_COLUMNS].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-12, atol=1e-12)
        line += (
            f"; [1] per-case loop {slow:.3f} s: {slow / ours:.1f}x faster "
            f"({'met' if slow / ours >= 5 else 'MISSED'}), identical"
        )
    if 2 in which:
        line += (
            f"; [2] floor ({len(profiled)} items x all) {floor:.3f} s: "
            f"{ours / floor:.2f}x ({'met' if ours / floor <= 2 else 'MISSED'})"
        )
    print(line, flush=True)


def catalogue_floor(dataset: Dataset, table: EmbeddingTable, rows: int = 512) -> float:
    """Seconds for the unavoidable work: each user's tested profile items (each once) by all
    items, ``rows`` products at a time into one buffer, and one counting pass over a row of
    all items per test case."""
    unit, present = unit_vectors(table, dataset.item_ids, "cpu")
    cases = build_timeline(dataset, present).cases
    sizes = np.zeros(len(pd.unique(cases.user_id)), dtype=np.int64)
    np.maximum.at(sizes, cases.user_code, cases.profile_size)
    starts = np.zeros_like(sizes)
    starts[cases.user_code] = cases.profile_start
    items = torch.as_tensor(ragged(starts, sizes, cases.profile_items)[1])
    sims = torch.empty((rows, len(unit)))
    share = len(cases) / len(items)
    start = time.perf_counter()
    for begin in range(0, len(items), rows):
        block = items[begin : begin + rows]
        torch.mm(unit.index_select(0, block), unit.T, out=sims[: len(block)])
        passes = round(share * (begin + len(block))) - round(share * begin)
        (sims[:passes] > sims[:passes, :1]).sum(dim=1, dtype=torch.int32)
    return time.perf_counter() - start


def _large_worker(root: str, embeddings: str, threads: int | None, queue) -> None:
    if threads:
        torch.set_num_threads(threads)
    dataset, table = load_dataset(root), load_embeddings(embeddings)
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result, seconds = timed(evaluate, dataset, table, ProtocolConfig(device="cpu"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    floor = catalogue_floor(dataset, table)
    queue.put((result.n_test_cases, result.n_skipped, seconds, start, peak, floor))


def bench_large(work: Path, threads: int | None, quick: bool) -> None:
    items, users, transactions = (50_000, 17_500, 25_000) if quick else (200_000, 70_000, 100_000)
    root = synthetic_gallery(work / "large", items, users, transactions, seed=2)
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((items, 256), dtype=np.float32)
    ids = pd.read_csv(root / "items.csv", dtype=str)["item_id"].to_numpy(dtype=str)
    path = save_embeddings(EmbeddingTable(item_ids=ids, vectors=vectors), work / "large.npz")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=_large_worker, args=(str(root), str(path), threads, queue))
    worker.start()
    cases, skipped, seconds, start, peak, floor = queue.get()
    worker.join()
    print(
        f"[3] {items:,} items x 256-d, {transactions:,} transactions, CPU, "
        f"{threads or torch.get_num_threads()} threads: {cases} test cases ({skipped} skipped) "
        f"in {seconds:.1f} s = {cases / seconds:.0f} cases/s; floor {floor:.1f} s -> "
        f"artrec / floor = {seconds / floor:.2f} ({'met' if seconds / floor <= 3 else 'MISSED'}"
        f" <= 3); peak RSS {peak / 2**20:.2f} GB (after loading inputs: "
        f"{start / 2**20:.2f} GB; {'met' if peak < 4 * 2**20 else 'MISSED'} < 4 GB)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="1,2,3", help="comma-separated benchmarks to run")
    parser.add_argument("--gallery", action="store_true", help="use artrec's demo gallery")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of benchmarks 1-2")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--dims", default="64,256,1024,2048", help="widths of benchmarks 1-2")
    parser.add_argument("--quick", action="store_true", help="benchmark 3 at a quarter scale")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    which = {int(part) for part in args.only.split(",")}
    with tempfile.TemporaryDirectory() as work:
        if which & {1, 2}:
            dims = [int(part) for part in args.dims.split(",")]
            bench_paper(which, args.gallery, Path(work), args.repeat, dims)
        if 3 in which:
            bench_large(Path(work), args.threads, args.quick)


if __name__ == "__main__":
    sys.exit(main())
