"""The timeline of docs/protocol.md: inventory, uniqueness, test cases, profiles, ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from recsys_testkit import run, write_dataset

from artrec.errors import EmbeddingsError
from artrec.recsys.protocol import build_timeline

SHOP_ITEMS = """
    item_id,upload_time
    a,0
    b,5
    c,
    d,0
    e,0
    p,0
"""
# u1 buys {a, p} at 1 and b at 6; u2 buys e at 2 and d at 3; u3 buys p at 4 (p: a print).
SHOP_PURCHASES = """
    user_id,item_id,time
    u1,a,1
    u1,p,1
    u2,e,2
    u2,d,3
    u3,p,4
    u1,b,6
"""


def _cases(dataset, **settings) -> dict[tuple[str, str], dict]:
    """(user, time) -> candidates, profile and ground truth of each scored case."""
    timeline = build_timeline(dataset, np.ones(len(dataset.items), bool), **settings)
    cases, stock, ids = timeline.cases, timeline.inventory, dataset.item_ids
    out = {}
    for c in range(len(cases)):
        profile = cases.profile_items[cases.profile_start[c] :][: cases.profile_size[c]]
        everything = np.arange(len(ids))
        candidates = everything[stock.in_stock(everything, cases.time[c])]
        if settings.get("exclude_consumed", True):
            candidates = np.setdiff1d(candidates, profile)
        truth = cases.relevant_items[cases.relevant_offsets[c] : cases.relevant_offsets[c + 1]]
        out[(cases.user_id[c], cases.time_raw[c])] = {
            "candidates": set(ids[candidates]),
            "profile": set(ids[profile]),
            "truth": set(ids[truth]),
        }
    return out


def test_inventory_over_time_uploads_sales_and_prints(tmp_path):
    cases = _cases(write_dataset(tmp_path, SHOP_ITEMS, SHOP_PURCHASES))
    # u2 at 3: a sold at 1, b not uploaded until 5, e sold at 2; d sold at 3 is still in
    # stock at 3; p (bought twice) is a print; c has no upload time.
    assert cases[("u2", "3")] == {"candidates": {"c", "d", "p"}, "profile": {"e"}, "truth": {"d"}}
    # u1 at 6: d is gone (sold at 3); a and p are in u1's profile.
    assert cases[("u1", "6")] == {"candidates": {"b", "c"}, "profile": {"a", "p"}, "truth": {"b"}}
    # u3's only transaction and every user's first transaction are not test cases.
    assert set(cases) == {("u2", "3"), ("u1", "6")}


def test_exclude_consumed_false_keeps_profile_items_in_stock(tmp_path):
    cases = _cases(write_dataset(tmp_path, SHOP_ITEMS, SHOP_PURCHASES), exclude_consumed=False)
    assert cases[("u1", "6")]["candidates"] == {"b", "c", "p"}  # the print p stays a candidate
    result = run(
        write_dataset(tmp_path, SHOP_ITEMS, SHOP_PURCHASES),
        {i: [1.0, 0.0] for i in "abcdep"},
        exclude_consumed=False,
    )
    assert result.per_case["n_candidates"].tolist() == [3, 3]


@pytest.mark.parametrize(
    ("rule", "at_3", "at_6"),
    [
        ("none", {"a", "c", "d", "p"}, {"b", "c", "d", "e"}),  # nothing ever leaves
        ("all", {"c", "d"}, {"b", "c"}),  # the print p leaves after its first sale at 1
    ],
)
def test_unique_items_all_and_none(tmp_path, rule, at_3, at_6):
    cases = _cases(write_dataset(tmp_path, SHOP_ITEMS, SHOP_PURCHASES), unique_items=rule)
    assert cases[("u2", "3")]["candidates"] == at_3
    assert cases[("u1", "6")]["candidates"] == at_6


def test_unique_column_wins_and_empty_cells_fall_back_to_bought_once(tmp_path):
    items = SHOP_ITEMS.replace("item_id,upload_time", "item_id,upload_time,unique")
    items = items.replace("a,0", "a,0,false").replace("p,0", "p,0,true")
    items = "\n".join(
        line if line.count(",") == 2 else line + "," for line in items.strip().splitlines()
    )
    cases = _cases(write_dataset(tmp_path, items, SHOP_PURCHASES))
    # a is declared not unique (stays after its sale at 1); p declared unique (leaves after
    # 1); d and e have empty cells: bought once, so unique.
    assert cases[("u2", "3")]["candidates"] == {"a", "c", "d"}
    assert cases[("u1", "6")]["candidates"] == {"b", "c"}


def test_same_time_transactions_do_not_see_each_other(tmp_path):
    dataset = write_dataset(
        tmp_path,
        "item_id,upload_time,unique\na,0,true\nb,0,true\nc,0,true\nd,0,true\ne,0,true",
        """
        user_id,item_id,time
        u1,a,1
        u2,b,1
        u1,c,5
        u2,c,5
        u3,e,2
        u3,d,6
        """,
    )
    cases = _cases(dataset)
    # u1 and u2 both buy the unique c at 5: each still finds it in stock.
    assert cases[("u1", "5")] == {"candidates": {"c", "d"}, "profile": {"a"}, "truth": {"c"}}
    assert cases[("u2", "5")] == {"candidates": {"c", "d"}, "profile": {"b"}, "truth": {"c"}}
    # At 6, c is gone: it was bought at 5 < 6.
    assert cases[("u3", "6")]["candidates"] == {"d"}


def test_min_profile_counts_distinct_earlier_items(tmp_path):
    dataset = write_dataset(
        tmp_path,
        "item_id\na\nb\nc\nd",
        "user_id,item_id,time\nu,a,1\nu,b,2\nu,c,3\nu,d,4\nv,a,1\nv,c,5",
        # a and c are bought twice: prints; u's profile grows a, ab, abc.
    )
    assert set(_cases(dataset, min_profile=1)) == {("u", "2"), ("u", "3"), ("u", "4"), ("v", "5")}
    assert set(_cases(dataset, min_profile=2)) == {("u", "3"), ("u", "4")}
    assert _cases(dataset, min_profile=3)[("u", "4")]["profile"] == {"a", "b", "c"}


def test_ground_truth_next_future_and_skipped_cases(tmp_path):
    dataset = write_dataset(
        tmp_path,
        "item_id,upload_time\na,0\nb,0\nc,0\nd,9\ne,0",
        """
        user_id,item_id,time
        u,a,1
        u,b,2
        u,c,3
        u,d,10
        w,e,1
        v,e,4
        v,b,5
        """,
    )
    # u at 2: next = {b}; future = {b, c} (d is not uploaded until 9, so not a candidate).
    assert _cases(dataset)[("u", "2")]["truth"] == {"b"}
    assert _cases(dataset, ground_truth="future")[("u", "2")]["truth"] == {"b", "c"}
    assert _cases(dataset, ground_truth="future")[("u", "3")]["truth"] == {"c"}
    # With every item unique, v at 5 buys b, which u bought at 2: G is empty, v's case is
    # skipped (under "auto" b is a print, bought twice, and v's case counts).
    timeline = build_timeline(dataset, np.ones(5, bool), unique_items="all")
    assert (timeline.n_skipped, len(timeline.cases)) == (1, 3)
    assert build_timeline(dataset, np.ones(5, bool)).n_skipped == 0
    result = run(dataset, {i: [1.0, 0.0] for i in "abcde"}, unique_items="all")
    assert (result.n_skipped, result.n_test_cases, result.n_users) == (1, 3, 1)


def test_missing_embeddings_error_names_the_needed_items_only(tmp_path):
    dataset = write_dataset(
        tmp_path,
        "item_id,upload_time\na,0\nb,0\nc,0\nlate,100",
        "user_id,item_id,time\nu,a,1\nu,b,2\nv,c,0",
    )
    vectors = {"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [1.0, 1.0], "late": [1.0, 0.0]}
    no_b = {key: value for key, value in vectors.items() if key != "b"}
    with pytest.raises(EmbeddingsError, match=r"1 item\(s\) the protocol needs .*'b'"):
        run(dataset, no_b)
    # 'late' is never in stock at a test time and in no profile: not needed.
    no_late = {key: value for key, value in vectors.items() if key != "late"}
    assert run(dataset, no_late).n_dropped_items == 0


def test_missing_embeddings_drop(tmp_path):
    dataset = write_dataset(
        tmp_path,
        "item_id\na\nb\nc\nd\ne",
        "user_id,item_id,time\nu,a,1\nu,c,2\nv,b,1\nv,e,2\nw,d,1\nw,c,3",
    )
    vectors = {"a": [1.0, 0.0], "c": [1.0, 0.0], "d": [0.0, 1.0], "e": [1.0, 1.0]}
    result = run(dataset, vectors, missing_embeddings="drop", unique_items="none")
    # b is dropped: v's profile is left empty, so v's case is skipped. u at 2 ranks c among
    # {c, d, e} (cosines to a: 1, 0, .7); w at 3 ranks c among {a, c, e} (cosines to d:
    # 0, 0, .7): behind e, and behind a, which ties with c and comes first in items.csv.
    assert result.n_dropped_items == 1
    assert result.n_skipped == 1
    assert result.per_case[["user_id", "n_candidates", "first_rank"]].values.tolist() == [
        ["u", 3, 1],
        ["w", 3, 3],
    ]
