"""extract.py end to end: embeddings file, meta, DDP equality, reuse, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from artrec.data import load_dataset
from artrec.embeddings import load_embeddings
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.evaluate import evaluate
from tests.fixtures import spoil_images, write_image_dataset
from tests.integration.cli import run_cli


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory):
    # 13 items: split over 2 ranks, the distributed sampler pads one row
    return write_image_dataset(tmp_path_factory.mktemp("ds"), n_items=13)


def extract(root, out, *extra, check=True, env=None):
    return run_cli(
        "extract.py",
        "dataset=folder",
        f"dataset.root={root}",
        "backbone=tiny",
        "num_workers=0",
        "progress=false",
        f"hydra.run.dir={out}",
        *extra,
        check=check,
        env=env,
    )


def test_single_process_then_ddp_sim_give_the_same_file(dataset_root, tmp_path):
    first = extract(dataset_root, tmp_path / "one", env={"ARTREC_CACHE": str(tmp_path / "c1")})
    assert len(list((tmp_path / "c1/images").iterdir())) == 1  # the image cache, built once
    single = load_embeddings(tmp_path / "one/embeddings.npz")
    assert single.item_ids.tolist() == [f"{i:03d}" for i in range(13)]
    assert single.meta["backbone"]["weights_source"] == "random-init"
    assert single.meta["n_unreadable_images"] == 0
    metrics = json.loads((tmp_path / "one/metrics.json").read_text())
    assert metrics["n_test_cases"] == 10
    assert "recall@20" in first.stdout

    no_cache = {"ARTREC_CACHE": str(tmp_path / "c2")}
    extract(
        dataset_root,
        tmp_path / "ddp",
        "trainer=ddp_sim",
        "evaluate=false",
        "image_cache=false",
        env=no_cache,
    )
    assert not (tmp_path / "c2/images").exists()
    ddp = load_embeddings(tmp_path / "ddp/embeddings.npz")
    assert ddp.item_ids.tolist() == single.item_ids.tolist()
    np.testing.assert_allclose(ddp.vectors, single.vectors, rtol=1e-5, atol=1e-6)
    assert not (tmp_path / "ddp/.shards").exists()

    again = extract(dataset_root, tmp_path / "one")
    assert "a completed extract run of these settings and inputs" in again.stdout


def test_unknown_backbone_fails_with_suggestions(dataset_root, tmp_path):
    done = extract(dataset_root, tmp_path, "backbone.name=resnet5O", check=False)
    assert done.returncode == 1
    assert "resnet50" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_unreadable_images_are_dropped_with_a_count(tmp_path):
    """Items 004-006 (a bomb, a truncated JPEG, an empty file) are left out of the file and
    dropped by the protocol: the cases whose ground truth they were (one per user) are
    skipped, 10 - 3 remain. recommend_eval's evaluate() on the file drops the same items."""
    root = write_image_dataset(tmp_path / "ds", n_items=13)
    spoil_images(root, {"004": "bomb", "005": "truncated", "006": "empty"})
    done = extract(root, tmp_path / "out")
    table = load_embeddings(tmp_path / "out/embeddings.npz")
    assert table.item_ids.tolist() == [f"{i:03d}" for i in (0, 1, 2, 3, 7, 8, 9, 10, 11, 12)]
    assert table.skipped_ids == ["004", "005", "006"] and table.meta["n_unreadable_images"] == 3
    metrics = json.loads((tmp_path / "out/metrics.json").read_text())
    assert (metrics["n_test_cases"], metrics["n_skipped"], metrics["n_dropped_items"]) == (7, 3, 3)
    log = done.stdout + done.stderr
    assert "3 item(s) left out: their image could not be read" in log
    assert "3 item(s) without an embedding dropped" in log and "Traceback" not in log
    again = evaluate(load_dataset(root), table, ProtocolConfig())
    assert again.metrics == metrics["metrics"] and again.n_dropped_items == 3
