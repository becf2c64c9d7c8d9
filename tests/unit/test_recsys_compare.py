"""Comparison of systems on paired test cases: statistics, tables and the files written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from artrec.data.csvio import read_string_csv
from artrec.errors import ArtrecError, ComparisonError, ConfigError
from artrec.recsys.compare import (
    CSV_COLUMNS,
    METRIC_LABELS,
    compare_systems,
    metric_labels,
    write_comparison,
)
from artrec.recsys.stats import bootstrap_means, holm, paired_wilcoxon, percentile_ci

METRICS = list(METRIC_LABELS)


def _cases(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [f"u{i % 7}" for i in range(n)],
            "time": np.arange(n) * 10,
            "n_candidates": 100 + np.arange(n),
            "n_relevant": 1 + np.arange(n) % 3,
        }
    )


def _table(n: int, **metrics: float | np.ndarray) -> pd.DataFrame:
    """A per_case table; metrics not given are 0.0, ``auc`` defaults to ``recall``."""
    frame = _cases(n)
    for name in METRICS:
        default = metrics.get("recall", 0.0) if name == "auc" else 0.0
        frame[name] = np.broadcast_to(np.asarray(metrics.get(name, default), float), n)
    return frame


def _const(n: int, value: float, auc: float) -> pd.DataFrame:
    return _table(n, **{m: value for m in METRICS[:-1]}, auc=auc)


# ---- statistics ---------------------------------------------------------------------------


def test_holm_matches_hand_computed_example():
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.06
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03, 0.005])), [0.03, 0.06, 0.06, 0.02])


def test_holm_skips_nan_and_caps_at_one():
    out = holm(np.array([np.nan, 0.2, 0.6]))
    assert np.isnan(out[0])
    np.testing.assert_allclose(out[1:], [0.4, 0.6])
    np.testing.assert_allclose(holm(np.array([0.5, 0.9])), [1.0, 1.0])
    assert holm(np.array([0.01])).tolist() == [0.01]


def test_wilcoxon_matches_scipy_and_hand_value():
    rng = np.random.default_rng(3)
    a = np.round(rng.random(30), 2)
    b = a + np.round(rng.normal(0.05, 0.1, 30), 2)
    b[:5] = a[:5]  # zero differences are dropped ("wilcox")
    expected = stats.wilcoxon(a - b, zero_method="wilcox").pvalue
    assert paired_wilcoxon(a, b) == pytest.approx(expected, rel=1e-12)
    assert paired_wilcoxon(b, a) == pytest.approx(expected, rel=1e-12)
    # 5 distinct negative differences: exact two-sided p = 2 / 2**5
    assert paired_wilcoxon(np.zeros(5), np.arange(1.0, 6.0)) == pytest.approx(0.0625)


def test_wilcoxon_of_identical_values_is_one():
    a = np.array([0.0, 0.5, 1.0, 0.25])
    assert paired_wilcoxon(a, a.copy()) == 1.0


def test_bootstrap_of_constant_column_is_degenerate():
    values = np.column_stack([np.full(37, 0.1), np.linspace(0, 1, 37)])
    low, high = percentile_ci(bootstrap_means(values, 200, seed=5), alpha=0.05)
    assert (low[0], high[0]) == (0.1, 0.1)
    assert low[1] < high[1]


def test_bootstrap_equals_explicit_index_resampling():
    values = np.random.default_rng(0).random((40, 3))
    idx = np.random.default_rng(9).integers(0, 40, size=(25, 40))
    expected = values[idx].mean(axis=1)
    np.testing.assert_allclose(bootstrap_means(values, 25, seed=9), expected, atol=1e-12)


def test_bootstrap_is_paired_across_columns_and_chunks():
    x = np.random.default_rng(1).random(30)
    reps = bootstrap_means(np.column_stack([x, 2 * x, x]), 50, seed=2, chunk_cells=30 * 7)
    np.testing.assert_allclose(reps[:, 1], 2 * reps[:, 0])
    np.testing.assert_array_equal(reps[:, 2], reps[:, 0])


def test_bootstrap_ci_of_known_sample_is_seeded_and_matches_scipy():
    sample = np.random.default_rng(4).exponential(1.0, 60)
    low, high = percentile_ci(bootstrap_means(sample[:, None], 4000, seed=0), alpha=0.05)
    again = percentile_ci(bootstrap_means(sample[:, None], 4000, seed=0), alpha=0.05)
    other = percentile_ci(bootstrap_means(sample[:, None], 4000, seed=1), alpha=0.05)
    assert (low[0], high[0]) == (again[0][0], again[1][0])
    assert (low[0], high[0]) != (other[0][0], other[1][0])
    assert low[0] < sample.mean() < high[0]
    oracle = stats.bootstrap(
        (sample,), np.mean, n_resamples=4000, method="percentile", rng=np.random.default_rng(7)
    ).confidence_interval
    scale = sample.std() / np.sqrt(len(sample))  # Monte Carlo noise is a small share of this
    assert low[0] == pytest.approx(oracle.low, abs=0.15 * scale)
    assert high[0] == pytest.approx(oracle.high, abs=0.15 * scale)


# ---- comparison table ---------------------------------------------------------------------


def test_tiny_case_markdown_and_csv_exact(tmp_path):
    systems = {"A": _const(4, 0.5, auc=0.5), "B": _const(4, 0.25, auc=0.75)}
    random = _const(4, 0.125, auc=0.5)[METRICS]
    comp = compare_systems(systems, random, k=10, alpha=0.3, n_bootstrap=10, seed=0)
    # Every difference to the best is the same sign and size on 4 cases: exact p = 2/16;
    # Holm over the two rows compared: max(2 * 0.125, 0.125) = 0.25 < alpha = 0.3.
    a_best, a_worse = "**0.5000** [0.500, 0.500]", "0.5000† [0.500, 0.500]"
    table = [
        "| system | recall@10 | precision@10 | f1@10 | map@10 | mrr@10 | ndcg@10 | auc |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        "| A | " + " | ".join([a_best] * 6 + [a_worse]) + " |",
        "| B | "
        + " | ".join(["0.2500† [0.250, 0.250]"] * 6 + ["**0.7500** [0.750, 0.750]"])
        + " |",
        "| Random | " + " | ".join(["0.1250† [0.125, 0.125]"] * 6 + [a_worse]) + " |",
    ]
    md = comp.to_markdown()
    assert md.split("\n\n")[0].splitlines() == table
    footnote = md.split("\n\n")[1]
    assert "Mean over 4 test cases [70% percentile-bootstrap interval, 10 paired" in footnote
    assert "†: significantly worse than the best" in footnote and "p < 0.3" in footnote
    md_path, csv_path = write_comparison(comp, tmp_path / "cmp")
    assert md_path.read_text(encoding="utf-8") == md
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert len(lines) == 1 + 3 * 7
    assert lines[1] == "A,recall@10,0.5,0.5,0.5,,,False,True"
    assert lines[7] == "A,auc,0.5,0.5,0.5,0.125,0.25,True,False"
    assert lines[8] == "B,recall@10,0.25,0.25,0.25,0.125,0.25,True,False"
    assert lines[14] == "B,auc,0.75,0.75,0.75,,,False,True"
    assert lines[15] == "Random,recall@10,0.125,0.125,0.125,0.125,0.25,True,False"
    assert sorted(p.name for p in md_path.parent.iterdir()) == ["comparison.csv", "comparison.md"]


def test_clearly_better_system_is_significant_and_random_not_best():
    rng = np.random.default_rng(0)
    noise = rng.random(50)
    systems = {
        "good": _table(50, recall=1.0, mrr=noise),
        "bad": _table(50, recall=0.0, mrr=noise + rng.normal(0, 0.05, 50)),
    }
    random = _table(50, recall=0.02, mrr=np.full(50, 0.03))[METRICS]
    comp = compare_systems(systems, random, k=20)
    recall = comp.table["recall@20"]
    assert recall["is_best"].tolist() == [True, False, False]
    assert recall["significant"].tolist() == [False, True, True]
    assert recall.loc["bad", "p_holm"] < 1e-6
    mrr = comp.table["mrr@20"]  # the same values plus small symmetric noise
    assert not mrr.loc["good":"bad", "significant"].any()
    assert mrr.loc["Random", "significant"] and not mrr.loc["Random", "is_best"]
    assert comp.metrics == metric_labels(20)
    assert "**1.0000**" in comp.to_markdown()


def test_random_is_best_when_systems_are_worse():
    systems = {"s": _table(20, recall=np.linspace(0, 0.1, 20))}
    comp = compare_systems(systems, _table(20, recall=0.5)[METRICS], k=5, n_bootstrap=50)
    assert comp.table["recall@5"]["is_best"].tolist() == [False, True]
    assert "| Random | **0.5000** [0.500, 0.500]" in comp.to_markdown()


def test_ties_for_best_are_all_bold_and_not_significant():
    values = np.linspace(0, 1, 12)
    systems = {"x": _table(12, ndcg=values), "y": _table(12, ndcg=values)}
    # Random's ndcg differs from x's on every case without ties: scipy's fast exact path.
    comp = compare_systems(systems, _table(12, ndcg=0.01)[METRICS], k=20, n_bootstrap=20)
    ndcg = comp.table["ndcg@20"]
    assert ndcg["is_best"].tolist() == [True, True, False]
    assert ndcg.loc["y", "p_value"] == 1.0 and np.isnan(ndcg.loc["x", "p_value"])


def test_same_seed_same_table_and_string_keys_match_numeric_keys(tmp_path):
    rng = np.random.default_rng(2)
    a, b = _table(30, recall=rng.random(30)), _table(30, recall=rng.random(30))
    path = tmp_path / "per_case.csv"
    b.to_csv(path, index=False)
    b_strings = read_string_csv(path)  # every cell a string, as read back from disk
    one = compare_systems({"a": a, "b": b}, _table(30)[METRICS], k=20, seed=3)
    two = compare_systems({"a": a, "b": b_strings}, _table(30)[METRICS], k=20, seed=3)
    pd.testing.assert_frame_equal(one.table, two.table)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(user_id=f.user_id.where(f.index != 3, "zz")), "row 3"),
        (lambda f: f.assign(n_relevant=f.n_relevant + 1), "row(s)"),
        (lambda f: f.iloc[:-1], "has 9 test cases"),
        (lambda f: f.drop(columns="time"), "lacks column(s) ['time']"),
        (lambda f: f.assign(auc=[*[0.5] * 9, np.nan]), "'auc' at row 9"),
        (lambda f: f.assign(map="x"), "not a finite number"),
    ],
)
def test_mismatched_or_malformed_cases_raise(change, message):
    systems = {"a": _table(10, recall=0.5), "b": change(_table(10, recall=0.4))}
    with pytest.raises(ComparisonError) as info:
        compare_systems(systems, _table(10)[METRICS], k=20, n_bootstrap=10)
    assert message in str(info.value)
    assert isinstance(info.value, ArtrecError)


def test_random_with_other_cases_and_bad_settings_raise():
    systems = {"a": _table(6, recall=0.5)}
    shifted = _table(6).assign(time=lambda f: f.time + 1)
    with pytest.raises(ComparisonError, match="'Random' and 'a' differ"):
        compare_systems(systems, shifted, k=20)
    with pytest.raises(ComparisonError, match="reserved"):
        compare_systems({"Random": _table(6)}, _table(6)[METRICS], k=20)
    with pytest.raises(ComparisonError, match="No systems"):
        compare_systems({}, _table(6)[METRICS], k=20)
    with pytest.raises(ConfigError, match="alpha"):
        compare_systems(systems, _table(6)[METRICS], k=20, alpha=1.5)


def test_markdown_escapes_system_names():
    systems = {"<script>x</script>": _const(4, 0.5, auc=0.5), "a|b_c": _const(4, 0.25, auc=0.5)}
    random = _const(4, 0.125, auc=0.5)[METRICS]
    comp = compare_systems(systems, random, k=10, n_bootstrap=10, seed=0)
    rows = comp.to_markdown().splitlines()
    assert rows[2].startswith("| &lt;script&gt;x&lt;/script&gt; | **0.5000** [0.500, 0.500] |")
    assert rows[3].startswith("| a\\|b\\_c | 0.2500")
    assert "<script>" not in comp.to_markdown()
