"""Metrics of docs/metrics.md (both variants), pytrec_eval as oracle, exact random baseline."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import pytrec_eval
from scipy import stats

from artrec.recsys.metrics import (
    METRICS,
    RankedCases,
    case_metrics,
    metric_key,
    random_expectation,
    sample_random_ranks,
)

L3, L6 = np.log2(3), np.log2(6)


def _cases(*cases: tuple[int, list[int]]) -> RankedCases:
    """(n, sorted ranks of the relevant items) per case."""
    ranks = [np.asarray(r, dtype=np.int64) for _, r in cases]
    return RankedCases(
        n=np.array([n for n, _ in cases]),
        ranks=np.concatenate(ranks),
        offsets=np.concatenate([[0], np.cumsum([len(r) for r in ranks])]).astype(np.int64),
    )


def test_metric_keys():
    assert [metric_key(m, 20) for m in METRICS] == [
        "recall@20",
        "precision@20",
        "f1@20",
        "map@20",
        "mrr@20",
        "ndcg@20",
        "auc",
    ]


def test_hand_computed_case_both_variants():
    # n = 15 candidates, relevant at ranks 2, 5, 12, k = 5: h = 2.
    cases = _cases((15, [2, 5, 12]))
    standard, paper = case_metrics(cases, 5, "standard"), case_metrics(cases, 5, "paper")
    for values in (standard, paper):
        assert values["first_rank"][0] == 2
        assert values["recall"][0] == pytest.approx(2 / 3)
        assert values["precision"][0] == pytest.approx(2 / 5)
        assert values["f1"][0] == pytest.approx(2 * 0.4 * (2 / 3) / (0.4 + 2 / 3))
        assert values["mrr"][0] == pytest.approx(1 / 2)
        # 12 non-relevant items: 11, 9 and 3 of them lie below the three relevant ones.
        assert values["auc"][0] == pytest.approx((11 + 9 + 3) / 36)
    assert standard["map"][0] == pytest.approx((1 / 2 + 2 / 5) / 3)
    # Hits in the top i for i = 1..5: 0, 1, 1, 1, 2; MAP = mean of P@i.
    assert paper["map"][0] == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 4 + 2 / 5) / 5)
    dcg = 1 / L3 + 1 / L6
    assert standard["ndcg"][0] == pytest.approx(dcg / (1 + 1 / L3 + 1 / 2))
    assert paper["ndcg"][0] == pytest.approx(dcg / (1 + 1 / L3))


def test_edge_cases_no_hit_all_relevant_and_more_relevant_than_k():
    cases = _cases((10, [7]), (3, [1, 2, 3]), (10, [1, 2, 3, 4, 5, 9, 10]))
    for variant in ("standard", "paper"):
        values = case_metrics(cases, 5, variant)
        assert values["mrr"].tolist() == [0.0, 1.0, 1.0]
        assert values["ndcg"][0] == 0.0 and values["map"][0] == 0.0
        # Case 1: 3 of 9 non-relevant items lie below rank 7. Case 2: all relevant. Case 3:
        # non-relevant at ranks 6-8, above 2 of the 7 relevant: 5 x 3 of 7 x 3 pairs.
        assert values["auc"].tolist() == pytest.approx([3 / 9, 1.0, 15 / 21])
        assert values["recall"].tolist() == pytest.approx([0, 1, 5 / 7])
        assert values["precision"].tolist() == pytest.approx([0, 3 / 5, 1])
    standard = case_metrics(cases, 5, "standard")
    assert standard["map"].tolist() == pytest.approx([0, 1, 1])  # / min(g, k)
    assert standard["ndcg"].tolist() == pytest.approx([0, 1, 1])
    # Case 2 (n = 3 < k): hits in the top i are 1, 2, 3, 3, 3. Case 3: every P@i is 1.
    paper_map = (1 + 1 + 1 + 3 / 4 + 3 / 5) / 5
    assert case_metrics(cases, 5, "paper")["map"].tolist() == pytest.approx([0, paper_map, 1])


@pytest.mark.parametrize("k", [1, 5, 20])
def test_standard_metrics_equal_trec_eval(k):
    """With g <= k, standard values equal trec_eval's P_k, recall_k, map_cut_k, ndcg_cut_k."""
    rng = np.random.default_rng(k)
    cases, qrel, run = [], {}, {}
    for q in range(300):
        n = int(rng.integers(1, 60))
        g = int(rng.integers(1, min(n, k) + 1))
        ranks = np.sort(rng.choice(n, g, replace=False)) + 1
        cases.append((n, ranks.tolist()))
        qrel[f"q{q}"] = {f"d{r}": 1 for r in ranks}
        run[f"q{q}"] = {f"d{r}": float(n - r) for r in range(1, n + 1)}
    measures = {f"P_{k}", f"recall_{k}", f"map_cut_{k}", f"ndcg_cut_{k}", "recip_rank"}
    trec = pytrec_eval.RelevanceEvaluator(qrel, measures).evaluate(run)
    ours = case_metrics(_cases(*cases), k, "standard")
    for name, measure in [
        ("precision", "P"),
        ("recall", "recall"),
        ("map", "map_cut"),
        ("ndcg", "ndcg_cut"),
    ]:
        expected = [trec[f"q{q}"][f"{measure}_{k}"] for q in range(300)]
        np.testing.assert_allclose(ours[name], expected, rtol=1e-9, atol=1e-12, err_msg=name)
    first = np.array([c[1][0] for c in cases])
    expected = [trec[f"q{q}"]["recip_rank"] if first[q] <= k else 0.0 for q in range(300)]
    np.testing.assert_allclose(ours["mrr"], expected, rtol=1e-9)


ENUMERATED = [(n, g) for n in range(1, 8) for g in range(1, n + 1)]


