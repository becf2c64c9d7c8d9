"""Top-k lists and recommendation galleries rank exactly as the protocol does."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
from recsys_testkit import exact_vectors, random_shop, table, write_dataset
from report_testkit import make_gallery, vectors

from artrec.recsys.config import ProtocolConfig
from artrec.recsys.evaluate import evaluate
from artrec.recsys.metrics import METRICS, RankedCases, case_metrics
from artrec.recsys.topk import Recommender
from artrec.reporting import galleries
from artrec.reporting.galleries import render_galleries, sample_cases


def _literal_top(dataset, vectors_by_id, case_user, case_time, k):
    """docs/protocol.md, rules 2-8, written out for one case (default settings, max
    aggregation, every item bought once, so unique): candidates in stock minus the profile,
    by the largest cosine to a profile item, ties to the earlier items.csv row."""
    items = dataset.items
    unit = np.array([vectors_by_id[i] for i in items["item_id"]], dtype=np.float64)
    unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-300)
    bought = dataset.purchases
    first_sale = bought.groupby("item_idx")["time"].min()
    sold = [i for i, t in first_sale.items() if t < case_time]
    profile = bought[(bought.user_id == case_user) & (bought.time < case_time)]["item_idx"]
    upload = items["upload_time"].to_numpy(float)
    candidates = [
        i
        for i in range(len(items))
        if not upload[i] > case_time and i not in sold and i not in set(profile)
    ]
    scores = (unit[candidates] @ unit[sorted(set(profile))].T).max(axis=1)
    order = np.lexsort((candidates, -scores))
    return [candidates[j] for j in order[:k]]


def test_top_k_is_the_literal_ranking_with_ties(tmp_path):
    # Every cosine is a multiple of 1/4: ties everywhere, broken by items.csv order.
    items = "item_id,upload_time\n" + "\n".join(f"i{i},{i % 3}" for i in range(12))
    purchases = (
        "user_id,item_id,time\nA,i0,3\nA,i5,4\nA,i7,6\nB,i1,3\nB,i2,5\nB,i9,7\nC,i3,4\nC,i4,6"
    )
    dataset = write_dataset(tmp_path, items, purchases)
    by_id = exact_vectors([f"i{i}" for i in range(12)], seed=3)
    recommender = Recommender(dataset, table(by_id), ProtocolConfig(k=5))
    cases = recommender.cases
    listed = recommender.top_k(range(len(cases)))
    assert len(listed) == len(cases) == 5
    for case in listed:
        time = float(case.time)
        assert case.recommended.tolist() == _literal_top(dataset, by_id, case.user_id, time, 5)


@pytest.mark.parametrize("aggregation", ["max", "mean", "topk_mean"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_from_the_top_k_equal_evaluate(tmp_path, seed, aggregation):
    dataset = random_shop(tmp_path, seed=seed)
    embeddings = table(exact_vectors(dataset.item_ids.tolist(), seed=seed))
    protocol = ProtocolConfig(k=3, aggregation=aggregation, chunk_size=2)
    per_case = evaluate(dataset, embeddings, protocol).per_case
    listed = Recommender(dataset, embeddings, protocol).top_k(range(len(per_case))[::-1])[::-1]
    ranks = RankedCases(
        n=np.array([case.n_candidates for case in listed]),
        ranks=np.concatenate([case.relevant_ranks for case in listed] or [np.zeros(0, int)]),
        offsets=np.cumsum([0] + [len(case.relevant) for case in listed]),
    )
    again = pd.DataFrame(case_metrics(ranks, 3, "standard"))
    pd.testing.assert_frame_equal(
        again[["first_rank", *METRICS]], per_case[["first_rank", *METRICS]], check_dtype=False
    )
    for case in listed:
        top = case.relevant_ranks[case.relevant_ranks <= 3]
        assert case.recommended[top - 1].tolist() == case.relevant[: len(top)].tolist()
        assert case.hits.sum() == len(top)
        assert not set(case.recommended) & set(case.profile)


def test_galleries_show_profile_top_k_and_mark_the_bought_items(tmp_path):
    dataset = make_gallery(tmp_path)
    embeddings = vectors(dataset, noise=0.5, seed=0)
    protocol = ProtocolConfig(k=10)
    per_case = evaluate(dataset, embeddings, protocol).per_case
    shown = render_galleries(dataset, embeddings, protocol, n_cases=3, seed=5)
    chosen = sample_cases(len(per_case), 3, seed=5)
    assert len(shown) == 3
    listed = Recommender(dataset, embeddings, protocol).top_k(chosen)
    for (caption, image), case, row in zip(shown, listed, chosen, strict=True):
        expected = per_case.iloc[row]
        when = datetime.fromtimestamp(float(expected["time"]), tz=timezone.utc)
        assert f"user {expected['user_id']} on {when:%Y-%m-%d %H:%M} UTC:" in caption
        assert f"rank {expected['first_rank']})" in caption
        assert f"top 10 of {expected['n_candidates']} items" in caption
        # Each recommended cell's frame: thick green where bought, else thin grey. The top k
        # start below the profile's title and single row, and the top k's title.
        row = galleries.THUMB + 2 * galleries.FRAME + galleries.LABEL_HEIGHT
        top = galleries.PAD + 2 * galleries.LABEL_HEIGHT + row
        for index, hit in enumerate(case.hits):
            x = galleries.PAD + (index % galleries.PER_ROW) * (
                row - galleries.LABEL_HEIGHT + galleries.PAD
            )
            y = top + (index // galleries.PER_ROW) * row + galleries.THUMB // 2
            assert image.getpixel((x + 1, y)) == (galleries.HIT if hit else galleries.BACKGROUND)
        assert case.hits.any() == (expected["first_rank"] <= 10)


def test_sample_cases_is_seeded_and_bounded():
    assert sample_cases(100, 4, 0).tolist() == sample_cases(100, 4, 0).tolist()
    assert sample_cases(3, 10, 0).tolist() == [0, 1, 2]
    assert len(set(sample_cases(50, 7, 1))) == 7


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("1413194148", "2014-10-13 09:55 UTC"),  # Unix seconds, as UGallery writes them
        ("2014-07-03T07:07:27", "2014-07-03 07:07 UTC"),  # naive ISO-8601 is UTC
        ("2014-07-03T07:07:27+02:00", "2014-07-03 05:07 UTC"),
        ("12", "12"),  # a sequence number, not a date
        ("3.5", "3.5"),
    ],
)
def test_purchase_times_read_as_dates(raw, shown):
    assert galleries.readable_time(raw) == shown


def _timeline(tmp_path):
    """U buys one item at each time 0..9, V at 0 and 8: 10 test cases, at 1..8, 8 (V), 9.
    With split=time (0.2 and 0.2): the test period is 8 (U), 8 (V), 9 (round(2) cases from
    the end, and the other case at 8), the validation period 6, 7; 1..5 are in neither."""
    items = "item_id,unique\n" + "\n".join(f"{i},true" for i in [*range(10), "v0", "v8"])
    purchases = ["user_id,item_id,time", *(f"U,{t},{t}" for t in range(10)), "V,v0,0", "V,v8,8"]
    dataset = write_dataset(tmp_path, items, "\n".join(purchases))
    return dataset, table(exact_vectors(list(dataset.item_ids), seed=1))


def _shown(dataset, embeddings, protocol, n_cases, seed=0) -> list[tuple[str, str]]:
    pictures = render_galleries(dataset, embeddings, protocol, n_cases=n_cases, seed=seed)
    return [re.match(r"user (\w+) at time (\d+):", caption).groups() for caption, _ in pictures]


def test_galleries_under_split_time_sample_the_test_period_only(tmp_path):
    dataset, embeddings = _timeline(tmp_path)
    protocol = ProtocolConfig(split="time")
    tested = [("U", "8"), ("V", "8"), ("U", "9")]
    per_case = evaluate(dataset, embeddings, protocol).per_case
    assert list(zip(per_case["user_id"], per_case["time"], strict=True)) == tested
    # Asked for more cases than there are: every test-period case, and no other.
    assert _shown(dataset, embeddings, protocol, n_cases=20) == tested
    # Drawn from all 10 cases, seed 0 would pick the 7th and 8th: U at 7 is validation's.
    assert sample_cases(10, 2, seed=0).tolist() == [6, 7]
    for seed in range(5):
        assert set(_shown(dataset, embeddings, protocol, 2, seed)) <= set(tested)
    # split=none: every test case, as before.
    whole = _shown(dataset, embeddings, ProtocolConfig(), n_cases=20)
    assert whole == [*(("U", str(t)) for t in range(1, 8)), *tested]
