"""The batched protocol (state carried across batches, chunked candidate masks, counted
ranks) against a literal per-case reference: per-case metrics equal, not close."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from recsys_testkit import exact_vectors, random_shop, reference, run

from artrec.recsys import scoring
from artrec.recsys.metrics import METRICS, RankedCases, case_metrics


def _reference_metrics(expected, k: int, variant: str) -> dict[str, np.ndarray]:
    ranks = [np.asarray(r, dtype=np.int64) for r in expected["ranks"]]
    cases = RankedCases(
        n=expected["n_candidates"].to_numpy(),
        ranks=np.concatenate(ranks),
        offsets=np.concatenate([[0], np.cumsum([len(r) for r in ranks])]).astype(np.int64),
    )
    return case_metrics(cases, k, variant)


@pytest.mark.parametrize("aggregation", ["max", "mean", "topk_mean"])
@pytest.mark.parametrize("variant", ["standard", "paper"])
@pytest.mark.parametrize("exclude_consumed", [True, False])
@pytest.mark.parametrize("unique_items", ["auto", "all", "none"])
def test_per_case_metrics_equal_a_literal_reference(
    tmp_path, monkeypatch, aggregation, variant, exclude_consumed, unique_items
):
    """Cosines are multiples of 1/4 (exact in any summation order, ties everywhere, broken
    by items.csv order); batches of 2 make users' states cross batch boundaries, and
    chunks of 3 rows split batches."""
    monkeypatch.setattr(scoring, "CHUNK_ELEMENTS", 3 * 30)
    settings = {
        "aggregation": aggregation,
        "variant": variant,
        "exclude_consumed": exclude_consumed,
        "unique_items": unique_items,
        "chunk_size": 2,
        "k": 3,
    }
    for seed in range(4):
        dataset = random_shop(tmp_path / str(seed), seed, n_items=30, n_users=4)
        vectors = exact_vectors(dataset.item_ids.tolist(), seed)
        got = run(dataset, vectors, **settings).per_case
        expected = reference(dataset, vectors, **settings)
        assert len(got) == len(expected) > 0
        assert got["n_candidates"].tolist() == expected["n_candidates"].tolist()
        want = _reference_metrics(expected, settings["k"], variant)
        for name in ("first_rank", *METRICS):
            np.testing.assert_array_equal(got[name].to_numpy(float), want[name], err_msg=name)


def test_one_thread_restores_the_thread_count():
    threads = torch.get_num_threads()
    with scoring.one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == threads
