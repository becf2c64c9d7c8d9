"""A run loads each dataset once and fingerprints its images once: the fingerprints it
records (``Task.inputs``) are handed to the task (``Task.run(cfg, inputs)``), whose image
cache is keyed by the recorded fingerprint rather than by hashing every image again."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from artrec import rundir
from artrec.data.dataset import load_dataset
from artrec.data.image_cache import image_cache_for
from artrec.embeddings import EmbeddingTable, save_embeddings
from artrec.models.backbone import BackboneSpec, build_backbone
from artrec.tasks import extract, recommend_eval, train
from artrec.tasks.jobs import run_job
from tests.fixtures import write_image_dataset
from tests.integration.cli import TINY_TRAIN

CONF = Path(__file__).resolve().parents[2] / "conf"
QUICK = ("trainer.max_epochs=1", "trainer.limit_train_batches=1", "rec_eval.at_start=false")


def spy(monkeypatch, function, key) -> Counter:
    """Count the calls of ``function`` by ``key(first argument)``, in every artrec module
    that imported it."""
    calls: Counter = Counter()

    def counted(first, *args, **kwargs):
        calls[key(first)] += 1
        return function(first, *args, **kwargs)

    for module in [m for name, m in sys.modules.items() if name.startswith("artrec")]:
        if getattr(module, function.__name__, None) is function:
            monkeypatch.setattr(module, function.__name__, counted)
    return calls


@pytest.fixture()
def counts(monkeypatch, tmp_path):
    """Datasets loaded (by root) and image sets fingerprinted (by their first image's folder),
    with an empty image cache."""
    monkeypatch.setenv("ARTREC_CACHE", str(tmp_path / "cache"))
    loads = spy(monkeypatch, load_dataset, lambda root: Path(root).name)
    digests = spy(monkeypatch, rundir.image_set_digest, lambda paths: Path(paths[0]).parts[-3])
    return loads, digests


def config(name: str, *overrides: str) -> dict:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(name, overrides=[*overrides, "progress=false"])
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)  # as entry.py does


def test_train_loads_its_dataset_and_hashes_its_images_once(tmp_path, counts):
    root = write_image_dataset(tmp_path / "train_ds", n_items=30, size=32)
    cfg = config(
        "train",
        *TINY_TRAIN,
        "dataset=folder",
        f"dataset.root={root}",
        *QUICK,
        f"output_dir={tmp_path / 'run'}",
        "logger=none",
    )
    run_job(train.TASK, cfg)
    loads, digests = counts
    assert loads == {"train_ds": 1} and digests == {"train_ds": 1}
    assert len(list((tmp_path / "cache/images").iterdir())) == 1


def test_train_judged_elsewhere_loads_and_hashes_each_dataset_once(tmp_path, counts):
    root = write_image_dataset(tmp_path / "train_ds", n_items=30, size=32)
    judged = write_image_dataset(tmp_path / "judged_ds", n_items=20, size=32, seed=1)
    cfg = config(
        "train",
        *TINY_TRAIN,
        "dataset=folder",
        f"dataset.root={root}",
        "dataset@rec_eval.dataset=folder",
        f"rec_eval.dataset.root={judged}",
        *QUICK,
        f"output_dir={tmp_path / 'run'}",
        "logger=none",
    )
    run_job(train.TASK, cfg)
    loads, digests = counts
    assert loads == {"train_ds": 1, "judged_ds": 1}
    assert digests == {"train_ds": 1, "judged_ds": 1}
    assert len(list((tmp_path / "cache/images").iterdir())) == 2


def test_extract_hashes_its_images_once_and_keys_the_cache_as_before(tmp_path, counts):
    root = write_image_dataset(tmp_path / "extract_ds", n_items=12, size=32)
    cfg = config(
        "extract",
        "backbone=tiny",
        "backbone.input_size=32",
        "dataset=folder",
        f"dataset.root={root}",
        "num_workers=0",
        f"output_dir={tmp_path / 'run'}",
        "logger=none",
    )
    run_job(extract.TASK, cfg)
    loads, digests = counts
    assert loads == {"extract_ds": 1} and digests == {"extract_ds": 1}
    recorded = json.loads((tmp_path / "run/run.json").read_text())["inputs"]
    paths = load_dataset(root).items["image"].tolist()
    assert recorded["dataset/images"] == rundir.image_set_digest(paths)
    transform = build_backbone(BackboneSpec.from_config(cfg["backbone"])).transform(training=False)
    built = list((tmp_path / "cache/images").iterdir())
    again = image_cache_for(paths, transform, enabled=True, progress=False)  # key taken anew
    assert [again.folder] == built


def test_recommend_eval_loads_its_dataset_once(tmp_path, counts):
    root = write_image_dataset(tmp_path / "eval_ds", n_items=12, size=32)
    ids = load_dataset(root).items["item_id"].to_numpy(dtype=str)
    vectors = np.random.default_rng(0).normal(size=(len(ids), 4)).astype(np.float32)
    embeddings = save_embeddings(EmbeddingTable(ids, vectors), tmp_path / "e.npz")
    cfg = config(
        "recommend_eval",
        "dataset=folder",
        f"dataset.root={root}",
        f"embeddings={embeddings}",
        f"output_dir={tmp_path / 'run'}",
    )
    run_job(recommend_eval.TASK, cfg)
    loads, digests = counts
    assert loads == {"eval_ds": 1} and digests == {}  # it reads no image
