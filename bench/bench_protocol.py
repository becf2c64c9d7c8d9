"""Benchmarks of the purchase-prediction protocol (artrec.recsys.evaluate).

    python bench/bench_protocol.py [--only 1,2,3] [--gallery] [--repeat 5] [--threads N]

1. A gallery-like timeline at the paper's scale (6,040 items, 2,919 users, 4,099
   transactions; ``--gallery`` uses artrec's demo gallery at that scale instead), 2048-d
   random embeddings: artrec against a straightforward per-test-case numpy implementation
   (candidates' embeddings times the profile's, max, full argsort). Target: >= 5x faster,
   identical per-case metrics (asserted). The embeddings are integers over 2**10 with a
   squared norm of exactly 2**20, so every cosine is exact in float32 whatever the
   summation order and both implementations must agree bit for bit.
2. The same run against the floor: one matrix product of the embeddings of every distinct
   item in some tested profile by all items' embeddings. Target: artrec <= 2x the floor.
3. 200,000 items, 100,000 transactions, 256-d, CPU, in a fresh process: peak memory
   (ru_maxrss) under 4 GB; prints test cases per second.
"""

from __future__ import annotations

import argparse
import itertools
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
from artrec.recsys import ProtocolConfig, evaluate

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
    ints in [-37, 37], random coordinates grown until under 100 is left, and the rest put
    as a sum of four squares into the last four coordinates."""
    rng = np.random.default_rng(seed)
    ints = rng.integers(-37, 38, size=(n, dim))
    ints[:, -4:] = 0
    left = (1 << 20) - (ints**2).sum(axis=1)
    assert (left >= 0).all()
    rows = np.arange(n)
    while (active := rows[left >= 100]).size:
        column = rng.integers(dim - 4, size=active.size)
        value = ints[active, column]
        step = 2 * np.abs(value) + 1
        fits = step <= left[active]
        sign = np.where(value != 0, np.sign(value), rng.choice([-1, 1], size=active.size))
        ints[active[fits], column[fits]] += sign[fits]
        left[active[fits]] -= step[fits]
    squares = {}
    for a, b, c, d in itertools.product(range(10), repeat=4):
        squares.setdefault(a * a + b * b + c * c + d * d, (a, b, c, d))
    ints[:, -4:] = np.array([squares[int(v)] for v in left]) * rng.choice([-1, 1], (n, 4))
    assert ((ints**2).sum(axis=1) == 1 << 20).all()
    return (ints / 1024.0).astype(np.float32)


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
        ranking = candidates[np.lexsort((candidates, -score))]
        ranks = sorted(int(np.flatnonzero(ranking == i)[0]) + 1 for i in truth)
        rows.append(_metrics(ranks, len(candidates), k))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS), sorted(profiled)


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


def paper_scale(use_gallery: bool, work: Path) -> tuple[Dataset, EmbeddingTable]:
    if use_gallery:
        from artrec.data.gallery import ensure_gallery

        root = ensure_gallery(scale="ugallery", image_size=32)
    else:
        root = synthetic_gallery(work / "paper", 6040, 2919, 4099, seed=0)
    dataset = load_dataset(root)
    vectors = exact_unit_vectors(len(dataset.items), 2048, seed=1)
    return dataset, EmbeddingTable(item_ids=dataset.item_ids.astype(str), vectors=vectors)


def bench_paper(which: set[int], use_gallery: bool, work: Path, repeat: int) -> None:
    dataset, table = paper_scale(use_gallery, work)
    protocol = ProtocolConfig()
    (expected, profiled), slow = timed(baseline, dataset, table)
    unit = torch.nn.functional.normalize(torch.from_numpy(table.vectors), dim=1)
    index = torch.as_tensor(profiled)
    evaluate(dataset, table, protocol)  # warm-up (thread pools, caches)
    ours, floor = np.inf, np.inf
    for _ in range(repeat):  # interleaved, so that a busy moment hurts both alike
        result, seconds = timed(evaluate, dataset, table, protocol)
        ours = min(ours, seconds)
        floor = min(floor, timed(lambda: unit[index] @ unit.T)[1])
    print(
        f"paper scale: {len(dataset.items)} items, {len(dataset.transactions)} transactions,"
        f" {result.n_test_cases} test cases ({result.n_skipped} skipped), "
        f"{torch.get_num_threads()} torch threads; best of {repeat} interleaved runs"
    )
    print(f"  artrec evaluate(): {ours:.3f} s")
    if 1 in which:
        got = result.per_case[METRIC_COLUMNS].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-12, atol=1e-12)
        print(
            f"  [1] per-case numpy baseline: {slow:.3f} s -> artrec is {slow / ours:.1f}x "
            f"faster (target >= 5x: {'met' if slow / ours >= 5 else 'MISSED'}); "
            f"per-case metrics identical on {len(got)} cases"
        )
    if 2 in which:
        print(
            f"  [2] floor, one product of {len(profiled)} profile items x all items: "
            f"{floor:.3f} s -> artrec / floor = {ours / floor:.2f} "
            f"(target <= 2: {'met' if ours / floor <= 2 else 'MISSED'})"
        )


def _large_worker(root: str, embeddings: str, threads: int | None, queue) -> None:
    if threads:
        torch.set_num_threads(threads)
    dataset, table = load_dataset(root), load_embeddings(embeddings)
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result, seconds = timed(evaluate, dataset, table, ProtocolConfig(device="cpu"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((result.n_test_cases, result.n_skipped, seconds, start, peak))


def bench_large(work: Path, threads: int | None) -> None:
    root = synthetic_gallery(work / "large", 200_000, 70_000, 100_000, seed=2)
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((200_000, 256), dtype=np.float32)
    ids = pd.read_csv(root / "items.csv", dtype=str)["item_id"].to_numpy(dtype=str)
    path = save_embeddings(EmbeddingTable(item_ids=ids, vectors=vectors), work / "large.npz")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=_large_worker, args=(str(root), str(path), threads, queue))
    worker.start()
    cases, skipped, seconds, start, peak = queue.get()
    worker.join()
    print(
        f"[3] 200,000 items x 256-d, 100,000 transactions, CPU: {cases} test cases "
        f"({skipped} skipped) in {seconds:.1f} s = {cases / seconds:.0f} cases/s; peak RSS "
        f"{peak / 2**20:.2f} GB (after loading inputs: {start / 2**20:.2f} GB; "
        f"target < 4 GB: {'met' if peak < 4 * 2**20 else 'MISSED'})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="1,2,3", help="comma-separated benchmarks to run")
    parser.add_argument("--gallery", action="store_true", help="use artrec's demo gallery")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of benchmarks 1-2")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    which = {int(part) for part in args.only.split(",")}
    with tempfile.TemporaryDirectory() as work:
        if which & {1, 2}:
            bench_paper(which, args.gallery, Path(work), args.repeat)
        if 3 in which:
            bench_large(Path(work), args.threads)


if __name__ == "__main__":
    sys.exit(main())
