"""The public UGallery release end to end: convert it (vectors included), then evaluate its
ResNet50 vectors with the paper's metrics, as docs/ugallery-public.md tells a user to."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from artrec.data import load_dataset
from artrec.data.convert import main as convert
from artrec.embeddings import EmbeddingTable
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.evaluate import evaluate
from tests.integration.cli import run_cli

N_ITEMS, N_USERS, DIM = 40, 8, 64


def write_release(folder: Path) -> dict[str, np.ndarray]:
    """A small release in the published format; returns the vector of every artwork id
    (one more vector than items: an id that is no item, which conversion leaves out)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    ids = [f"{rng.integers(16**12):012x}" for _ in range(N_ITEMS)]
    lines = ["artwork_id_hash,artist_id_hash,upload_timestamp"]
    lines += [f"{item},{item[:2]},{1_400_000_000 + 10 * n}" for n, item in enumerate(ids)]
    (folder / "ugallery_inventory.csv").write_text("\n".join(lines) + "\n")
    lines = ["user_id_hash,purchase_timestamp,purchased_artwork_ids_hash"]
    bought = rng.permutation(N_ITEMS)  # one-of-a-kind: each artwork bought once
    for n, row in enumerate(bought[: N_USERS * 4].reshape(-1, 2)):  # 2 baskets a user
        user, time = f"u{n // 2}", 1_400_100_000 + 1000 * n
        lines.append(f"{user},{time},\"['{ids[row[0]]}', '{ids[row[1]]}']\"")
    (folder / "ugallery_purchases.csv").write_text("\n".join(lines) + "\n")
    vectors = {item: rng.normal(size=DIM) for item in [*ids, "not-an-item"]}
    rows = np.empty((len(vectors), 2), dtype=object)
    for row, (item, vector) in enumerate(vectors.items()):
        rows[row, 0], rows[row, 1] = item, vector
    np.save(folder / "ugallery_resnet50_embeddings.npy", rows, allow_pickle=True)
    return vectors


def test_convert_then_evaluate_the_releases_vectors_with_the_papers_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    vectors = write_release(tmp_path / "release")
    out, run = tmp_path / "ugallery", tmp_path / "run"
    assert convert(["ugallery", "--src", str(tmp_path / "release"), "--out", str(out)]) == 0
    report = capsys.readouterr().out
    assert "items with no vector: 0" in report and "vectors with no item (left out): 1" in report
    embeddings = out / "embeddings" / "resnet50.npz"
    run_cli(
        "recommend_eval.py",
        "dataset=ugallery",
        f"dataset.root={out}",
        f"embeddings={embeddings}",
        "protocol.variant=paper",
        "protocol.k=5",
        f"hydra.run.dir={run}",
    )
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["protocol"]["variant"] == "paper" and metrics["n_test_cases"] == N_USERS
    # The same numbers from the release's own vectors, matched by id in this process.
    dataset = load_dataset(out, allow_absolute_images=True)
    ids = dataset.item_ids.tolist()
    table = EmbeddingTable(np.array(ids), np.array([vectors[i] for i in ids], dtype=np.float32))
    expected = evaluate(dataset, table, ProtocolConfig(k=5, variant="paper"))
    for name, value in expected.metrics.items():
        assert metrics["metrics"][name] == pytest.approx(value, rel=1e-6), name
    for name, value in expected.random.items():
        assert metrics["random"][name] == pytest.approx(value, rel=1e-9), name
