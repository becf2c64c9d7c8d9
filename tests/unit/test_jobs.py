"""The sweep helpers (directory names, resolvers, the sweep.csv summary) and run_task, the
bridge from a Hydra job to run_job."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from jobs_testkit import Task, config, run_record
from omegaconf import open_dict

from artrec.errors import ConfigError
from artrec.tasks import entry, jobs, sweeps
from artrec.tasks.configs import TrainConfig
from artrec.tasks.jobs import JobInfo, run_job

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def rank_zero(monkeypatch):
    for name in jobs.RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_directory_names():
    assert sweeps.safe_name("experiment=table2/resnet_deep_ugallery") == (
        "experiment=table2-resnet_deep_ugallery"
    )
    assert sweeps.safe_name("a=it's here") == "a=it_s_here"
    assert sweeps.job_name([]) == "default"
    overrides = ["tuning=shallow", "data.num_workers=0", "dataset.root=/d", "backbone=tiny"]
    overrides += ["logger=none", "logger.project=p", "progress=false", "data.train_batch_size=4"]
    assert sweeps.job_name(overrides) == "backbone=tiny,data.train_batch_size=4,tuning=shallow"
    sweep = ["tuning=shallow,deep", "dataset.root=/d", "backbone=tiny"]
    assert sweeps.sweep_name(None, sweep) == "backbone=tiny__tuning=shallow,deep"
    assert sweeps.sweep_name("table2", sweep) == "table2"
    assert sweeps.sweep_name(None, []) == "default"
    long_a, long_b = (sweeps.job_name([f"model.init_from={'x' * 200}{c}"]) for c in "ab")
    assert len(long_a) == sweeps.MAX_NAME and long_a != long_b


def test_resolvers_compose(tmp_path):
    from omegaconf import OmegaConf

    sweeps.register_resolvers()  # as the entry scripts do before Hydra composes
    cfg = OmegaConf.create(
        {
            "group": None,
            "overrides": ["experiment=table2/a,table2/b", "progress=false"],
            "dir": "${artrec.sweep_name:${group},${overrides}}",
            "job": "${artrec.job_name:${overrides}}",
        }
    )
    assert cfg.dir == "experiment=table2-a,table2-b"
    cfg.overrides = ["experiment=table2/a"]
    assert cfg.dir == "experiment=table2-a,table2-b"  # cached: every job keeps the sweep's
    assert cfg.job == "experiment=table2-a"


def test_sweep_summary(tmp_path):
    run_job(Task(value=0.5), config(tmp_path / "a=1"))
    with pytest.raises(ConfigError):
        run_job(Task(error=ConfigError("bad value")), config(tmp_path / "a=2"))
    (tmp_path / "a=3").mkdir()
    (tmp_path / "a=3/config.yaml").write_text("seed: 0\n")
    (tmp_path / "not_a_job").mkdir()
    # a=4 failed before it could run (no run.json); a=1 completed, later refused
    for name, error in (("a=4", "missing config value"), ("a=1", "belongs to an earlier run")):
        sweeps.record_failure(JobInfo(sweep_dir=tmp_path, output_dir=tmp_path / name), error)
    rows = sweeps.sweep_rows(tmp_path)
    assert [(r.job, r.status, r.objective, r.error) for r in rows] == [
        ("a=1", "failed", None, "belongs to an earlier run"),
        ("a=2", "failed", None, "bad value"),
        ("a=3", "incomplete", None, None),
        ("a=4", "failed", None, "missing config value"),
    ]
    assert rows[0].failed_at is not None and rows[1].failed_at is None
    sweeps.write_summary(rows, tmp_path / "sweep.csv")
    with (tmp_path / "sweep.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [row["job"] for row in table] == ["a=1", "a=2", "a=3", "a=4"]
    assert (table[1]["error"], table[2]["seconds"]) == ("bad value", "")
    assert float(table[1]["seconds"]) == rows[1].seconds
    sweeps.clear_failure(JobInfo(sweep_dir=tmp_path, output_dir=tmp_path / "a=1"))
    assert sweeps.sweep_rows(tmp_path)[0].status == "completed"


def hydra_job(tmp_path, *overrides, multirun=True):
    """Sets the Hydra job run_task sees; returns its task config (hydra node dropped)."""
    hydra = [f"hydra.sweep.dir={tmp_path}", f"+hydra.runtime.output_dir={tmp_path / 'job'}"]
    hydra += ["hydra.mode=MULTIRUN"] if multirun else []
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[*hydra, *overrides], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def failure(tmp_path):
    return json.loads((tmp_path / ".failures/job.json").read_text())["error"]


def test_run_task_in_a_sweep_records_failures_and_goes_on(tmp_path):
    cfg = hydra_job(tmp_path)
    assert (
        entry.run_task(Task(error=ConfigError("no such column"), schema=TrainConfig), cfg) is None
    )
    assert failure(tmp_path) == "no such column"
    assert run_record(tmp_path / "job")["status"] == "failed"
    assert entry.run_task(Task(value=0.5, schema=TrainConfig), cfg) == 0.5
    assert not (tmp_path / ".failures/job.json").exists()
    # other settings now: refused, the completed run.json kept, the failure recorded
    assert entry.run_task(Task(schema=TrainConfig), hydra_job(tmp_path, "seed=7")) is None
    assert "earlier train run with other settings (changed: ['seed'])" in failure(tmp_path)
    assert run_record(tmp_path / "job")["objective"] == 0.5
    other = tmp_path / "other"
    assert (
        entry.run_task(Task(error=RuntimeError("bug"), schema=TrainConfig), hydra_job(other))
        is None
    )
    assert failure(other) == "RuntimeError: bug"
    assert entry.run_task(Task(schema=TrainConfig), hydra_job(other, "dataset=ugallery")) is None
    assert failure(other).startswith("missing config value 'dataset.root'")


def test_run_task_refuses_local_ddp_in_a_sweep(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_NTASKS", raising=False)
    cfg = hydra_job(tmp_path, "trainer=ddp")
    task = Task(schema=TrainConfig)
    assert entry.run_task(task, cfg) is None and task.calls == []
    assert "trainer.strategy=ddp on several devices" in failure(tmp_path)
    assert entry.run_task(task, hydra_job(tmp_path, "trainer=ddp_sim")) == 0.25


def test_run_task_single_run_exits_1_on_user_errors(tmp_path):
    cfg = hydra_job(tmp_path, multirun=False)
    with pytest.raises(SystemExit) as stopped:
        entry.run_task(Task(error=ConfigError("bad"), schema=TrainConfig), cfg)
    assert stopped.value.code == 1
    with pytest.raises(RuntimeError):  # a bug keeps its traceback
        entry.run_task(Task(error=RuntimeError("bug"), schema=TrainConfig), cfg)
    assert not (tmp_path / ".failures").exists()
