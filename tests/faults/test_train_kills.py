"""train.py killed (SIGKILL) at each defined point, then run again with the same command,
ends with a metrics.json byte-identical to the uninterrupted run's; nothing logged before
the kill is lost."""

from __future__ import annotations

import csv

import pytest

from tests.faults.faultkit import TRAIN_TO_THE_END, kill_at
from tests.fixtures import write_image_dataset
from tests.integration.cli import TINY_TRAIN, train_on_folder


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_image_dataset(tmp_path_factory.mktemp("ds"), n_items=30, size=32)


def train(root, out, *extra, check=True):
    return train_on_folder(root, out, *TRAIN_TO_THE_END, *extra, check=check)


@pytest.fixture(scope="module")
def uninterrupted(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    train(root, out)
    return out


def kill_train(root, out, point):
    kill_at(
        "train.py",
        point,
        "dataset=folder",
        f"dataset.root={root}",
        *TINY_TRAIN,
        *TRAIN_TO_THE_END,
        f"hydra.run.dir={out}",
    )
    assert not (out / "metrics.json").exists()


def killed_then_rerun(root, tmp_path, point):
    out = tmp_path / "run"
    kill_train(root, out, point)
    again = train(root, out)
    return out, again.stdout + again.stderr


def test_kill_after_the_start_evaluation_before_any_checkpoint(root, uninterrupted, tmp_path):
    # the case: the start evaluation was skipped on the re-run and shifted the
    # random stream; the evaluation now has its own generator and each epoch its own seed
    out, said = killed_then_rerun(root, tmp_path, "rec_start_written")
    assert not (out / "previous").exists() and "taking over" in said
    assert (out / "metrics.json").read_bytes() == (uninterrupted / "metrics.json").read_bytes()
    assert (out / "per_case.csv").read_bytes() == (uninterrupted / "per_case.csv").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize(
    "point",
    [
        "rec_start_embedded",  # during the start evaluation
        "train_batch_1_1",  # mid epoch, after the first checkpoint
        "epoch_start_1",  # right after a checkpoint
        "rec_embedded",  # during the final evaluation
    ],
)
def test_kill_anywhere_gives_the_same_bytes(root, uninterrupted, tmp_path, point):
    out, said = killed_then_rerun(root, tmp_path, point)
    if point != "rec_start_embedded":
        assert "resuming from checkpoints/last.ckpt" in said
    assert (out / "metrics.json").read_bytes() == (uninterrupted / "metrics.json").read_bytes()
    if point == "train_batch_1_1":  # the rows logged before the kill are still there
        with (out / "logs/metrics.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        assert len([r for r in rows if r.get("rec_start/recall@20")]) == 1
        assert [r["epoch"] for r in rows if r.get("val/loss")] == ["0", "1", "2"]


@pytest.mark.slow
def test_a_truncated_last_checkpoint_is_named_in_one_line(root, tmp_path):
    out = tmp_path / "run"
    kill_train(root, out, "epoch_start_1")
    last = out / "checkpoints/last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    done = train(root, out, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"ckpt_path= {last} cannot be read (" in done.stdout + done.stderr
