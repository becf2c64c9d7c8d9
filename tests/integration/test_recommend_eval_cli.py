"""recommend_eval.py as docs/outputs.md invokes it, on one and on several embeddings files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from PIL import Image

from artrec.data import load_dataset
from artrec.data.gallery import ensure_gallery
from artrec.embeddings import EmbeddingTable, save_embeddings
from tests.fixtures import write_image_dataset
from tests.integration.cli import run_cli

METRICS = ["recall@20", "precision@20", "f1@20", "map@20", "mrr@20", "ndcg@20", "auc"]
PER_CASE = "user_id,time,n_candidates,n_relevant,first_rank,recall,precision,f1,map,mrr,ndcg,auc"


def histograms(paths: list[str], bins: int = 8) -> np.ndarray:
    """Joint RGB histograms, computed here with numpy alone (no artrec, no CNN)."""
    rows = []
    for path in paths:
        pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3) // (256 // bins)
        cells = (pixels[:, 0] * bins + pixels[:, 1]) * bins + pixels[:, 2]
        rows.append(np.bincount(cells, minlength=bins**3) / len(cells))
    return np.asarray(rows, dtype=np.float32)


def test_canonical_invocation_writes_spec_outputs(tmp_path):
    root = write_image_dataset(tmp_path / "ds", n_items=12)
    ids = pd.read_csv(root / "items.csv", dtype=str)["item_id"].to_numpy(dtype=str)
    rng = np.random.default_rng(0)
    save_embeddings(
        EmbeddingTable(ids, rng.normal(size=(12, 8)).astype(np.float32)), tmp_path / "e.npz"
    )
    out = tmp_path / "out"
    done = run_cli(
        "recommend_eval.py",
        "dataset=folder",
        f"dataset.root={root}",
        f"embeddings={tmp_path / 'e.npz'}",
        f"hydra.run.dir={out}",
        "protocol.k=5",
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics)[:10] == [
        "k",
        "n_test_cases",
        "n_users",
        "n_skipped",
        "metrics",
        "metrics_by_user",
        "random",
        "protocol",
        "embeddings",
        "dataset",
    ]
    assert metrics["k"] == 5 and metrics["protocol"]["k"] == 5
    assert list(metrics["metrics"]) == [m.replace("@20", "@5") for m in METRICS]
    assert (out / "per_case.csv").read_text().splitlines()[0] == PER_CASE
    assert metrics["n_test_cases"] == len((out / "per_case.csv").read_text().splitlines()) - 1
    assert "recall@5" in done.stdout
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_several_systems_and_missing_embeddings(tmp_path):
    root = write_image_dataset(tmp_path / "ds", n_items=12)
    ids = pd.read_csv(root / "items.csv", dtype=str)["item_id"].to_numpy(dtype=str)
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        vectors = rng.normal(size=(12, 4)).astype(np.float32)
        save_embeddings(EmbeddingTable(ids, vectors), tmp_path / f"runs/{name}/embeddings.npz")
    out = tmp_path / "cmp"
    run_cli(
        "recommend_eval.py",
        "dataset=folder",
        f"dataset.root={root}",
        f"embeddings={tmp_path / 'runs'}",
        f"hydra.run.dir={out}",
    )
    table = pd.read_csv(out / "comparison.csv")
    assert sorted(table["system"].unique()) == ["Random", "a", "b"]
    assert (out / "systems/a/metrics.json").is_file() and (out / "comparison.md").is_file()

    save_embeddings(EmbeddingTable(ids[:10], np.ones((10, 4), np.float32)), tmp_path / "p.npz")
    failed = run_cli(
        "recommend_eval.py",
        "dataset=folder",
        f"dataset.root={root}",
        f"embeddings={tmp_path / 'p.npz'}",
        f"hydra.run.dir={out}/x",
        check=False,
    )
    assert failed.returncode == 1
    assert "missing_embeddings=drop" in failed.stdout + failed.stderr
    run_cli(
        "recommend_eval.py",
        "dataset=folder",
        f"dataset.root={root}",
        f"embeddings={tmp_path / 'p.npz'}",
        f"hydra.run.dir={out}/y",
        "protocol.missing_embeddings=drop",
    )
    assert json.loads((out / "y/metrics.json").read_text())["n_dropped_items"] == 2


def test_colour_histograms_beat_random_threefold_on_the_demo_gallery(tmp_path):
    dataset = load_dataset(ensure_gallery())
    table = EmbeddingTable(dataset.item_ids, histograms(dataset.items["image"].tolist()))
    save_embeddings(table, tmp_path / "hist.npz")
    run_cli(
        "recommend_eval.py",
        "dataset=demo",
        f"embeddings={tmp_path / 'hist.npz'}",
        f"hydra.run.dir={tmp_path / 'out'}",
    )
    metrics = json.loads((tmp_path / "out/metrics.json").read_text())
    assert metrics["n_test_cases"] >= 300
    assert metrics["metrics"]["recall@20"] >= 3 * metrics["random"]["recall@20"]
