"""evaluate(): averages, the random baseline, settings, and the files of docs/outputs.md."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from recsys_testkit import exact_vectors, random_shop, run, table, write_dataset

from artrec.embeddings import EmbeddingTable
from artrec.errors import ConfigError, DatasetError, EmbeddingsError
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.evaluate import evaluate
from artrec.recsys.result import PER_CASE_COLUMNS, sampled_random_per_case, write_result

VECTORS = {"q": [1, 0], "x": [1, 0], "y": [-1, 0], "z": [0, 1]}
VECTORS_AB = {"a": [1, 0], "b": [0, 1]}


def _two_users(tmp_path, times=("1", "2", "3", "4"), user_a="A"):
    """A buys q, then x (ranked 1st of x, z, y), then y (2nd of z, y); B buys q, then x."""
    t1, t2, t3, t4 = times
    return write_dataset(
        tmp_path,
        "item_id,unique\nq,false\nx,false\ny,false\nz,false",
        f"user_id,item_id,time\n{user_a},q,{t1}\n{user_a},x,{t2}\n{user_a},y,{t3}\n"
        f"B,q,{t1}\nB,x,{t4}",
    )


def test_per_case_and_per_user_averages_by_hand(tmp_path):
    result = run(_two_users(tmp_path), VECTORS, k=1)
    frame = result.per_case
    assert list(frame.columns) == list(PER_CASE_COLUMNS)
    counts = frame[["user_id", "time", "n_candidates", "n_relevant", "first_rank"]]
    assert counts.values.tolist() == [["A", "2", 3, 1, 1], ["A", "3", 2, 1, 2], ["B", "4", 3, 1, 1]]
    assert (result.n_test_cases, result.n_users, result.n_skipped) == (3, 2, 0)
    assert result.metrics["recall@1"] == pytest.approx(2 / 3)
    assert result.metrics_by_user["recall@1"] == pytest.approx((1 / 2 + 1) / 2)
    assert result.metrics["mrr@1"] == pytest.approx(2 / 3)
    assert result.metrics["auc"] == pytest.approx(2 / 3)
    assert result.metrics_by_user["auc"] == pytest.approx(0.75)
    # Random: recall@1 = 1/n per case, n = 3, 2, 3.
    assert result.random["recall@1"] == pytest.approx((1 / 3 + 1 / 2 + 1 / 3) / 3)
    assert result.random_by_user["recall@1"] == pytest.approx(((1 / 3 + 1 / 2) / 2 + 1 / 3) / 2)
    assert result.random["auc"] == 0.5
    assert result.random_per_case["first_rank"].tolist() == pytest.approx([2, 1.5, 2])
    assert list(result.metrics) == [
        "recall@1",
        "precision@1",
        "f1@1",
        "map@1",
        "mrr@1",
        "ndcg@1",
        "auc",
    ]


def test_paper_variant_changes_only_map_and_ndcg(tmp_path):
    dataset = random_shop(tmp_path, seed=1)
    vectors = exact_vectors(dataset.item_ids.tolist(), seed=1)
    standard, paper = run(dataset, vectors, k=3), run(dataset, vectors, k=3, variant="paper")
    for name in ("recall", "precision", "f1", "mrr", "auc", "first_rank"):
        assert standard.per_case[name].equals(paper.per_case[name])
    hits = standard.per_case["recall"] * standard.per_case["n_relevant"]
    # The paper's MAP@3 is the mean of P@1, P@2 and P@3 of the same rankings.
    precisions = [run(dataset, vectors, k=i).per_case["precision"] for i in (1, 2, 3)]
    np.testing.assert_allclose(paper.per_case["map"], np.mean(precisions, axis=0), rtol=1e-12)
    assert ((paper.per_case["ndcg"] >= standard.per_case["ndcg"] - 1e-12) | (hits == 0)).all()


def test_write_result_matches_spec_section_5(tmp_path):
    times = (
        "2014-07-03T07:07:27",
        "2014-07-04T00:00:00",
        "2014-07-05T00:00:00",
        "2014-07-06T00:00:00",
    )
    result = run(_two_users(tmp_path / "data", times, user_a="007"), VECTORS)
    metrics_path, per_case_path = write_result(result, tmp_path / "out", "emb.npz", "ROOT")
    payload = json.loads(metrics_path.read_text())
    assert list(payload) == [
        "k",
        "n_test_cases",
        "n_users",
        "n_skipped",
        "metrics",
        "metrics_by_user",
        "random",
        "protocol",
        "embeddings",
        "dataset",
        "n_dropped_items",
        "random_by_user",
    ]
    assert (payload["k"], payload["n_test_cases"], payload["embeddings"], payload["dataset"]) == (
        20,
        3,
        "emb.npz",
        "ROOT",
    )
    for key in ("metrics", "metrics_by_user", "random", "random_by_user"):
        assert list(payload[key]) == [
            "recall@20",
            "precision@20",
            "f1@20",
            "map@20",
            "mrr@20",
            "ndcg@20",
            "auc",
        ]
    assert payload["protocol"] == ProtocolConfig().to_dict()
    lines = per_case_path.read_text().splitlines()
    header = "user_id,time,n_candidates,n_relevant,first_rank,recall,precision,f1,map,mrr,"
    assert lines[0] == header + "ndcg,auc"
    assert lines[1].startswith("007,2014-07-04T00:00:00,3,1,1,1.0,0.05,")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["metrics.json", "per_case.csv"]


NO_PURCHASES = "user_id,item_id,time"
ONE_BASKET_EACH = "user_id,item_id,time\nu,a,1\nv,b,2"
REPEAT_BUYER = "user_id,item_id,time\nu,a,1\nu,b,2"


@pytest.mark.parametrize(
    ("items", "purchases", "vectors", "error", "words"),
    [
        ("item_id", NO_PURCHASES, {}, DatasetError, r"items\.csv: no items \(a header only\)"),
        ("item_id\na\nb", NO_PURCHASES, VECTORS_AB, DatasetError, r"purchases\.csv: no purch"),
        (
            "item_id\na\nb",
            REPEAT_BUYER,
            {"x": [1, 0]},
            EmbeddingsError,
            r"none of its 1 item id\(s\) \['x'\] matches an item_id of .*items\.csv \['a', 'b'\]",
        ),
        ("item_id\na\nb", REPEAT_BUYER, {}, EmbeddingsError, "no item id at all matches"),
        (
            "item_id\na\nb",
            ONE_BASKET_EACH,
            VECTORS_AB,
            DatasetError,
            r"no user has a transaction after earlier ones .*min_profile=1",
        ),
        (
            "item_id\na\nb",
            REPEAT_BUYER,
            {"a": [1, 0]},
            DatasetError,
            r"all 1 possible test case\(s\) were skipped.*\(1 item\(s\) dropped",
        ),
    ],
)
def test_no_test_case_is_an_error_saying_what_is_empty(
    tmp_path, items, purchases, vectors, error, words
):
    dataset = write_dataset(tmp_path, items, purchases)
    ids = np.array(list(vectors), dtype=str)
    embeddings = EmbeddingTable(ids, np.array(list(vectors.values()), np.float32).reshape(-1, 2))
    with pytest.raises(error, match=words) as caught:
        evaluate(dataset, embeddings, ProtocolConfig(missing_embeddings="drop"))
    assert "so no test case exists" in str(caught.value)


def test_items_whose_image_was_skipped_are_dropped_with_a_count(tmp_path, caplog):
    """y's image was unreadable: it leaves candidates and ground truth even though
    missing_embeddings=error; A's case at time 3 (ground truth y) is skipped."""
    vectors = {key: value for key, value in VECTORS.items() if key != "y"}
    embeddings = EmbeddingTable(
        np.array(list(vectors), dtype=str),
        np.array(list(vectors.values()), np.float32),
        {"unreadable_images": ["y"]},
    )
    with caplog.at_level("WARNING", logger="artrec"):
        result = evaluate(_two_users(tmp_path), embeddings, ProtocolConfig(k=1))
    assert (result.n_test_cases, result.n_skipped, result.n_dropped_items) == (2, 1, 1)
    assert result.per_case[["user_id", "n_candidates", "first_rank"]].values.tolist() == [
        ["A", 2, 1],
        ["B", 2, 1],
    ]
    assert result.metrics["recall@1"] == 1.0
    assert result.to_json("e", "d")["n_dropped_items"] == 1
    assert "1 item(s) without an embedding dropped" in caplog.text
    with pytest.raises(EmbeddingsError, match=r"1 item\(s\) the protocol needs.*\['y'\]"):
        evaluate(_two_users(tmp_path), table(vectors), ProtocolConfig(k=1))


