"""The paper's tables: RQ1's rank correlations, Table 1, Table 2 and their three formats."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from report_testkit import shared_sweep
from scipy import stats

from artrec.recsys.compare import RANDOM, compare_systems
from artrec.recsys.metrics import random_expectation
from artrec.reporting.paper_tables import (
    correlations,
    table1,
    table1_text,
    table2,
    table2_text,
    write_tables,
)
from artrec.reporting.run_dirs import find_runs
from artrec.reporting.runs import group_runs
from artrec.reporting.text_tables import Cell, TextTable, to_html, to_latex, to_markdown

# The paper's Table 1: ImageNet top-1 and R@20 of ResNet50, VGG19, NASNet, InceptionV3,
# InceptionResNetV2.
TOP1 = [75.2, 71.1, 82.7, 78.0, 80.4]
RECALL = [0.1632, 0.1398, 0.1379, 0.1332, 0.1302]


def test_rank_correlations_of_the_papers_table1_by_hand():
    # By top-1: (71.1, .1398) (75.2, .1632) (78.0, .1332) (80.4, .1302) (82.7, .1379).
    # Concordant pairs: 3 of 10, discordant 7: tau = -0.4. Exact null of tau for n = 5
    # (inversion counts 1, 4, 9, 15, 20, 22, 20, 15, 9, 4, 1 of 120): P(>= 7 discordant)
    # = 29/120, two-sided 58/120. Rank differences -3, -3, 2, 1, 3: rho = 1 - 6*32/120 = -0.6.
    frame = pd.DataFrame({"recall@20": RECALL})
    out = correlations(pd.Series(TOP1), frame).loc["recall@20"]
    assert out["n"] == 5
    assert out["kendall_tau"] == pytest.approx(-0.4)
    assert out["kendall_p"] == pytest.approx(58 / 120)
    assert out["spearman_rho"] == pytest.approx(-0.6)
    t = -0.6 * np.sqrt(3 / (1 - 0.36))  # Student's t with n - 2 = 3 degrees of freedom
    assert out["spearman_p"] == pytest.approx(2 * stats.t.sf(abs(t), 3))


def test_rank_correlations_skip_unknown_top1_and_need_three_backbones():
    rng = np.random.default_rng(0)
    metrics = pd.DataFrame({"a": rng.random(7), "b": rng.random(7)})
    top1 = pd.Series([70.0, None, 74.0, 71.0, None, 79.0, 77.0])
    out = correlations(top1, metrics)
    known = top1.notna()
    for metric in ("a", "b"):
        expected = stats.kendalltau(top1[known], metrics.loc[known, metric])
        assert out.loc[metric, "kendall_tau"] == pytest.approx(expected.statistic)
        assert out.loc[metric, "n"] == 5
    two = correlations(pd.Series([70.0, 75.0, None]), metrics.iloc[:3])
    assert two["n"].tolist() == [2, 2]
    assert two.drop(columns="n").isna().all().all()


@pytest.fixture(scope="module")
def group():
    _, sweep = shared_sweep()
    return group_runs(find_runs([sweep]))[0]


def test_table1_holds_the_frozen_runs_and_the_exact_random_row(group):
    t1 = table1(group, table2(group, alpha=0.05, n_bootstrap=10, seed=0).comparison)
    frame = t1.frame
    assert list(frame.index) == [
        "resnet50",
        "vgg19",
        "nasnetalarge",
        "resnet50_random_init",
        RANDOM,
    ]
    runs = {run.label: run for run in group.runs}
    for label in frame.index[:-1]:
        expected = runs[label].metrics["metrics"]
        assert frame.loc[label, "recall@20"] == pytest.approx(expected["recall@20"], rel=1e-12)
        assert frame.loc[label, "auc"] == pytest.approx(expected["auc"], rel=1e-12)
    assert frame["recall@20"].iloc[:-1].is_monotonic_decreasing
    random = runs["vgg19"].metrics["random"]["mrr@20"]
    assert frame.loc[RANDOM, "mrr@20"] == pytest.approx(random, rel=1e-12)
    assert frame.loc["vgg19", "backbone"] == "vgg19"
    assert frame.loc["resnet50", "imagenet_top1"] == 75.2
    assert np.isnan(frame.loc["resnet50_random_init", "imagenet_top1"])
    known = frame.iloc[:3]
    expected = stats.spearmanr(known["imagenet_top1"], known["ndcg@20"])
    assert t1.correlation.loc["ndcg@20", "spearman_rho"] == pytest.approx(expected.statistic)
    assert t1.correlation["n"].eq(3).all()


def test_table2_is_the_paired_comparison_sorted_by_recall(group):
    t2 = table2(group, alpha=0.05, n_bootstrap=200, seed=0)
    table = t2.comparison.table
    assert list(table.index)[-1] == RANDOM
    means = table[("recall@20", "mean")].iloc[:-1]
    assert means.is_monotonic_decreasing
    assert table.index[0] == "deep"
    paths = {run.label: run.path / "per_case.csv" for run in group.runs}
    frames = {label: pd.read_csv(paths[label]) for label in table.index[:-1]}
    first = next(iter(frames.values()))
    random = pd.DataFrame(
        random_expectation(first["n_candidates"], first["n_relevant"], 20, "standard")
    )
    expected = compare_systems(frames, random, 20, n_bootstrap=200, seed=0).table
    pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=1e-12)
    assert table.loc[RANDOM, ("recall@20", "mean")] == pytest.approx(
        group.runs[0].metrics["random"]["recall@20"], rel=1e-12
    )


def test_three_formats_carry_the_same_cells(group, tmp_path):
    t2 = table2(group, alpha=0.05, n_bootstrap=200, seed=0)
    t1 = table1(group, t2.comparison)
    written = write_tables(t1, t2, tmp_path)
    names = "table1.md table1.csv table1.tex table1_correlation.csv table2.md table2.csv table2.tex"
    assert sorted(p.name for p in written) == sorted(names.split())
    markdown = (tmp_path / "table2.md").read_text()
    latex = (tmp_path / "table2.tex").read_text()
    for label in t2.comparison.table.index:
        stats_ = t2.comparison.table.loc[label, "recall@20"]
        mean = f"{stats_['mean']:.4f}"
        assert mean in markdown and mean in latex
        if stats_["is_best"]:
            assert f"**{mean}**" in markdown and f"\\textbf{{{mean}}}" in latex
    assert "resnet50\\_random\\_init" in latex and "\\toprule" in latex
    back = pd.read_csv(tmp_path / "table1.csv", index_col="run")
    assert back.loc["vgg19", "map@20"] == pytest.approx(t1.frame.loc["vgg19", "map@20"], rel=1e-15)
    correlation = pd.read_csv(tmp_path / "table1_correlation.csv", index_col="metric")
    assert correlation.loc["recall@20", "kendall_tau"] == pytest.approx(
        t1.correlation.loc["recall@20", "kendall_tau"]
    )
    main, _ = table1_text(t1)  # with RQ1: three backbones with a known top-1
    assert main.rows[-1][0].text == RANDOM and len(table2_text(t2).rows) == len(group.runs) + 1


def test_renderers_mark_best_and_daggers_and_escape():
    table = TextTable(
        "T & 50%",
        ["run", "R@20"],
        [[Cell("a_b"), Cell("0.5000", bold=True)], [Cell("c|d"), Cell("0.1000", dagger=True)]],
        frozenset({1}),
        ["note <x>"],
    )
    assert to_markdown(table).splitlines()[:6] == [
        "**T &amp; 50%**",
        "",
        "| run | R@20 |",
        "| --- | ---: |",
        "| a\\_b | **0.5000** |",
        "| c\\|d | 0.1000† |",
    ]
    latex = to_latex(table)
    assert "\\caption{T \\& 50\\%}" in latex
    assert "a\\_b & \\textbf{0.5000} \\\\\n\\midrule\nc|d & 0.1000$^\\dagger$ \\\\" in latex
    html = to_html(table)
    assert "<b>0.5000</b>" in html and "0.1000&dagger;" in html and "note &lt;x&gt;" in html


def test_markdown_cells_are_literal_text():
    """A run name or label is never HTML, emphasis, a link or a cell boundary in table*.md."""
    table = TextTable(
        "<b>group</b>",
        ["run", "R@20"],
        [[Cell("<script>alert(1)</script>", bold=True), Cell("x*y* [l](u) `c`\nz")]],
    )
    assert to_markdown(table).splitlines()[:5] == [
        "**&lt;b&gt;group&lt;/b&gt;**",
        "",
        "| run | R@20 |",
        "| --- | ---: |",
        "| **&lt;script&gt;alert(1)&lt;/script&gt;** | x\\*y\\* \\[l\\](u) \\`c\\` z |",
    ]


def test_without_imagenet_accuracy_there_is_no_rq1_table_and_a_line_says_why(tmp_path):
    _, sweep = shared_sweep()
    shutil.copytree(sweep / "4", tmp_path / "runs" / "random_init")  # frozen, no top-1 known
    (group,) = group_runs(find_runs([tmp_path / "runs"]))
    t2 = table2(group, alpha=0.05, n_bootstrap=10, seed=0)
    t1 = table1(group, t2.comparison)
    (main,) = table1_text(t1)
    assert main.notes[-1].startswith("No RQ1 table: rank correlations need at least 3")
    assert main.notes[-1].endswith("; 0 here.")
    written = {p.name for p in write_tables(t1, t2, tmp_path / "out")}
    assert "table1_correlation.csv" not in written and "table1.md" in written
    assert "RQ1" not in (tmp_path / "out" / "table1.md").read_text().split("No RQ1 table")[0]


def test_latex_sets_the_significance_level_in_math_mode(group):
    latex = to_latex(table2_text(table2(group, alpha=0.05, n_bootstrap=10, seed=0)))
    assert "$p < 0.05$)" in latex and "p < 0.05" not in latex.replace("$p < 0.05$", "")
