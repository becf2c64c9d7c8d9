"""train.py end to end on a small image dataset with the tiny backbone: outputs, the
starting / fine-tuned evaluation, determinism, DDP gathering, and resuming after a kill."""

from __future__ import annotations

import json

import pytest
import torch

from artrec.embeddings import load_embeddings
from tests.fixtures import spoil_images, write_image_dataset
from tests.integration.cli import run_cli, train_on_folder


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_image_dataset(tmp_path_factory.mktemp("ds"), n_items=30, size=32)


def train(root, out, *extra, check=True, env=None):
    return train_on_folder(root, out, "logger=none", *extra, check=check, env=env)


def read_metrics(path):
    return json.loads(path.read_text())


def test_outputs_and_determinism(root, tmp_path):
    done = train(root, tmp_path / "a", "trainer.max_epochs=2", env={"ARTREC_CACHE": str(tmp_path)})
    out = tmp_path / "a"
    assert len(list((tmp_path / "images").iterdir())) == 1  # one image cache serves them all
    assert "before (backbone)" in done.stdout and "after (shared layer)" in done.stdout
    for name in (
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
        "start/embeddings.npz",
        "start/metrics.json",
        "embeddings.npz",
        "metrics.json",
        "per_case.csv",
    ):
        assert (out / name).is_file(), name
    final = load_embeddings(out / "embeddings.npz")
    assert final.dim == 16 and len(final) == 30
    assert load_embeddings(out / "start/embeddings.npz").meta["layer"] == "backbone features"
    assert read_metrics(out / "metrics.json")["n_test_cases"] == 27

    train(root, tmp_path / "b", "trainer.max_epochs=2")
    assert (tmp_path / "a/metrics.json").read_bytes() == (tmp_path / "b/metrics.json").read_bytes()

    # extract.py ckpt= embeds with the checkpoint's shared layer, as the callback did
    run_cli(
        "extract.py",
        "dataset=folder",
        f"dataset.root={root}",
        "num_workers=0",
        f"ckpt={out / 'checkpoints/best.ckpt'}",
        "evaluate=false",
        "progress=false",
        f"hydra.run.dir={tmp_path / 'x'}",
    )
    extracted = load_embeddings(tmp_path / "x/embeddings.npz")
    assert extracted.meta["layer"] == "shared layer"
    torch.testing.assert_close(torch.from_numpy(extracted.vectors), torch.from_numpy(final.vectors))


def test_ddp_sim_gathers_the_same_embedding(root, tmp_path):
    train(root, tmp_path / "one", "trainer.max_epochs=1")
    train(root, tmp_path / "ddp", "trainer.max_epochs=1", "trainer=ddp_sim")
    # the starting embedding does not depend on how training is split across ranks
    one, ddp = (load_embeddings(tmp_path / d / "start/embeddings.npz") for d in ("one", "ddp"))
    assert ddp.item_ids.tolist() == one.item_ids.tolist()
    torch.testing.assert_close(torch.from_numpy(ddp.vectors), torch.from_numpy(one.vectors))
    start = [read_metrics(tmp_path / d / "start/metrics.json")["metrics"] for d in ("one", "ddp")]
    assert start[0] == start[1]
    assert read_metrics(tmp_path / "ddp/metrics.json")["n_test_cases"] == 27


def test_frozen_tuning_is_refused(root, tmp_path):
    done = train(root, tmp_path, "tuning=frozen", check=False)
    assert done.returncode == 1
    assert "extract.py" in done.stdout + done.stderr


def test_unreadable_images_are_dropped_with_a_count(tmp_path):
    """Three of 30 items have a bomb, a truncated and an empty image: training goes on
    without them, and both evaluations drop them (each user loses the one test case whose
    ground truth was such an item: 27 - 3 cases)."""
    root = write_image_dataset(tmp_path / "ds", n_items=30, size=32)
    spoil_images(root, {"004": "bomb", "005": "truncated", "006": "empty"})
    done = train(root, tmp_path / "run", "trainer.max_epochs=1")
    for name in ("start/metrics.json", "metrics.json"):
        metrics = read_metrics(tmp_path / "run" / name)
        assert (metrics["n_test_cases"], metrics["n_skipped"], metrics["n_dropped_items"]) == (
            24,
            3,
            3,
        )
    assert load_embeddings(tmp_path / "run/embeddings.npz").skipped_ids == ["004", "005", "006"]
    assert "3 item(s) without an embedding dropped" in done.stdout + done.stderr
