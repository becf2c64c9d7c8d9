"""Scores and ranks (docs/protocol.md, rules 7-8): aggregations, ties, zero vectors,
batching, invariance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from recsys_testkit import exact_vectors, random_shop, reference, run, table, write_dataset

from artrec.errors import DatasetError
from artrec.recsys import scoring
from artrec.recsys.aggregations import AGGREGATIONS
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.evaluate import evaluate
from artrec.recsys.metrics import RankedCases, case_metrics
from artrec.recsys.scoring import unit_vectors

R = 1 / np.sqrt(2)
S = 1 / np.sqrt(3)


def _three_buyers(tmp_path):
    """Three users each buy the profile {p1, p2, p3} (unit axes) at 1; then ux buys x,
    uy buys y and uz buys z. Every item is a print, so each case ranks {x, y, z}."""
    rows = ["user_id,item_id,time"]
    for user, item, time in (("ux", "x", 2), ("uy", "y", 3), ("uz", "z", 4)):
        rows += [f"{user},p{j},1" for j in (1, 2, 3)] + [f"{user},{item},{time}"]
    items = "item_id,unique\np1,false\np2,false\np3,false\nx,false\ny,false\nz,false"
    vectors = {
        "p1": [1, 0, 0],
        "p2": [0, 1, 0],
        "p3": [0, 0, 1],
        "x": [1, 0, 0],
        "y": [1, 1, 0],
        "z": [1, 1, 1],
    }
    return write_dataset(tmp_path, items, "\n".join(rows)), vectors


# Cosines to (p1, p2, p3): x (1, 0, 0), y (R, R, 0), z (S, S, S).
# max: x 1 > y .71 > z .58; mean: z .58 > y .47 > x .33; top-2 mean: y .71 > z .58 > x .5.
@pytest.mark.parametrize(
    ("settings", "ranks"),
    [
        ({"aggregation": "max"}, [1, 2, 3]),
        ({"aggregation": "mean"}, [3, 2, 1]),
        ({"aggregation": "topk_mean", "topk": 2}, [3, 1, 2]),
        ({"aggregation": "topk_mean", "topk": 1}, [1, 2, 3]),  # = max
        ({"aggregation": "topk_mean", "topk": 5}, [3, 2, 1]),  # profile smaller: = mean
    ],
)
def test_aggregations_rank_by_hand(tmp_path, settings, ranks):
    dataset, vectors = _three_buyers(tmp_path)
    result = run(dataset, vectors, **settings)
    assert result.per_case["user_id"].tolist() == ["ux", "uy", "uz"]
    assert result.per_case["n_candidates"].tolist() == [3, 3, 3]
    assert result.per_case["first_rank"].tolist() == ranks


@pytest.mark.parametrize("name", list(AGGREGATIONS))
def test_aggregation_updates_and_scan_equal_the_direct_formula(name):
    """Sims folded in two updates (a case repeated within one), then case 1 folded into
    case 2 (the scan over a user's cases), equal max / mean / top-3 mean of the rows."""
    rng = np.random.default_rng(0)
    sims = torch.as_tensor(rng.uniform(-1, 1, size=(6, 7)), dtype=torch.float32)
    owner = torch.tensor([1, 0, 0, 1, 0, 2])
    aggregate = AGGREGATIONS[name](3)
    state = torch.full(aggregate.shape(3, 7), aggregate.start)
    aggregate.update(state, owner[:2], sims[:2])
    aggregate.update(state, owner[2:], sims[2:])
    aggregate.fold(state, 2)
    got = aggregate.scores(state, torch.tensor([3, 2, 3])).numpy()
    for row, members in enumerate(([1, 2, 4], [0, 3], [0, 3, 5])):
        values = np.sort(sims.numpy()[members], axis=0)[::-1]
        expected = {"max": values[0], "mean": values.mean(0), "topk_mean": values[:3].mean(0)}
        np.testing.assert_allclose(got[row], expected[name], rtol=1e-6)


def test_ties_follow_items_csv_order_and_zero_vectors_score_zero(tmp_path):
    purchases = "user_id,item_id,time\nu,q,1\nu,z1,2"
    vectors = {"q": [1, 0], "z1": [0, 0], "z2": [0, 0], "t": [-1, 0]}
    # Candidates z2, z1 (both cosine 0: zero vectors) and t (cosine -1).
    first = write_dataset(tmp_path / "a", "item_id,unique\nq,\nz2,\nz1,\nt,", purchases)
    assert run(first, vectors).per_case["first_rank"].tolist() == [2]
    second = write_dataset(tmp_path / "b", "item_id,unique\nq,\nz1,\nz2,\nt,", purchases)
    assert run(second, vectors).per_case["first_rank"].tolist() == [1]
    assert run(second, vectors).per_case["auc"].tolist() == [1.0]


def test_unit_vectors_match_by_id_and_keep_zero_rows_zero():
    embeddings = table({"b": [3, 4], "a": [0, 0], "x": [1, 1]})
    embeddings = type(embeddings)(embeddings.item_ids, embeddings.vectors.astype(np.float16))
    unit, present = unit_vectors(embeddings, np.array(["a", "c", "b"]), "cpu")
    np.testing.assert_allclose(unit.numpy(), [[0, 0], [0, 0], [0.6, 0.8]], rtol=1e-6)
    assert unit.dtype == torch.float32 and present.tolist() == [True, False, True]
    assert embeddings.vectors[0].tolist() == [3, 4]  # the table is left as it was


def _agree(result, expected: pd.DataFrame, k: int) -> None:
    got = result.per_case
    assert (
        got[["user_id", "time", "n_candidates"]].values.tolist()
        == expected[["user_id", "time", "n_candidates"]].values.tolist()
    )
    ranks = [np.asarray(r) for r in expected["ranks"]]
    cases = RankedCases(
        n=expected["n_candidates"].to_numpy(),
        ranks=np.concatenate(ranks) if ranks else np.zeros(0, int),
        offsets=np.concatenate([[0], np.cumsum([len(r) for r in ranks])]).astype(int),
    )
    want = case_metrics(cases, k, "standard")
    for name in ("first_rank", "recall", "map", "ndcg", "auc"):
        np.testing.assert_allclose(got[name].to_numpy(float), want[name], rtol=1e-12, err_msg=name)


SETTINGS = [
    {},
    {"aggregation": "mean", "chunk_size": 1},
    {"aggregation": "topk_mean", "topk": 2, "chunk_size": 2},
    {"ground_truth": "future", "chunk_size": 3, "k": 3},
    {"exclude_consumed": False, "unique_items": "none", "aggregation": "topk_mean"},
    {"unique_items": "all", "min_profile": 2, "chunk_size": 1, "aggregation": "max"},
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("settings", SETTINGS)
def test_matches_a_literal_reference_on_random_shops(tmp_path, seed, settings):
    """Batched, incremental, counted ranks equal a per-case full sort of docs/protocol.md,
    exactly (cosines are multiples of 1/4, so ties are frequent and exact)."""
    dataset = random_shop(tmp_path, seed)
    vectors = exact_vectors(dataset.item_ids.tolist(), seed)
    expected = reference(dataset, vectors, **settings)
    if not len(expected):  # no test case: an error saying why, not null metrics
        with pytest.raises(DatasetError, match="no test case exists"):
            run(dataset, vectors, **settings)
        return
    result = run(dataset, vectors, **settings)
    assert result.n_test_cases == len(expected)
    _agree(result, expected, ProtocolConfig(**settings).k)


def test_shuffled_purchases_and_embeddings_change_nothing(tmp_path):
    dataset = random_shop(tmp_path / "a", seed=12, n_items=20, n_users=6)
    vectors = exact_vectors(dataset.item_ids.tolist(), seed=3)
    base = run(dataset, vectors, aggregation="mean")
    assert (base.n_test_cases, base.n_skipped) == (9, 4)
    lines = (tmp_path / "a" / "purchases.csv").read_text().splitlines()
    rng = np.random.default_rng(0)
    shuffled = [lines[0], *(lines[1:][i] for i in rng.permutation(len(lines) - 1))]
    items = (tmp_path / "a" / "items.csv").read_text()
    other = write_dataset(tmp_path / "b", items, "\n".join(shuffled))
    reordered = dict(reversed(list(vectors.items())))
    again = evaluate(other, table(reordered), ProtocolConfig(aggregation="mean"))
    pd.testing.assert_frame_equal(base.per_case, again.per_case)
    assert base.metrics == again.metrics and base.random == again.random


def test_ids_007_and_7_stay_distinct(tmp_path):
    dataset = write_dataset(
        tmp_path,
        "item_id,unique\n7,false\n007,false\n7.0,false\nq,false",
        "user_id,item_id,time\n01,q,1\n01,007,2\n1,q,1\n1,7,2",
    )
    vectors = {"007": [0, 1], "7.0": [1, 1], "q": [1, 0], "7": [1, 0]}
    result = run(dataset, vectors)
    # Cosines to q: 7 -> 1, 7.0 -> .71, 007 -> 0. User "01" bought 007, user "1" bought 7.
    assert result.per_case[["user_id", "first_rank"]].values.tolist() == [["01", 3], ["1", 1]]
    assert result.n_users == 2


@pytest.mark.parametrize("settings", SETTINGS)
def test_row_chunks_of_one_change_nothing(tmp_path, monkeypatch, settings):
    """With chunks of a single row (as for very large catalogues), results are the same."""
    monkeypatch.setattr(scoring, "CHUNK_ELEMENTS", 1)
    for seed in (0, 1):
        dataset = random_shop(tmp_path / str(seed), seed)
        vectors = exact_vectors(dataset.item_ids.tolist(), seed)
        _agree(
            run(dataset, vectors, **settings),
            reference(dataset, vectors, **settings),
            ProtocolConfig(**settings).k,
        )
