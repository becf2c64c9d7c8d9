"""run_job's run-directory rules with a trivial task: record, reuse, move aside, refuse,
resume, lock, labels."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jobs_testkit import Task, config, files, run_record

from artrec.errors import ConfigError, RunDirError
from artrec.io import stable_hash
from artrec.tasks import jobs
from artrec.tasks.configs import TrainConfig
from artrec.tasks.fingerprint import FINGERPRINT_IGNORED, config_fingerprint
from artrec.tasks.jobs import JobInfo, run_job
from tests.fixtures import OLD_TRAIN_RUN


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
    expected = {k: v for k, v in cfg.items() if k not in FINGERPRINT_IGNORED}
    expected["data"] = {"train_batch_size": 8}  # data.num_workers dropped, the batch size kept
    expected["dataset"] = {k: v for k, v in cfg["dataset"].items() if k != "cache_dir"}
    assert config_fingerprint(cfg) == stable_hash(expected)
    same = config(tmp_path / "x", progress=False, run_name="r", data={"train_batch_size": 8})
    assert config_fingerprint({**same, "overwrite": True}) == config_fingerprint(cfg)
    assert config_fingerprint(config(tmp_path, seed=1)) != config_fingerprint(cfg)
    assert config_fingerprint(config(tmp_path, data={"train_batch_size": 9})) != config_fingerprint(
        cfg
    )


def test_completed_run_with_the_same_inputs_is_reused_untouched(tmp_path, capsys):
    out = tmp_path / "run"
    run_job(Task(value=0.125), config(out))
    before = files(out)
    again = Task(value=0.9)
    # only keys that do not change results differ: still the same run
    changed = config(out, progress=False, data={"train_batch_size": 8, "num_workers": 0})
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


def test_a_run_recorded_with_the_tuning_group_is_other_settings(tmp_path, capsys):
    """A run directory written when ``tuning`` was a group (``tuning: {mode: deep}``): the
    same command today composes ``tuning: deep``, which is other settings, as for every
    renamed key (README, "Renamed settings"); overwrite=true moves its files aside."""
    out = shutil.copytree(OLD_TRAIN_RUN, tmp_path / "run")
    recorded = {**yaml.safe_load((out / "config.yaml").read_text()), "output_dir": str(out)}
    assert recorded["tuning"] == {"mode": "deep"}
    read = run_record(out)["inputs"]
    now = {**recorded, "tuning": "deep"}
    with pytest.raises(RunDirError, match=r"changed: \['tuning', 'tuning.mode'\]"):
        run_job(Task(read=read, schema=TrainConfig), now)
    assert "  tuning    deep\n" in capsys.readouterr().out  # today's key choices
    assert (
        run_job(Task(value=0.5, read=read, schema=TrainConfig), {**now, "overwrite": True}) == 0.5
    )
    (moved,) = (out / "previous").iterdir()
    assert yaml.safe_load((moved / "config.yaml").read_text())["tuning"] == {"mode": "deep"}
    assert yaml.safe_load((out / "config.yaml").read_text())["tuning"] == "deep"


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


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"LOCAL_RANK": "1"},
        {"RANK": "0", "LOCAL_RANK": "0"},
        {"RANK": "3", "LOCAL_RANK": "0"},
        {"RANK": "0", "SLURM_PROCID": "2"},  # SLURM allocated, torchrun started the ranks
        {"SLURM_PROCID": "2"},
        {"JSM_NAMESPACE_RANK": "1"},
        {"NODE_RANK": "1", "LOCAL_RANK": "0"},  # node 1's first process, before its trainer
        {"NODE_RANK": "0", "LOCAL_RANK": "0"},
    ],
)
def test_the_writer_is_lightnings_rank_zero_on_node_zero(env, monkeypatch):
    from lightning_fabric.utilities.rank_zero import _get_rank  # the oracle

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    lightning_zero = (_get_rank() or 0) == 0
    assert jobs.is_writer() == (lightning_zero and env.get("NODE_RANK", "0") == "0")
