"""Collecting run directories for the report: labels, statuses, groups, clear errors."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml
from report_testkit import backbone_config, config, shared_sweep, vectors, write_run

from artrec.errors import ReportError
from artrec.recsys import ProtocolConfig
from artrec.reporting.paper_tables import table2, table2_text
from artrec.reporting.runs import find_runs, group_runs, load_run


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


def test_unreadable_files_name_the_file_and_the_fix(tmp_path):
    _, sweep = shared_sweep()
    run = tmp_path / "vgg19"
    shutil.copytree(sweep / "vgg19", run)
    (run / "metrics.json").write_text("{not json")
    with pytest.raises(ReportError, match=r"metrics\.json: unreadable .*re-run the job"):
        find_runs([tmp_path])
    shutil.copy(sweep / "vgg19" / "metrics.json", run / "metrics.json")
    (run / "per_case.csv").unlink()
    with pytest.raises(ReportError, match=r"completed but \['per_case\.csv'\] missing"):
        find_runs([tmp_path])
    shutil.copy(sweep / "vgg19" / "per_case.csv", run / "per_case.csv")
    (run / "per_case.csv").write_text("user_id,time\nu1,1\n")
    with pytest.raises(ReportError, match=r"per_case\.csv: unreadable per-case results"):
        group_runs(find_runs([tmp_path]))
    (run / "run.json").write_text(json.dumps({"status": "done"}))
    with pytest.raises(ReportError, match="status 'done' is not completed or failed"):
        find_runs([tmp_path])


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