@pytest.mark.parametrize("variant", ["standard", "paper"])
@pytest.mark.parametrize("k", [1, 3, 20])
def test_random_expectation_equals_enumeration_of_all_orders(variant, k):
    """Exact: the average over every placement of g relevant items among n positions."""
    n = np.array([n for n, _ in ENUMERATED])
    g = np.array([g for _, g in ENUMERATED])
    expected = random_expectation(n, g, k, variant)
    for row, (size, count) in enumerate(ENUMERATED):
        placements = [list(c) for c in itertools.combinations(range(1, size + 1), count)]
        values = case_metrics(_cases(*[(size, p) for p in placements]), k, variant)
        for name in ("first_rank", *METRICS):
            mean = values[name].mean()
            assert expected[name][row] == pytest.approx(mean, rel=1e-12, abs=1e-14), (name, size)


def _paper_map_by_definition(relevant: list[bool], k: int) -> float:
    """(1/k) * sum over i = 1..k of (relevant items in the top i) / i, item by item."""
    return sum(sum(relevant[:i]) / i for i in range(1, k + 1)) / k


@pytest.mark.parametrize("k", [1, 2, 4, 9])
def test_paper_map_and_its_expectation_over_every_ordering(k):
    """Every ordering (itertools.permutations) of n <= 6 candidates, g relevant: per case
    the mean of P@i, and on average the closed form (1/k) sum_i g*min(i,n)/(n*i)."""
    for n in range(1, 7):
        for g in range(1, n + 1):
            orders = list(itertools.permutations([True] * g + [False] * (n - g)))
            ranks = [[r + 1 for r, rel in enumerate(order) if rel] for order in orders]
            values = case_metrics(_cases(*[(n, r) for r in ranks]), k, "paper")["map"]
            by_definition = [_paper_map_by_definition(list(o), k) for o in orders]
            np.testing.assert_allclose(values, by_definition, rtol=1e-12)
            closed = sum(g * min(i, n) / (n * i) for i in range(1, k + 1)) / k
            expected = random_expectation(np.array([n]), np.array([g]), k, "paper")["map"][0]
            assert expected == pytest.approx(np.mean(by_definition), rel=1e-12)
            assert expected == pytest.approx(closed, rel=1e-12)


def test_paper_random_map_is_precision_at_k_when_n_is_at_least_k():
    """The paper's Random MAP (.0014) sits next to its P@20 (.0013): with n >= k both are g/n."""
    n, g = np.array([20, 3000, 6040]), np.array([1, 4, 2])
    expected = random_expectation(n, g, 20, "paper")
    np.testing.assert_allclose(expected["map"], g / n, rtol=1e-12)
    np.testing.assert_allclose(expected["map"], expected["precision"], rtol=1e-12)
    # n = 4 < k = 20, g = 1: (1/20) * (4 * 1/4 + sum_{i=5..20} 1/i), by hand.
    small = random_expectation(np.array([4]), np.array([1]), 20, "paper")["map"][0]
    assert small == pytest.approx((1 + sum(1 / i for i in range(5, 21))) / 20, rel=1e-12)


@pytest.mark.parametrize("variant", ["standard", "paper"])
@pytest.mark.parametrize(("n", "g", "k"), [(50, 4, 10), (1000, 3, 20), (30, 12, 20)])
def test_random_expectation_matches_sampled_rankings(variant, n, g, k):
    """The mean over 4,000 seeded random rankings lies within 5 standard errors."""
    draws = 4000
    sampled = case_metrics(sample_random_ranks(np.full(draws, n), np.full(draws, g), 7), k, variant)
    expected = random_expectation(np.array([n]), np.array([g]), k, variant)
    for name in ("first_rank", *METRICS):
        error = sampled[name].std() / np.sqrt(draws)
        assert abs(sampled[name].mean() - expected[name][0]) <= 5 * error + 1e-12, name


def test_random_expectation_at_scale_is_finite_and_agrees_with_scipy():
    """n = 200,000: the log-space hypergeometric and the MRR recursion stay accurate."""
    n, g, k = np.array([200_000, 150_000]), np.array([2, 40]), 20
    paper = random_expectation(n, g, k, "paper")
    standard = random_expectation(n, g, k, "standard")
    h = np.arange(1, k + 1)
    ideal = np.cumsum(1 / np.log2(np.arange(2, k + 2)))
    for row in range(2):
        pmf = stats.hypergeom.pmf(h, n[row], g[row], k)
        assert paper["ndcg"][row] == pytest.approx(
            (pmf * h / k * ideal[-1] / ideal[h - 1]).sum(), rel=1e-9
        )
        first = stats.hypergeom.pmf(0, n[row], g[row], np.arange(0, k))  # none in the top r-1
        hit = g[row] / (n[row] - np.arange(0, k))  # ... then one at r
        assert standard["mrr"][row] == pytest.approx(
            (first * hit / np.arange(1, k + 1)).sum(), rel=1e-9
        )
    assert standard["recall"] == pytest.approx(k / n)
    assert np.isfinite(standard["map"]).all() and (standard["auc"] == 0.5).all()


def test_sampled_ranks_are_seeded_distinct_and_in_range():
    n, g = np.array([5, 100, 3]), np.array([2, 7, 3])
    first, again = sample_random_ranks(n, g, 3), sample_random_ranks(n, g, 3)
    assert np.array_equal(first.ranks, again.ranks)
    assert not np.array_equal(first.ranks, sample_random_ranks(n, g, 4).ranks)
    for c in range(3):
        part = first.ranks[first.offsets[c] : first.offsets[c + 1]]
        assert len(set(part)) == g[c] and part.min() >= 1 and part.max() <= n[c]
        assert (np.diff(part) > 0).all()