def test_sampled_random_is_seeded_and_keeps_the_cases(tmp_path):
    dataset = random_shop(tmp_path, seed=3)
    result = run(dataset, exact_vectors(dataset.item_ids.tolist(), seed=0), random_seed=5)
    sampled = result.sampled_random()
    assert list(sampled.columns) == list(PER_CASE_COLUMNS)
    pd.testing.assert_frame_equal(sampled, result.sampled_random(seed=5))
    pd.testing.assert_frame_equal(
        sampled, sampled_random_per_case(result.per_case, 20, "standard", 5)
    )
    assert sampled[["user_id", "time", "n_candidates", "n_relevant"]].equals(
        result.per_case[["user_id", "time", "n_candidates", "n_relevant"]]
    )
    assert (sampled["first_rank"] <= sampled["n_candidates"]).all()


def test_protocol_config_validation():
    config = ProtocolConfig.from_dict({"k": 10, "aggregation": "mean", "exclude_consumed": False})
    assert (config.k, config.aggregation, config.exclude_consumed) == (10, "mean", False)
    assert list(config.to_dict()) == [
        "k",
        "min_profile",
        "unique_items",
        "exclude_consumed",
        "aggregation",
        "topk",
        "ground_truth",
        "variant",
        "missing_embeddings",
        "device",
        "chunk_size",
        "random_seed",
    ]
    with pytest.raises(ConfigError, match=r"unknown protocol setting\(s\) \['kk'\].*'min_profile'"):
        ProtocolConfig.from_dict({"kk": 3})
    with pytest.raises(ConfigError, match=r"aggregation='median'.*\['max', 'mean', 'topk_mean'\]"):
        ProtocolConfig(aggregation="median")
    for bad in (
        {"k": 0},
        {"k": True},
        {"topk": 1.5},
        {"random_seed": -1},
        {"exclude_consumed": "yes"},
        {"variant": "trec"},
        {"ground_truth": "all"},
    ):
        with pytest.raises(ConfigError):
            ProtocolConfig(**bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without CUDA")
def test_cuda_without_cuda_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="CUDA is not available"):
        run(_two_users(tmp_path), VECTORS, device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("aggregation", ["max", "mean", "topk_mean"])
def test_cuda_equals_cpu(tmp_path, aggregation):
    dataset = random_shop(tmp_path, seed=0, n_items=40, n_users=8)
    embeddings = table(exact_vectors(dataset.item_ids.tolist(), seed=0))
    results = [
        evaluate(
            dataset,
            embeddings,
            ProtocolConfig(device=device, chunk_size=3, aggregation=aggregation),
        )
        for device in ("cpu", "cuda")
    ]
    pd.testing.assert_frame_equal(results[0].per_case, results[1].per_case)


def test_progress_bar_does_not_change_results(tmp_path):
    dataset = _two_users(tmp_path)
    config = ProtocolConfig(k=1)
    quiet = evaluate(dataset, table(VECTORS), config)
    shown = evaluate(dataset, table(VECTORS), config, progress=True)
    pd.testing.assert_frame_equal(quiet.per_case, shown.per_case)
