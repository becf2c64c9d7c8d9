"""Run directories for the report tests, made the way the tasks make them: a small
generated gallery, embeddings saved with their meta, ``evaluate()`` + ``write_result``,
then config.yaml and run.json per the run directory contract."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import yaml

from artrec.data.dataset import Dataset, load_dataset
from artrec.data.gallery import generate_gallery
from artrec.embeddings import EmbeddingTable, save_embeddings
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.evaluate import evaluate
from artrec.recsys.result import write_result

SMALL = {"items": 400, "users": 30, "transactions": 120, "artists": 6, "image_size": 32}
#: Frozen extractors: run name -> (ImageNet top-1, top-5, noise on the artist signal).
BACKBONES = {
    "resnet50": (75.2, 92.2, 0.8),
    "vgg19": (71.1, 89.8, 1.5),
    "nasnetalarge": (82.7, 96.2, 3.0),
}


def make_gallery(root: Path) -> Dataset:
    return load_dataset(generate_gallery(root / "gallery", **SMALL, seed=0))


def vectors(dataset: Dataset, noise: float, seed: int) -> EmbeddingTable:
    """The artist as a one-hot signal plus Gaussian noise: less noise, better recall."""
    rng = np.random.default_rng(seed)
    codes = dataset.items["artist"].astype("category").cat.codes.to_numpy()
    signal = np.eye(codes.max() + 1)[codes]
    values = signal + noise * rng.standard_normal((len(codes), 8))[:, : signal.shape[1]]
    values = np.hstack([values, noise * rng.standard_normal((len(codes), 4))])
    return EmbeddingTable(dataset.item_ids, values.astype(np.float32))


def write_run(
    out: Path,
    dataset: Dataset,
    table: EmbeddingTable,
    config: dict | None,
    *,
    task: str = "extract",
    protocol: ProtocolConfig | None = None,
    meta: dict | None = None,
) -> Path:
    """A completed run directory (config.yaml and run.json only when ``config`` is given)."""
    table = EmbeddingTable(table.item_ids, table.vectors, meta or {}, source=str(out))
    out.mkdir(parents=True, exist_ok=True)
    save_embeddings(table, out / "embeddings.npz")
    result = evaluate(dataset, table, protocol or ProtocolConfig())
    write_result(result, out, str(out / "embeddings.npz"), str(dataset.root))
    if config is not None:
        (out / "config.yaml").write_text(yaml.safe_dump(config))
        info = {
            "status": "completed",
            "task": task,
            "objective": result.metrics["recall@20"],
            "fingerprint": "f" * 16,
            "run_name": config.get("run_name") or out.name,
            "group": None,
            "overrides": [],
            "started": "2026-01-01T00:00:00+00:00",
            "finished": "2026-01-01T00:01:00+00:00",
            "seconds": 60.0,
            "error": None,
        }
        (out / "run.json").write_text(json.dumps(info))
    return out


def several_systems(root: Path, dataset: Dataset, status: str = "completed") -> Path:
    """A recommend_eval of two embeddings files: systems/<name>/ and the run's run.json."""
    for seed, name in enumerate(("sharp", "noisy")):
        write_run(root / "systems" / name, dataset, vectors(dataset, 0.5 + 2 * seed, seed), None)
    (root / "comparison.md").write_text("| system |\n")
    (root / "config.yaml").write_text(
        yaml.safe_dump({"dataset": {"name": "demo"}, "group": None, "embeddings": "x"})
    )
    info = {"task": "recommend_eval", "status": status, "run_name": root.name}
    (root / "run.json").write_text(json.dumps(info))
    return root


def backbone_config(name: str, top1: float | None, top5: float | None, **extra) -> dict:
    return {
        "preset": name,
        "name": name,
        "pretrained": True,
        "weights": None,
        "imagenet_top1": top1,
        "imagenet_top5": top5,
        **extra,
    }


def config(dataset: Dataset, backbone: dict, **extra) -> dict:
    return {
        "run_name": None,
        "group": "table1",
        "dataset": {"name": "folder", "root": str(dataset.root)},
        "backbone": backbone,
        "protocol": ProtocolConfig().to_dict(),
        **extra,
    }


def build_sweep(root: Path) -> tuple[Dataset, Path]:
    """A sweep directory: three ImageNet backbones, a random-init one, a train run (with
    start/), a failed job, a job without run.json, and a legacy recommend_eval output."""
    dataset = make_gallery(root)
    sweep = root / "sweep"
    for seed, (name, (top1, top5, noise)) in enumerate(BACKBONES.items()):
        cfg = config(dataset, backbone_config(name, top1, top5))
        write_run(sweep / name, dataset, vectors(dataset, noise, seed), cfg)
    random_init = backbone_config("resnet50", 75.2, 92.2, pretrained=False)
    cfg = config(dataset, random_init, run_name="resnet50_random_init")
    write_run(sweep / "4", dataset, vectors(dataset, 6.0, 7), cfg)
    train = config(
        dataset,
        backbone_config("resnet50", 75.2, 92.2),
        tuning={"mode": "deep"},
        tasks={"artist": {"column": "artist", "kind": "classification", "weight": 1.0}},
        rec_eval={"dataset": None},
    )
    deep = write_run(sweep / "deep", dataset, vectors(dataset, 0.3, 9), train, task="train")
    shutil.copytree(sweep / "resnet50", deep / "start", ignore=shutil.ignore_patterns("*.yaml"))
    (deep / "start" / "run.json").unlink()
    failed = sweep / "broken"
    failed.mkdir()
    (failed / "config.yaml").write_text(yaml.safe_dump(config(dataset, backbone_config("x", 1, 2))))
    error = "Traceback ...\nRuntimeError: CUDA out of memory"
    (failed / "run.json").write_text(
        json.dumps({"status": "failed", "task": "extract", "error": error})
    )
    running = sweep / "running"
    running.mkdir()
    (running / "config.yaml").write_text(
        yaml.safe_dump(config(dataset, backbone_config("y", 1, 2)))
    )
    legacy = root / "legacy" / "histogram"
    write_run(legacy, dataset, vectors(dataset, 2.0, 11), None)
    return dataset, sweep


@functools.cache
def shared_sweep() -> tuple[Dataset, Path]:
    """One :func:`build_sweep` per test process (read it; copy it to change it)."""
    root = Path(tempfile.mkdtemp(prefix="artrec-report-test-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build_sweep(root)
