"""The report command: every file written, a self-contained index.html, clear errors."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
from PIL import Image
from report_testkit import (
    backbone_config,
    config,
    several_systems,
    shared_sweep,
    vectors,
    write_run,
)

from artrec.recsys.config import ProtocolConfig
from artrec.reporting.paper_tables import VARIANT_NOTES
from artrec.reporting.report import Settings, main

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*(?!["']?data:)""", re.IGNORECASE)


ARGS = ["--bootstrap", "100", "--gallery-cases", "2"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One report over the sweep and a legacy recommend_eval output."""
    _, sweep = shared_sweep()
    out = tmp_path_factory.mktemp("report")
    return [str(sweep), str(sweep.parent / "legacy")], out


def test_the_report_writes_tables_figures_galleries_and_html(report, capsys):
    inputs, out = report
    assert main([*inputs, "--out", str(out), *ARGS]) == 0
    printed = capsys.readouterr().out
    assert f"Report written to {out / 'index.html'}" in printed.replace("\n", "")
    assert "Table 2: all runs" in printed and "broken" in printed
    for name in ("table1.md", "table1.csv", "table1.tex", "table1_correlation.csv"):
        assert (out / name).is_file()
    for name in ("table2.md", "table2.csv", "table2.tex"):
        assert (out / name).is_file()
    for stem in ("bars_recall_at_20", "bars_auc", "imagenet_top1_vs_recall"):
        assert Image.open(out / "figures" / f"{stem}.png").size[0] > 300
        assert "<svg" in (out / "figures" / f"{stem}.svg").read_text()
    galleries = sorted(p.name for p in (out / "galleries").iterdir())
    assert galleries == ["deep_case1.png", "deep_case2.png"]  # the best run's
    assert not list(out.rglob("*.tmp"))


def test_the_html_is_self_contained_and_holds_the_numbers(report):
    inputs, out = report
    if not (out / "index.html").is_file():  # this test run alone
        main([*inputs, "--out", str(out), *ARGS])
    page = (out / "index.html").read_text()
    assert not EXTERNAL.search(page)  # every src is a data: URI; no href at all
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<script" not in page
    assert page.count('src="data:image/png;base64,') == 2  # the galleries
    assert page.count('src="data:image/svg+xml;base64,') == 1 + 7  # scatter, bars
    table2 = pd.read_csv(out / "table2.csv")
    for mean in table2.loc[table2["metric"] == "recall@20", "mean"]:
        assert f"{mean:.4f}" in page
    correlation = pd.read_csv(out / "table1_correlation.csv", index_col="metric")
    assert f"{correlation.loc['recall@20', 'kendall_tau']:.3f}" in page
    assert "<summary>histogram (completed)</summary>" in page
    assert "imagenet_top1: 82.7" in page  # nasnetalarge's config.yaml
    assert "RuntimeError: CUDA out of memory" in page  # the failed run is listed


def test_runs_on_other_test_cases_get_their_own_part(tmp_path):
    dataset, sweep = shared_sweep()
    other = config(dataset, backbone_config("vgg19", 71.1, 89.8), run_name="vgg19_min2")
    protocol = ProtocolConfig(min_profile=2)
    write_run(tmp_path / "min2", dataset, vectors(dataset, 1.0, 3), other, protocol=protocol)
    out = tmp_path / "report"
    args = ["--no-figures", "--galleries", "none", "--bootstrap", "50"]
    assert main([str(sweep), str(tmp_path / "min2"), "--out", str(out), *args]) == 0
    first = set(pd.read_csv(out / "group1" / "table2.csv")["run"])
    second = set(pd.read_csv(out / "group2" / "table2.csv")["run"])
    assert first == {"deep", "resnet50", "vgg19", "nasnetalarge", "resnet50_random_init", "Random"}
    assert second == {"vgg19_min2", "Random"}
    page = (out / "index.html").read_text()
    assert "compared only within their group" in page and "data:image" not in page


def test_tables_say_which_metric_variant_their_map_and_ndcg_are(tmp_path):
    """A paper-variant run gets its own group whose tables carry the paper's MAP (its Random
    row equals P@k's, as in the paper) and say so; the standard group says it is not."""
    dataset, sweep = shared_sweep()
    protocol = ProtocolConfig(variant="paper")
    cfg = config(dataset, backbone_config("vgg19", 71.1, 89.8), run_name="vgg19_paper")
    paper_run = write_run(
        tmp_path / "paper", dataset, vectors(dataset, 1.5, 1), cfg, protocol=protocol
    )
    out = tmp_path / "report"
    args = ["--no-figures", "--galleries", "none", "--bootstrap", "50"]
    assert main([str(sweep), str(paper_run), "--out", str(out), *args]) == 0
    standard, paper = (out / "group1" / "table2.md"), (out / "group2" / "table2.md")
    assert VARIANT_NOTES["standard"] in standard.read_text()
    assert "protocol.variant=paper" in paper.read_text().splitlines()[0]
    assert VARIANT_NOTES["paper"] in paper.read_text()
    assert VARIANT_NOTES["paper"] in (out / "group2" / "table1.md").read_text()
    means = pd.read_csv(out / "group2" / "table2.csv").set_index(["run", "metric"])["mean"]
    metrics = json.loads((paper_run / "metrics.json").read_text())
    assert means["vgg19_paper", "map@20"] == pytest.approx(metrics["metrics"]["map@20"])
    random = metrics["random"]
    assert random["map@20"] == pytest.approx(random["precision@20"], rel=1e-12)
    assert means["Random", "map@20"] == pytest.approx(random["map@20"], rel=1e-12)
    assert "only protocol.variant=paper" in (out / "index.html").read_text()


def test_no_runs_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "nothing").mkdir()
    assert main([str(tmp_path / "nothing"), "--out", str(tmp_path / "out")]) == 1
    assert "no run directories at or below it" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_settings_are_checked():
    with pytest.raises(Exception, match="galleries='some'"):
        Settings(galleries="some")


def test_a_folder_of_every_kind_of_run_is_reported_and_broken_runs_are_named(tmp_path, capsys):
    dataset, sweep = shared_sweep()
    several_systems(tmp_path / "runs" / "eval", dataset)
    shutil.copytree(sweep / "vgg19", tmp_path / "runs" / "vgg19")
    shutil.copytree(sweep / "broken", tmp_path / "runs" / "failed")
    shutil.copytree(sweep / "resnet50", tmp_path / "runs" / "cut")
    (tmp_path / "runs" / "cut" / "per_case.csv").unlink()
    out = tmp_path / "report"
    assert main([str(tmp_path / "runs"), "--out", str(out), *ARGS, "--no-figures"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "warning: Left out cut (broken):" in printed and "per_case.csv" in printed
    assert "warning: Left out failed (failed): RuntimeError: CUDA out of memory" in printed
    table2 = pd.read_csv(out / "table2.csv")
    assert sorted(set(table2["run"])) == ["Random", "noisy", "sharp", "vgg19"]
    assert "Left out cut (broken)" in (out / "index.html").read_text()
