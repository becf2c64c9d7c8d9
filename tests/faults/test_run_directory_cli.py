"""The run-directory rules through the real command lines: changed data is never reused,
another run's results are never written over, one writer at a time, kills resume to the
same bytes, unsafe checkpoints never load, unwritable outputs fail in one line."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from artrec.embeddings import EmbeddingTable, load_embeddings, save_embeddings
from tests.faults.faultkit import hold_at, kill_at, run_cli, tree
from tests.fixtures import write_image_dataset

SLOW = pytest.mark.slow
HISTOGRAM = ("backbone=color_histogram", "num_workers=0", "progress=false")


@pytest.fixture
def root(tmp_path):
    return write_image_dataset(tmp_path / "ds", n_items=30, size=32)


def extract(root, out, *extra, check=True):
    return run_cli(
        "extract.py",
        "dataset=folder",
        f"dataset.root={root}",
        *HISTOGRAM,
        f"hydra.run.dir={out}",
        *extra,
        check=check,
    )


def evaluate(root, embeddings, out, *extra, check=True):
    return run_cli(
        "recommend_eval.py",
        "dataset=folder",
        f"dataset.root={root}",
        f"embeddings={embeddings}",
        "progress=false",
        f"hydra.run.dir={out}",
        *extra,
        check=check,
    )


def metrics(run):
    return json.loads((run / "metrics.json").read_text())["metrics"]


def test_regenerated_images_are_not_reused(root, tmp_path):
    out = tmp_path / "run"
    extract(root, out)
    first = tree(out)
    write_image_dataset(root, n_items=30, size=32, seed=7)  # same CSV files, other pictures
    said = extract(root, out).stdout
    assert "inputs changed since the last run (dataset/images)" in said
    assert "reusing" not in said
    extract(root, tmp_path / "fresh")
    assert (
        metrics(out) == metrics(tmp_path / "fresh") != json.loads(first["metrics.json"])["metrics"]
    )
    (moved,) = (out / "previous").iterdir()
    assert tree(moved) == {k: v for k, v in first.items() if not k.endswith(".log")}


@pytest.mark.slow
def test_a_fixed_image_is_extracted_again(root, tmp_path):
    good = (root / "images/004.jpg").read_bytes()
    (root / "images/004.jpg").write_bytes(b"not a picture")
    out = tmp_path / "run"
    extract(root, out, "evaluate=false")
    (root / "images/004.jpg").write_bytes(good)
    extract(root, out, "evaluate=false")
    table = load_embeddings(out / "embeddings.npz")
    assert "004" in table.item_ids.tolist() and len(table) == 30


def test_another_task_never_writes_over_a_finished_run(root, tmp_path):
    out = tmp_path / "run"
    extract(root, out)
    before = tree(out)
    refused = evaluate(root, out / "embeddings.npz", out, check=False)
    assert refused.returncode == 1
    assert f"{out} belongs to an earlier extract run" in refused.stderr
    assert "overwrite=true" in refused.stderr and "Traceback" not in refused.stderr
    assert tree(out) == before  # nothing written, not even a log file
    copy = tmp_path / "kept.npz"
    copy.write_bytes((out / "embeddings.npz").read_bytes())
    evaluate(root, copy, out, "overwrite=true")
    (moved,) = (out / "previous").iterdir()
    assert tree(moved) == before
    assert json.loads((out / "run.json").read_text())["task"] == "recommend_eval"


def random_embeddings(path, n_items=30):
    ids = [f"{i:03d}" for i in range(n_items)]
    vectors = np.random.default_rng(0).normal(size=(n_items, 8)).astype(np.float32)
    return save_embeddings(EmbeddingTable(np.asarray(ids), vectors), path)


def test_one_writer_at_a_time(root, tmp_path):
    embeddings = random_embeddings(tmp_path / "e.npz")
    out, mark = tmp_path / "eval", tmp_path / "holding"
    first = hold_at(
        "recommend_eval.py",
        "run_started",
        mark,
        "dataset=folder",
        f"dataset.root={root}",
        f"embeddings={embeddings}",
        "progress=false",
        f"hydra.run.dir={out}",
    )
    second = evaluate(root, embeddings, out, check=False)
    assert second.returncode == 1
    assert f"{out} is in use by another run (pid={first.pid} " in second.stderr
    mark.unlink()  # let the first one go on
    assert first.wait(timeout=300) == 0, first.stdout.read()
    assert json.loads((out / "run.json").read_text())["status"] == "completed"


@pytest.mark.slow
@pytest.mark.parametrize("point", ["extract_embedded", "extract_saved"])
def test_extract_killed_then_rerun_gives_the_same_bytes(root, tmp_path, point):
    extract(root, tmp_path / "whole")
    out = tmp_path / "run"
    kill_at(
        "extract.py",
        point,
        "dataset=folder",
        f"dataset.root={root}",
        *HISTOGRAM,
        f"hydra.run.dir={out}",
    )
    said = extract(root, out).stdout
    assert ("not extracting again" in said) == (point == "extract_saved")
    for name in ("metrics.json", "per_case.csv"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes().replace(
            str(tmp_path / "whole").encode(), str(out).encode()
        )


def test_recommend_eval_killed_then_rerun_gives_the_same_bytes(root, tmp_path):
    embeddings = random_embeddings(tmp_path / "e.npz")
    evaluate(root, embeddings, tmp_path / "whole")
    out = tmp_path / "run"
    kill_at(
        "recommend_eval.py",
        "evaluated",
        "dataset=folder",
        f"dataset.root={root}",
        f"embeddings={embeddings}",
        "progress=false",
        f"hydra.run.dir={out}",
    )
    assert not (out / "metrics.json").exists()
    evaluate(root, embeddings, out)
    assert (out / "metrics.json").read_bytes() == (tmp_path / "whole/metrics.json").read_bytes()


class RunsCode:
    """A pickled object that would create ``path`` when unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.mark.parametrize(
    "kind",
    ["malicious", pytest.param("truncated", marks=SLOW), pytest.param("foreign", marks=SLOW)],
)
def test_unsafe_or_broken_checkpoints_give_one_line(root, tmp_path, kind):
    ckpt, marker = tmp_path / "x.ckpt", tmp_path / "ran"
    if kind == "malicious":
        torch.save({"state_dict": {}, "payload": RunsCode(marker)}, ckpt)
    elif kind == "truncated":
        torch.save({"state_dict": {"w": torch.zeros(1000)}}, ckpt)
        ckpt.write_bytes(ckpt.read_bytes()[:500])
    else:
        torch.save({"weights": torch.zeros(3)}, ckpt)
    done = extract(root, tmp_path / "run", f"ckpt={ckpt}", check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    expected = {
        "malicious": "was refused: it holds pickled objects",
        "truncated": "cannot be read (",
        "foreign": "has no state_dict: not a checkpoint written by artrec's train.py",
    }[kind]
    assert f"ckpt= {ckpt} {expected}" in done.stdout + done.stderr
    assert not marker.exists()


@pytest.mark.parametrize("multirun", [False, True])
def test_unwritable_output_fails_in_one_line(root, tmp_path, multirun):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    where = f"hydra.sweep.dir={blocker}/sweep" if multirun else f"hydra.run.dir={blocker}/run"
    args = ["-m"] if multirun else []
    done = run_cli(
        "recommend_eval.py",
        *args,
        "dataset=folder",
        f"dataset.root={root}",
        "embeddings=x.npz",
        where,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: cannot write the run directory {blocker}/{'sweep' if multirun else 'run'} "
        "(Not a directory): choose a writable place with hydra.run.dir=DIR "
        "(hydra.sweep.dir=DIR for a sweep)."
    ]
