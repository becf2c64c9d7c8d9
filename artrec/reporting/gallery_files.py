"""The report's recommendation galleries as PNG files: which runs of a group get them, and
each run's images rendered (:mod:`artrec.reporting.galleries`) from its own dataset,
embeddings and protocol. A run whose dataset or embeddings cannot be read gets a note
instead, as the tables do not need them."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import torch
from PIL import Image

from artrec.data.dataset import Dataset
from artrec.embeddings import load_embeddings
from artrec.errors import ArtrecError, ReportError
from artrec.io import atomic_path
from artrec.recsys.config import ProtocolConfig
from artrec.reporting.galleries import render_galleries
from artrec.reporting.runs import Run, RunGroup

GALLERY_CHOICES = ("best", "all", "none")


def gallery_runs(group: RunGroup, ranked: list[str], choice: str) -> list[Run]:
    """The runs of ``group`` that get galleries: the best of ``ranked`` labels, all, none."""
    by_label = {run.label: run for run in group.runs}
    count = {"best": 1, "all": len(ranked), "none": 0}[choice]
    return [by_label[label] for label in ranked[:count]]


def write_galleries(
    runs: list[Run], folder: Path, n_cases: int, seed: int, datasets: dict[str, Dataset]
) -> tuple[list[tuple[str, Path]], list[str]]:
    """Render and save each run's galleries of ``n_cases`` test cases sampled with ``seed``:
    (caption, PNG file) per gallery, and a note per run without galleries."""
    galleries, notes = [], []
    for run in runs:
        try:
            dataset = _dataset(run, datasets)
            if run.embeddings_path is None:
                raise ReportError(f"{run.path}: no embeddings.npz, nor one named in metrics.json")
            table = load_embeddings(run.embeddings_path)
            rendered = render_galleries(dataset, table, _protocol(run), n_cases, seed)
        except ArtrecError as exc:
            notes.append(f"No recommendation galleries for {run.label}: {exc}")
            continue
        for number, (caption, image) in enumerate(rendered, start=1):
            path = folder / f"{_slug(run.label)}_case{number}.png"
            _save_png(image, path)
            galleries.append((f"{run.label}: {caption}", path))
    return galleries, notes


def _dataset(run: Run, datasets: dict[str, Dataset]) -> Dataset:
    """The run's dataset, loaded once per report."""
    key = json.dumps(
        [run.config.get("rec_eval"), run.config.get("dataset"), run.metrics.get("dataset")],
        default=str,
    )
    if key not in datasets:
        datasets[key] = run.dataset()
    return datasets[key]


def _protocol(run: Run) -> ProtocolConfig:
    """The settings metrics.json records; on CPU where CUDA is not available."""
    protocol = ProtocolConfig.from_dict(run.metrics.get("protocol") or {})
    if protocol.device == "cuda" and not torch.cuda.is_available():
        protocol = dataclasses.replace(protocol, device="cpu")
    return protocol


def _save_png(image: Image.Image, path: Path) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", optimize=True)


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "run"
