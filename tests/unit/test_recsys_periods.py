"""protocol.split=time: cut positions, whole baskets, profiles across periods, each period's
metrics equal to the protocol run on that period's cases alone; split=none unchanged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from recsys_testkit import exact_vectors, random_shop, run, table, write_dataset

from artrec.errors import ConfigError
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.evaluate import evaluate
from artrec.recsys.metrics import METRICS, metric_key
from artrec.recsys.result import PER_CASE_COLUMNS, write_result

GOLDEN = Path(__file__).parent / "golden" / "split_none"


def _line(tmp_path: Path, v_time: int = 9):
    """U buys one item at each time 0..10 (two at 9), V at 0 and at ``v_time``: 11 test
    cases, at times 1..8, 9 (U), ``v_time`` (V), 10."""
    items = ["item_id,unique"] + [f"u{t},true" for t in range(11)] + ["w,true", "v0,true"]
    purchases = ["user_id,item_id,time"] + [f"U,u{t},{t}" for t in range(11)]
    purchases += ["U,w,9", "V,v0,0", f"V,v1,{v_time}"]
    items.append("v1,true")
    dataset = write_dataset(tmp_path, "\n".join(items), "\n".join(purchases))
    return dataset, exact_vectors(list(dataset.items["item_id"]), seed=3)


def _shares(result) -> dict[str, list[str]]:
    rows = result.per_case_rows()
    return {p: rows.loc[rows.period == p, "time"].tolist() for p in ("val", "test")}


def test_cut_positions_by_hand(tmp_path):
    dataset, vectors = _line(tmp_path, v_time=5)
    result = run(dataset, vectors, split="time")
    # 11 cases (1,2,3,4,5,5,6,7,8,9,10): round(2.2) = 2 each: test 9,10; validation 7,8.
    assert _shares(result) == {"val": ["7", "8"], "test": ["9", "10"]}
    assert result.cuts == {"val_start": "7", "test_start": "9"}
    result = run(dataset, vectors, split="time", val_fraction=0.5, test_fraction=0.1)
    # test: round(1.1) = 1 case (10); validation: round(5.5) = 6 cases before it.
    assert _shares(result) == {"val": ["5", "5", "6", "7", "8", "9"], "test": ["10"]}


def test_a_cut_never_separates_transactions_of_one_time(tmp_path):
    dataset, vectors = _line(tmp_path, v_time=9)
    result = run(dataset, vectors, split="time")
    # cases 1..8, 9 (U), 9 (V), 10: the 2nd case from the end is at 9, so both 9s are tested;
    # the validation period takes the 2 cases before them.
    assert _shares(result) == {"val": ["7", "8"], "test": ["9", "9", "10"]}
    assert result.cuts == {"val_start": "7", "test_start": "9"}
    basket = result.per_case.query("user_id == 'U' and time == '9'")
    assert basket["n_relevant"].tolist() == [2]  # U's basket at 9 (u9 and w) stays whole


def test_profiles_reach_back_before_the_periods(tmp_path):
    dataset, vectors = _line(tmp_path, v_time=9)
    split = run(dataset, vectors, split="time")
    whole = run(dataset, vectors)
    # V's test case at 9 has v0 (bought at 0, before any period) as its profile, and U's
    # cases their whole history: the same ranks as in the unsplit protocol.
    tested = whole.per_case[whole.per_case["time"].isin(["9", "10"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(split.per_case, tested)


def _period_means(frame: pd.DataFrame, k: int) -> dict[str, float]:
    return {metric_key(name, k): float(frame[name].mean()) for name in METRICS}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_period_equals_the_protocol_on_its_cases_alone(tmp_path, seed):
    dataset = random_shop(tmp_path / "all", seed, n_items=30, n_users=6, n_purchases=80)
    vectors = exact_vectors(list(dataset.items["item_id"]), seed)
    settings = {"k": 5, "unique_items": "all"}
    result = run(dataset, vectors, split="time", **settings)
    test_start, val_start = float(result.cuts["test_start"]), float(result.cuts["val_start"])
    # test period: the unsplit run's cases from the test period's start on
    whole = run(dataset, vectors, **settings)
    tested = whole.per_case[whole.per_case["time"].astype(float) >= test_start]
    pd.testing.assert_frame_equal(result.per_case, tested.reset_index(drop=True))
    assert result.metrics == pytest.approx(_period_means(tested, 5), nan_ok=True)
    # validation: the unsplit run of the purchases before the test period, from its start on
    purchases = dataset.purchases[dataset.purchases["time"] < test_start]
    lines = [f"{r.user_id},{r.item_id},{r.time_raw}" for r in purchases.itertuples()]
    items = (tmp_path / "all" / "items.csv").read_text()
    early = write_dataset(tmp_path / "early", items, "user_id,item_id,time\n" + "\n".join(lines))
    before = run(early, vectors, **settings)
    validated = before.per_case[before.per_case["time"].astype(float) >= val_start]
    pd.testing.assert_frame_equal(result.val.per_case, validated.reset_index(drop=True))
    assert result.val.metrics == pytest.approx(_period_means(validated, 5), nan_ok=True)
    random = before.random_per_case[before.per_case["time"].astype(float) >= val_start]
    assert result.val.random == pytest.approx(_period_means(random, 5), nan_ok=True)
    assert result.n_test_cases + result.val.n_test_cases < whole.n_test_cases


def test_metrics_json_and_per_case_csv_carry_both_periods(tmp_path):
    dataset, vectors = _line(tmp_path / "data", v_time=9)
    result = run(dataset, vectors, split="time", k=2)
    write_result(result, tmp_path / "out", "emb.npz", "data")
    payload = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert payload["split"] == {"val_start": "7", "test_start": "9"}
    assert payload["n_test_cases"] == 3 and payload["val"]["n_test_cases"] == 2
    assert payload["metrics"] == pytest.approx(result.metrics)
    assert payload["val"]["metrics"] == pytest.approx(result.val.metrics)
    assert payload["val"]["random"]["recall@2"] == pytest.approx(
        result.val.random_per_case["recall"].mean()
    )
    assert payload["protocol"]["split"] == "time" and payload["protocol"]["val_fraction"] == 0.2
    assert result.logged_metrics()["val/recall@2"] == payload["val"]["metrics"]["recall@2"]
    assert result.logged_metrics()["test/recall@2"] == payload["metrics"]["recall@2"]
    rows = pd.read_csv(tmp_path / "out" / "per_case.csv", dtype={"time": str})
    assert list(rows.columns) == [*PER_CASE_COLUMNS, "period"]
    assert rows["period"].tolist() == ["val", "val", "test", "test", "test"]
    assert rows["time"].tolist() == ["7", "8", "9", "9", "10"]


def test_split_none_writes_what_it_always_wrote(tmp_path):
    """Golden files written by the protocol before the split existed (same shop, k=5)."""
    dataset = random_shop(tmp_path / "shop", seed=7, n_items=40, n_users=8, n_purchases=90)
    vectors = exact_vectors(list(dataset.items["item_id"]), seed=7)
    result = evaluate(dataset, table(vectors), ProtocolConfig(k=5, missing_embeddings="drop"))
    write_result(result, tmp_path, "emb.npz", "shop")
    for name in ("metrics.json", "per_case.csv"):
        assert (tmp_path / name).read_bytes() == (GOLDEN / name).read_bytes(), name
    assert result.logged_metrics() == result.metrics


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"val_fraction": 0}, "protocol.val_fraction=0: must be a number in (0, 1)"),
        ({"test_fraction": 1.5}, "protocol.test_fraction=1.5: must be a number in (0, 1)"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, "exceed 1"),
        ({"split": "random"}, "protocol.split='random': use one of ['none', 'time']"),
    ],
)
def test_bad_split_settings_name_the_key(settings, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        ProtocolConfig(**settings)


def test_an_empty_validation_period_is_refused(tmp_path):
    dataset = write_dataset(
        tmp_path, "item_id\na\nb\nc", "user_id,item_id,time\nU,a,0\nU,b,1\nV,a,0\nV,c,1"
    )
    with pytest.raises(ConfigError, match="the validation period holds no test case"):
        run(dataset, {"a": [1, 0], "b": [0, 1], "c": [1, 1]}, split="time")
