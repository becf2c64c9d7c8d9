"""Hydra sweeps of the real CLI: a 2 x 2 train.py multirun on the demo gallery and its
re-run (skipped), a joblib extract.py sweep with one failing job, and the SLURM launcher
config (composed and turned into the sbatch script submitit would submit)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import submitit
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf
from submitit.slurm.slurm import _make_sbatch_string

from artrec.tasks.sweeps import register_resolvers
from tests.fixtures import write_image_dataset
from tests.integration.cli import REPO, run_cli

RUN_FILES = ("run.json", "config.yaml", "metrics.json", "per_case.csv", "embeddings.npz")


@pytest.fixture(autouse=True)
def resolvers():
    register_resolvers()  # as the entry scripts do before Hydra composes


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def read_summary(sweep: Path) -> dict[str, dict]:
    with (sweep / "sweep.csv").open() as f:
        return {row["job"]: row for row in csv.DictReader(f)}


def test_two_by_two_train_sweep_then_rerun_skips(tmp_path):
    sweep = tmp_path / "sweep"
    args = (
        "-m",
        "dataset=demo",
        "debug=fast",
        "tuning=shallow,deep",
        "tasks=artist,medium",
        "rec_eval.at_start=false",  # halves the time; start/ is train.py's own tests' business
        f"hydra.sweep.dir={sweep}",
    )
    first = run_cli("train.py", *args)
    jobs = {
        f"dataset=demo,debug=fast,rec_eval.at_start=False,tasks={t},tuning={m}"
        for t in ("artist", "medium")
        for m in ("shallow", "deep")
    }
    assert {p.name for p in sweep.iterdir() if p.is_dir()} == jobs
    summary = read_summary(sweep)
    assert set(summary) == jobs
    for name in jobs:
        out = sweep / name
        assert all((out / f).is_file() for f in RUN_FILES), name
        record, config = read_json(out / "run.json"), OmegaConf.load(out / "config.yaml")
        recall = read_json(out / "metrics.json")["metrics"]["recall@20"]
        assert record["status"] == "completed" and record["objective"] == recall
        assert (record["run_name"], record["group"]) == (name, "sweep")
        assert f"tuning={config.tuning}" in name and f"tasks={next(iter(config.tasks))}" in name
        assert summary[name]["status"] == "completed"
        assert float(summary[name]["objective"]) == pytest.approx(recall)
    assert "Sweep: 4 jobs, 0 failed" in first.stdout
    # the objective (protocol.split=none) is a whole-timeline number: named once, loudly
    assert (first.stdout + first.stderr).count("TEST-SET LEAK: this sweep's objective") == 1

    # every file of the runs untouched (the job logs are appended to)
    files = [p for name in jobs for p in (sweep / name).rglob("*") if p.suffix != ".log"]
    stamps = {p: p.stat().st_mtime_ns for p in files}
    assert len(stamps) >= 4 * len(RUN_FILES)
    again = run_cli("train.py", *args)
    assert again.stdout.count("a completed train run of these settings and inputs") == 4
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def run_in(cwd: Path, script: str, *overrides: str) -> subprocess.CompletedProcess:
    """``python <repo>/<script>`` from another working directory (outputs/ lands there)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, str(REPO / script), *overrides],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_joblib_sweep_with_a_failing_job(tmp_path):
    root = write_image_dataset(tmp_path / "ds", n_items=12)
    done = run_in(
        tmp_path,
        "extract.py",
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "dataset=folder",
        f"dataset.root={root}",
        "debug=fast",
        "backbone.name=test_efficientnet,resnet5O",  # the second is no timm model
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    # outputs/<script>/multirun/<the command's overrides>/<the job's>; no paths in names
    name = "backbone.name=test_efficientnet,resnet5O__dataset=folder__debug=fast"
    sweep = tmp_path / "outputs/extract/multirun" / name
    good, bad = (
        sweep / f"backbone.name={n},dataset=folder,debug=fast"
        for n in ("test_efficientnet", "resnet5O")
    )
    assert all((good / f).is_file() for f in RUN_FILES), output
    record = read_json(good / "run.json")
    assert record["objective"] == read_json(good / "metrics.json")["metrics"]["recall@20"]
    assert record["group"] == sweep.name
    failed = read_json(bad / "run.json")
    assert failed["status"] == "failed" and "'resnet5O' is not a timm model" in failed["error"]
    assert not (bad / "embeddings.npz").exists()
    summary = read_summary(sweep)
    assert {name: row["status"] for name, row in summary.items()} == {
        good.name: "completed",
        bad.name: "failed",
    }
    assert "1 job(s) of this sweep failed" in output


def test_slurm_launcher_composes_into_an_sbatch_script(tmp_path, monkeypatch):
    overrides = [
        "hydra/launcher=slurm",
        "trainer=slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.gpus_per_node=4",
        "hydra.launcher.nodes=2",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # what ${hydra:...} reads inside a job
    trainer = OmegaConf.to_container(cfg.trainer, resolve=True)
    placement = {  # the rest of the group is Lightning's other Trainer arguments
        "accelerator": "gpu",
        "devices": 4,
        "strategy": "ddp",
        "precision": "bf16-mixed",
        "num_nodes": 2,
    }
    assert {key: trainer[key] for key in placement} == placement
    launcher = instantiate(cfg.hydra.launcher)
    assert isinstance(launcher, get_class(cfg.hydra.launcher._target_))
    assert launcher.params["submitit_folder"] == f"{tmp_path / 'sweep'}/.submitit/%j"

    # The plugin's own launch(), stopped where it would submit: submitit needs an srun.
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/srun").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "bin/srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    submitted = {}

    def capture(executor, *args, **kwargs):
        submitted.update(executor._executor.parameters)
        raise InterruptedError

    monkeypatch.setattr(submitit.AutoExecutor, "map_array", capture)
    launcher.config = cfg
    with pytest.raises(InterruptedError):
        launcher.launch([["tuning=deep"]], initial_job_idx=0)
    script = _make_sbatch_string(command="python train.py", folder=str(tmp_path), **submitted)
    for line in (
        "--partition=gpu",
        "--nodes=2",
        "--gpus-per-node=4",
        "--ntasks-per-node=4",
        "--cpus-per-task=8",
        "--mem=64GB",
        "--time=720",
    ):
        assert f"#SBATCH {line}\n" in script
