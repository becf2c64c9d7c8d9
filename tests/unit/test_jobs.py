"""run_job's run-directory rules (record, reuse, move aside, refuse, resume, lock, labels)
with a trivial task, and the sweep helpers: directory names and the sweep.csv summary."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from artrec.errors import ConfigError, RunDirError
from artrec.io import stable_hash
from artrec.tasks import entry, jobs, sweeps
from artrec.tasks.jobs import JobInfo, config_fingerprint, run_job

REPO = Path(__file__).resolve().parents[2]


class Task:
    """A training-like task (name "train", resumable) that records the configs it was
    called with and returns ``value`` or raises ``error``; ``read`` is what it reads."""

    name = "train"
    resumable = True

    def __init__(self, value=0.25, error=None, read=None):
        self.value, self.error, self.calls = value, error, []
        self.read = dict(read or {"dataset/items.csv": "v1"})

    def inputs(self, cfg):
        return dict(self.read)

    def run(self, cfg):
        self.calls.append(cfg)
        if self.error is not None:
            raise self.error
        return self.value


def config(out: Path, **changes):
    cfg = {
        "output_dir": str(out),
        "run_name": None,
        "group": None,
        "seed": 0,
        "optim": {"lr": 1e-4},
        "data": {"batch_size": 8, "num_workers": 2},
        "ckpt_path": None,
        "progress": True,
        "logger": {"name": "csv"},
        "overwrite": False,
    }
    return {**cfg, **changes}


def run_record(out: Path):
    return json.loads((out / "run.json").read_text())


def files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}


@pytest.fixture(autouse=True)
def rank_zero(monkeypatch):
    for name in jobs.RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_writes_config_then_run_json(tmp_path):
    out = tmp_path / "run"
    task = Task(value=0.5)
    assert run_job(task, config(out), job=JobInfo(overrides=("seed=0",))) == 0.5
    seen = task.calls[0]
    assert seen["run_name"] == "run" and seen["group"] is None
    assert yaml.safe_load((out / "config.yaml").read_text()) == seen
    record = run_record(out)
    assert list(record) == [
        "status",
        "task",
        "config_fingerprint",
        "inputs",
        "run_name",
        "group",
        "overrides",
        "started",
        "objective",
        "finished",
        "seconds",
        "error",
    ]
    assert record["status"] == "completed" and record["task"] == "train"
    assert record["objective"] == 0.5 and record["error"] is None
    assert record["config_fingerprint"] == config_fingerprint(seen)
    assert record["inputs"] == {"dataset/items.csv": "v1"}
    assert record["overrides"] == ["seed=0"] and record["run_name"] == "run"
    assert record["started"] <= record["finished"] and record["seconds"] >= 0
    assert not (out / ".lock").exists()  # released with the run


def test_the_record_says_running_while_the_task_runs(tmp_path):
    out = tmp_path / "run"
    seen = []
    task = Task()
    task.run = lambda cfg: seen.append((run_record(out)["status"], (out / ".lock").is_file()))
    run_job(task, config(out))
    assert seen == [("running", True)]


def test_sweep_labels_and_explicit_ones(tmp_path):
    sweep = JobInfo(overrides=("seed=1",), sweep_dir=tmp_path / "tuning=deep,shallow")
    task = Task()
    run_job(task, config(tmp_path / "seed=1"), job=sweep)
    assert (task.calls[0]["run_name"], task.calls[0]["group"]) == ("seed=1", "tuning=deep,shallow")
    assert run_record(tmp_path / "seed=1")["group"] == "tuning=deep,shallow"
    run_job(task, config(tmp_path / "b", run_name="mine", group="table2"), job=sweep)
    assert (task.calls[1]["run_name"], task.calls[1]["group"]) == ("mine", "table2")


def test_fingerprint_ignores_only_the_listed_keys(tmp_path):
    cfg = config(tmp_path)
    expected = {k: v for k, v in cfg.items() if k not in jobs.FINGERPRINT_IGNORED}
    expected["data"] = {"batch_size": 8}  # data.num_workers dropped, data.batch_size kept
    assert config_fingerprint(cfg) == stable_hash(expected)
    same = config(tmp_path / "x", progress=False, run_name="r", data={"batch_size": 8})
    assert config_fingerprint({**same, "overwrite": True}) == config_fingerprint(cfg)
    assert config_fingerprint(config(tmp_path, seed=1)) != config_fingerprint(cfg)
    assert config_fingerprint(config(tmp_path, data={"batch_size": 9})) != config_fingerprint(cfg)


def test_completed_run_with_the_same_inputs_is_reused_untouched(tmp_path, capsys):
    out = tmp_path / "run"
    run_job(Task(value=0.125), config(out))
    before = files(out)
    again = Task(value=0.9)
    # only keys that do not change results differ: still the same run
    changed = config(out, progress=False, data={"batch_size": 8, "num_workers": 0})
    assert run_job(again, changed) == 0.125
    assert again.calls == []
    assert f"reusing {out}: a completed train run" in capsys.readouterr().out
    assert files(out) == before


def test_changed_input_moves_the_old_result_aside_and_runs_again(tmp_path, caplog):
    out = tmp_path / "run"
    run_job(Task(value=0.125), config(out))
    (out / "metrics.json").write_text("old result")
    old = files(out)
    again = Task(value=0.5, read={"dataset/items.csv": "v2"})
    assert run_job(again, config(out)) == 0.5 and len(again.calls) == 1
    assert "inputs changed since the last run (dataset/items.csv)" in caplog.text
    (moved,) = (out / "previous").iterdir()
    assert files(moved) == old  # nothing lost
    assert not (out / "metrics.json").exists()
    assert run_record(out)["inputs"] == {"dataset/items.csv": "v2"}


def test_other_settings_or_another_task_are_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    run_job(Task(), config(out))
    before = files(out)
    task = Task()
    with pytest.raises(RunDirError) as refused:
        run_job(task, config(out, optim={"lr": 1e-3}))
    message = str(refused.value)
    assert str(out) in message and "changed: ['optim.lr']" in message
    assert "hydra.run.dir=DIR" in message and "overwrite=true" in message
    other = Task()
    other.name = "recommend_eval"
    with pytest.raises(RunDirError, match=r"belongs to an earlier train run \(completed"):
        run_job(other, config(out))
    assert task.calls == other.calls == [] and files(out) == before


def test_overwrite_moves_the_old_files_aside_first(tmp_path):
    out = tmp_path / "run"
    run_job(Task(value=0.125), config(out))
    old = files(out)
    other = Task(value=0.5)
    other.name = "recommend_eval"
    assert run_job(other, config(out, overwrite=True, seed=3)) == 0.5
    (moved,) = (out / "previous").iterdir()
    assert files(moved) == old
    assert run_record(out)["task"] == "recommend_eval"


def test_files_no_run_recorded_are_not_written_over(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(
        RunDirError, match=r"holds files that no artrec run recorded \(\['notes.txt'\]\)"
    ):
        run_job(Task(), config(out))
    (out / "train.log").write_text("a log")  # logs and hidden files do not count
    run_job(Task(), config(out, overwrite=True))
    assert (out / "previous").is_dir() and not (out / "notes.txt").exists()


@pytest.mark.parametrize(
    ("error", "recorded"),
    [
        (ConfigError("objective=rec/x: use rec/<...>."), "objective=rec/x: use rec/<...>."),
        (RuntimeError("boom"), "RuntimeError: boom"),
    ],
)
def test_failure_is_recorded_then_raised_and_retried(tmp_path, error, recorded):
    out = tmp_path / "run"
    with pytest.raises(type(error)):
        run_job(Task(error=error), config(out))
    record = run_record(out)
    assert (record["status"], record["error"], record["objective"]) == ("failed", recorded, None)
    assert (out / "config.yaml").is_file()
    retry = Task(value=0.75)
    assert run_job(retry, config(out)) == 0.75  # a failed run is run again, in place
    assert run_record(out)["status"] == "completed" and run_record(out)["error"] is None
    assert not (out / "previous").exists()


def interrupted(out: Path, cfg: dict, *, status: str = "running") -> None:
    """``out`` as a killed (or failed) training run of ``cfg`` leaves it."""
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints/last.ckpt").write_bytes(b"ckpt")
    cfg = {**cfg, "run_name": out.name}
    (out / "config.yaml").write_text(yaml.safe_dump(cfg))
    record = {"status": status, "task": "train", "config_fingerprint": config_fingerprint(cfg)}
    (out / "run.json").write_text(json.dumps({**record, "inputs": {"dataset/items.csv": "v1"}}))


@pytest.mark.parametrize("status", ["running", "failed"])
def test_interrupted_run_resumes_from_last_checkpoint(tmp_path, capsys, status):
    out = tmp_path / "run"
    interrupted(out, config(out, progress=False), status=status)
    task = Task()
    run_job(task, config(out))
    assert task.calls[0]["ckpt_path"] == "last"
    assert "resuming from checkpoints/last.ckpt" in capsys.readouterr().out
    assert yaml.safe_load((out / "config.yaml").read_text())["ckpt_path"] == "last"


def test_resume_decisions_that_do_not_resume(tmp_path):
    out = tmp_path / "run"
    interrupted(out, config(out))
    task = Task()
    run_job(task, config(out, ckpt_path="/elsewhere/x.ckpt"))  # the user's choice wins
    assert task.calls[-1]["ckpt_path"] == "/elsewhere/x.ckpt"
    task.resumable = False  # extract, recommend_eval: nothing to resume
    interrupted(tmp_path / "e", config(tmp_path / "e"))
    run_job(task, config(tmp_path / "e"))
    assert task.calls[-1]["ckpt_path"] is None
    # the inputs changed: the checkpoint was made from other data, so it is moved aside
    task.resumable, task.read = True, {"dataset/items.csv": "v2"}
    changed = tmp_path / "changed"
    interrupted(changed, config(changed))
    run_job(task, config(changed))
    assert task.calls[-1]["ckpt_path"] is None and not (changed / "checkpoints").exists()


def test_checkpoint_of_other_settings_is_refused(tmp_path):
    out = tmp_path / "run"
    interrupted(out, config(out, seed=1))
    with pytest.raises(RunDirError, match=r"other settings \(changed: \['seed'\]\)"):
        run_job(Task(), config(out, ckpt_path="last"))


def test_a_second_writer_is_refused_with_the_holder(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(out)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    task = Task()
    with pytest.raises(RunDirError, match=rf"in use by another run \(pid={holder.pid} host="):
        run_job(task, config(out))
    holder.stdin = None
    holder.kill()
    holder.wait()
    assert task.calls == []


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from artrec.rundir import RunLock
with RunLock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_non_zero_rank_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    task = Task()
    run_job(task, config(tmp_path / "run"))
    assert len(task.calls) == 1 and not (tmp_path / "run").exists()


def test_directory_names():
    assert sweeps.safe_name("experiment=table2/resnet_deep_ugallery") == (
        "experiment=table2-resnet_deep_ugallery"
    )
    assert sweeps.safe_name("a=it's here") == "a=it_s_here"
    assert sweeps.job_name([]) == "default"
    overrides = ["tuning=shallow", "data.num_workers=0", "dataset.root=/d", "backbone=tiny"]
    overrides += ["logger=none", "logger.project=p", "progress=false", "data.batch_size=4"]
    assert sweeps.job_name(overrides) == "backbone=tiny,data.batch_size=4,tuning=shallow"
    sweep = ["tuning=shallow,deep", "dataset.root=/d", "backbone=tiny"]
    assert sweeps.sweep_name(None, sweep) == "backbone=tiny__tuning=shallow,deep"
    assert sweeps.sweep_name("table2", sweep) == "table2"
    assert sweeps.sweep_name(None, []) == "default"
    long_a, long_b = (sweeps.job_name([f"model.init_from={'x' * 200}{c}"]) for c in "ab")
    assert len(long_a) == sweeps.MAX_NAME and long_a != long_b


def test_resolvers_compose(tmp_path):
    from omegaconf import OmegaConf

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
    assert entry.run_task(Task(error=ConfigError("no such column")), cfg) is None
    assert failure(tmp_path) == "no such column"
    assert run_record(tmp_path / "job")["status"] == "failed"
    assert entry.run_task(Task(value=0.5), cfg) == 0.5
    assert not (tmp_path / ".failures/job.json").exists()
    # other settings now: refused, the completed run.json kept, the failure recorded
    assert entry.run_task(Task(), hydra_job(tmp_path, "seed=7")) is None
    assert "earlier train run with other settings (changed: ['seed'])" in failure(tmp_path)
    assert run_record(tmp_path / "job")["objective"] == 0.5
    other = tmp_path / "other"
    assert entry.run_task(Task(error=RuntimeError("bug")), hydra_job(other)) is None
    assert failure(other) == "RuntimeError: bug"
    assert entry.run_task(Task(), hydra_job(other, "dataset=ugallery")) is None
    assert failure(other).startswith("missing config value 'dataset.root'")


def test_run_task_refuses_local_ddp_in_a_sweep(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_NTASKS", raising=False)
    cfg = hydra_job(tmp_path, "trainer=ddp")
    task = Task()
    assert entry.run_task(task, cfg) is None and task.calls == []
    assert "trainer.strategy=ddp on several devices" in failure(tmp_path)
    assert entry.run_task(task, hydra_job(tmp_path, "trainer=ddp_sim")) == 0.25


def test_run_task_single_run_exits_1_on_user_errors(tmp_path):
    cfg = hydra_job(tmp_path, multirun=False)
    with pytest.raises(SystemExit) as stopped:
        entry.run_task(Task(error=ConfigError("bad")), cfg)
    assert stopped.value.code == 1
    with pytest.raises(RuntimeError):  # a bug keeps its traceback
        entry.run_task(Task(error=RuntimeError("bug")), cfg)
    assert not (tmp_path / ".failures").exists()
