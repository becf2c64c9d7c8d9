"""Collecting run directories for the report: labels, statuses, groups, clear errors."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
import yaml
from report_testkit import (
    backbone_config,
    config,
    several_systems,
    shared_sweep,
    vectors,
    write_run,
)

from artrec.errors import ComparisonError, ReportError
from artrec.recsys.compare import compare_systems
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.evaluate import evaluate
from artrec.reporting.paper_tables import table2, table2_text
from artrec.reporting.report import runs_table
from artrec.reporting.run_dirs import find_runs, load_run
from artrec.reporting.runs import group_runs
from tests.fixtures import OLD_TRAIN_RUN


def _by_label(runs):
    return {run.label: run for run in runs}


def test_a_sweep_lists_every_run_with_its_status():
    _, sweep = shared_sweep()
    runs = _by_label(find_runs([sweep, sweep.parent / "legacy"]))
    # The train run's start/ is part of it, not a run of its own.
    expected = "resnet50 vgg19 nasnetalarge resnet50_random_init deep broken running histogram"
    assert sorted(runs) == sorted(expected.split())
    assert runs["broken"].status == "failed"
    assert runs["broken"].error.endswith("RuntimeError: CUDA out of memory")
    assert runs["running"].status == "incomplete"
    assert "no run.json" in runs["running"].error
    assert runs["histogram"].status == "completed"  # metrics.json + per_case.csv only
    assert (runs["histogram"].task, runs["histogram"].tuning) == ("evaluate", "unknown")
    assert (runs["deep"].task, runs["deep"].tuning, runs["deep"].tasks) == (
        "train",
        "deep",
        "artist",
    )
    assert (runs["vgg19"].task, runs["vgg19"].frozen) == ("extract", True)
    assert (runs["vgg19"].group, runs["histogram"].group) == ("table1", "")


def test_imagenet_accuracy_only_for_the_weights_it_describes():
    _, sweep = shared_sweep()
    runs = _by_label(find_runs([sweep]))
    assert runs["resnet50"].imagenet == (75.2, 92.2)
    assert runs["resnet50_random_init"].imagenet == (None, None)  # pretrained=false
    assert runs["deep"].imagenet == (None, None)  # fine-tuned


def test_per_case_is_read_back_as_written():
    _, sweep = shared_sweep()
    run = load_run(sweep / "vgg19")
    written = pd.read_csv(sweep / "vgg19" / "per_case.csv", dtype={"user_id": str, "time": str})
    assert run.per_case["user_id"].tolist() == written["user_id"].tolist()
    assert run.per_case["time"].tolist() == written["time"].tolist()
    assert run.per_case["recall"].mean() == pytest.approx(run.metrics["metrics"]["recall@20"])


def test_colliding_labels_are_named_by_their_path(tmp_path):
    _, sweep = shared_sweep()
    for name in ("a", "b"):
        shutil.copytree(sweep / "vgg19", tmp_path / name / "vgg19")
    labels = sorted(run.label for run in find_runs([tmp_path]))
    assert labels == ["a/vgg19", "b/vgg19"]


def test_runs_group_by_the_test_cases_they_were_judged_on(tmp_path):
    dataset, sweep = shared_sweep()
    other = config(dataset, backbone_config("vgg19", 71.1, 89.8))
    protocol = ProtocolConfig(min_profile=2)
    write_run(tmp_path / "min2", dataset, vectors(dataset, 1.0, 3), other, protocol=protocol)
    groups = group_runs(find_runs([sweep, tmp_path]))
    assert [len(group.runs) for group in groups] == [5, 1]
    assert groups[1].runs[0].label == "min2"
    assert groups[0].n_cases > groups[1].n_cases
    random = groups[0].random_per_case()
    expected = groups[0].runs[0].metrics["random"]
    assert random["recall"].mean() == pytest.approx(expected["recall@20"], rel=1e-12)
    assert random["ndcg"].mean() == pytest.approx(expected["ndcg@20"], rel=1e-12)


def test_a_directory_without_runs_is_a_clear_error(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(ReportError, match="no run directories at or below it"):
        find_runs([tmp_path / "empty"])
    with pytest.raises(ReportError, match="not a directory"):
        find_runs([tmp_path / "missing"])


def test_unreadable_runs_are_broken_and_name_the_file_and_the_fix(tmp_path):
    _, sweep = shared_sweep()
    run = tmp_path / "vgg19"
    shutil.copytree(sweep / "vgg19", run)
    shutil.copytree(sweep / "resnet50", tmp_path / "resnet50")
    (run / "metrics.json").write_text("{not json")
    with pytest.raises(ReportError, match=r"metrics\.json: unreadable .*re-run the job"):
        load_run(run)
    runs = _by_label(find_runs([tmp_path]))  # the report goes on without it
    assert (runs["vgg19"].status, runs["resnet50"].status) == ("broken", "completed")
    assert re.search(r"metrics\.json: unreadable .*re-run the job", runs["vgg19"].error)
    shutil.copy(sweep / "vgg19" / "metrics.json", run / "metrics.json")
    (run / "per_case.csv").unlink()
    broken = _by_label(find_runs([tmp_path]))["vgg19"]
    assert broken.status == "broken"
    assert "completed but ['per_case.csv'] missing" in broken.error
    (run / "per_case.csv").write_text("user_id,time\nu1,5\n")
    assert "unreadable per-case results" in _by_label(find_runs([tmp_path]))["vgg19"].error


def test_a_recommend_eval_of_several_files_is_one_run_per_system(tmp_path):
    dataset, _ = shared_sweep()
    several_systems(tmp_path / "eval", dataset)
    runs = _by_label(find_runs([tmp_path]))
    assert sorted(runs) == ["noisy", "sharp"]
    assert all(run.completed and run.task == "recommend_eval" for run in runs.values())
    assert (
        runs["sharp"].metrics["metrics"]["recall@20"]
        > runs["noisy"].metrics["metrics"]["recall@20"]
    )
    (groups,) = group_runs(runs.values())
    assert groups.title.startswith("the demo gallery: ")
    several_systems(tmp_path / "stopped", dataset, status="running")
    runs = find_runs([tmp_path / "stopped"])
    assert {run.status for run in runs} == {"incomplete"}
    assert "run.json says running" in runs[0].error


def test_results_moved_aside_are_not_runs(tmp_path):
    _, sweep = shared_sweep()
    shutil.copytree(sweep / "vgg19", tmp_path / "vgg19")
    shutil.copytree(sweep / "resnet50", tmp_path / "vgg19" / "previous" / "20260101T000000")
    shutil.copytree(sweep / "nasnetalarge", tmp_path / "previous" / "20260101T000000")
    assert [run.label for run in find_runs([tmp_path])] == ["vgg19"]


def test_same_names_from_two_roots_get_the_short_part_that_differs(tmp_path):
    _, sweep = shared_sweep()
    for parent in ("monday", "tuesday"):
        shutil.copytree(sweep / "vgg19", tmp_path / parent / "out" / "demo")
    roots = [tmp_path / "monday" / "out" / "demo", tmp_path / "tuesday" / "out" / "demo"]
    assert [run.label for run in find_runs(roots)] == ["monday/vgg19", "tuesday/vgg19"]
    named = tmp_path / "named"
    for part in ("0", "1"):
        shutil.copytree(sweep / "vgg19", named / part)
        cfg = yaml.safe_load((named / part / "config.yaml").read_text())
        (named / part / "config.yaml").write_text(yaml.safe_dump({**cfg, "run_name": "vgg"}))
    assert sorted(run.label for run in find_runs([named])) == ["vgg (0)", "vgg (1)"]


def test_an_extract_from_a_checkpoint_shows_the_fine_tuned_backbone(tmp_path):
    dataset, _ = shared_sweep()
    cfg = config(dataset, backbone_config("efficientnet_lite0", 75.0, 92.0), ckpt="m.ckpt")
    meta = {"backbone": {"name": "resnet18", "preset": "resnet18"}, "checkpoint": "m.ckpt"}
    write_run(tmp_path / "tuned", dataset, vectors(dataset, 1.0, 0), cfg, meta=meta)
    (run,) = find_runs([tmp_path])
    assert (run.backbone["preset"], run.tuning, run.imagenet) == (
        "resnet18",
        "checkpoint",
        (None, None),
    )


def test_deep_runs_show_their_augmentation_in_table2(tmp_path):
    dataset, sweep = shared_sweep()
    shared = _by_label(find_runs([sweep]))
    assert (shared["deep"].augment, shared["vgg19"].augment) == ("imagenet", "")  # predates it
    deep = yaml.safe_load((sweep / "deep" / "config.yaml").read_text())
    table = vectors(dataset, 0.3, 9)
    write_run(tmp_path / "light", dataset, table, {**deep, "augment": {"name": "light"}})
    shallow = {**deep, "tuning": {"mode": "shallow"}, "augment": {"name": "light"}}
    write_run(tmp_path / "shallow", dataset, table, shallow)
    meta = {"tuning": {"mode": "deep"}, "augment": {"name": "none"}}
    write_run(tmp_path / "meta_only", dataset, table, None, meta=meta)
    runs = find_runs([tmp_path])
    assert {run.label: run.augment for run in runs} == {
        "light": "light",
        "shallow": "",  # cached, unaugmented features
        "meta_only": "none",
    }
    t2 = table2(group_runs(runs)[0], alpha=0.05, n_bootstrap=10, seed=0)
    assert t2.runs["augment"].to_dict() == {"light": "light", "shallow": "", "meta_only": "none"}
    cells = {row[0].text: row[1].text for row in table2_text(t2).rows}
    assert (cells["light"], cells["shallow"], cells["meta_only"]) == (
        "deep (light)",
        "shallow",
        "deep (none)",
    )


def test_split_runs_are_compared_on_the_test_period_chosen_on_validation(tmp_path):
    dataset, sweep = shared_sweep()
    deep = yaml.safe_load((sweep / "deep" / "config.yaml").read_text())
    split = ProtocolConfig(split="time")
    for name, noise in (("sharp", 0.3), ("blurred", 2.0)):
        table = vectors(dataset, noise, 5)
        write_run(tmp_path / name, dataset, table, {**deep, "run_name": name}, protocol=split)
    [group] = group_runs(find_runs([tmp_path]))
    metrics = group.runs[0].metrics
    written = pd.read_csv(tmp_path / "sharp" / "per_case.csv", dtype=str)
    assert (written["period"] == "val").sum() == metrics["val"]["n_test_cases"] > 0
    assert group.n_cases == metrics["n_test_cases"] == (written["period"] == "test").sum()
    assert "test cases of the test period" in group.title
    t2 = table2(group, alpha=0.05, n_bootstrap=10, seed=0)
    assert t2.comparison.n_cases == metrics["n_test_cases"]
    for run in group.runs:  # the table's means are the test period's, as in metrics.json
        means = t2.comparison.table.loc[run.label].xs("mean", level=1)
        assert means["recall@20"] == pytest.approx(run.metrics["metrics"]["recall@20"])
        assert means["recall@20"] != pytest.approx(run.metrics["val"]["metrics"]["recall@20"])
    notes = " ".join(table2_text(t2).notes)
    assert f"test cases from {metrics['split']['test_start']}" in notes
    assert "chosen on the validation period" in notes


def test_comparing_validation_cases_is_refused(tmp_path):
    dataset, _ = shared_sweep()
    result = evaluate(dataset, vectors(dataset, 0.3, 5), ProtocolConfig(split="time"))
    rows = result.per_case_rows()
    with pytest.raises(ComparisonError, match="holds validation-period cases"):
        compare_systems({"a": rows, "b": rows}, rows, 20)


def test_the_tuning_reads_from_run_directories_old_and_new(tmp_path):
    """Before ``tuning`` was a key, config.yaml and the embeddings' meta recorded
    ``tuning: {mode: deep}``; now ``tuning: deep``. The report reads both."""
    old = shutil.copytree(OLD_TRAIN_RUN, tmp_path / "old")
    recorded = yaml.safe_load((old / "config.yaml").read_text())
    assert recorded["tuning"] == {"mode": "deep"}
    new = shutil.copytree(OLD_TRAIN_RUN, tmp_path / "new")
    (new / "config.yaml").write_text(yaml.safe_dump({**recorded, "tuning": "shallow"}))
    meta_only = shutil.copytree(OLD_TRAIN_RUN, tmp_path / "meta_only")  # the old meta
    (meta_only / "config.yaml").unlink()
    dataset, _ = shared_sweep()
    write_run(
        tmp_path / "new_meta", dataset, vectors(dataset, 1.0, 0), None, meta={"tuning": "shallow"}
    )
    runs = find_runs([tmp_path])
    tunings = {run.path.name: (run.task, run.tuning) for run in runs}
    assert tunings == {
        "old": ("train", "deep"),
        "new": ("train", "shallow"),
        "meta_only": ("train", "deep"),
        "new_meta": ("evaluate", "shallow"),
    }
    shown = {row[6].text: row[4].text for row in runs_table(runs).rows}
    assert shown[str(old)] == "deep" and shown[str(new)] == "shallow"
