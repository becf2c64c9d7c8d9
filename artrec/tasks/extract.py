"""extract: embed every item of a dataset with a frozen backbone (or the colour histogram),
write ``embeddings.npz`` (docs/data.md), and judge it with the protocol when there are
purchases. A complete output made with the same settings is reused, not recomputed."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import Logger
from rich.console import Console
from torch import nn

import artrec
from artrec.console import make_console
from artrec.data.dataset import Dataset
from artrec.data.fingerprint import dataset_inputs
from artrec.data.image_cache import image_cache_for
from artrec.data.images import ItemImages
from artrec.data.source import load_configured_dataset
from artrec.embeddings import (
    EMBEDDINGS_FILE,
    EmbeddingTable,
    embedded_table,
    load_embeddings,
    save_embeddings,
)
from artrec.errors import ArtrecError, ConfigError
from artrec.faults import fault_point
from artrec.io import stable_hash
from artrec.models.backbone import build_backbone
from artrec.models.checkpoints import read_checkpoint
from artrec.models.color_histogram import ColorHistogramTransform
from artrec.models.config import COLOR_HISTOGRAM
from artrec.models.embedder import embed_images
from artrec.recsys.evaluate import evaluate
from artrec.recsys.result import write_result
from artrec.reporting.console import result_table
from artrec.rundir import SHARDS_DIR, file_input
from artrec.tasks.configs import ExtractConfig
from artrec.tasks.jobs import Task
from artrec.tasks.loggers import open_loggers, publish_results
from artrec.tasks.objective import in_multirun, objective_value


def inputs(cfg: ExtractConfig) -> dict[str, str]:
    """What an extraction reads: the dataset's files and images, and the checkpoint."""
    return _inputs_of(load_configured_dataset(cfg.dataset), cfg)


def _inputs_of(dataset: Dataset, cfg: ExtractConfig) -> dict[str, str]:
    found = dataset_inputs(dataset, images=True)
    if cfg.ckpt:
        found["ckpt"] = file_input(cfg.ckpt)
    return found


def run(cfg: ExtractConfig) -> float | None:
    """Extract (or reuse) the embeddings; return recall@k when they were evaluated."""
    out = Path(cfg.output_dir)
    with open_loggers(cfg, out, task="extract") as loggers:
        return _run(cfg, out, loggers)


def _run(cfg: ExtractConfig, out: Path, loggers: list[Logger]) -> float | None:
    console = make_console()
    dataset = load_configured_dataset(cfg.dataset)
    target = out / EMBEDDINGS_FILE
    settings = {"backbone": dataclasses.asdict(cfg.backbone), "ckpt": cfg.ckpt}
    fingerprint = stable_hash(settings, _inputs_of(dataset, cfg))  # the dataset, loaded once
    table = _reusable(target, fingerprint)
    if table is not None:
        console.print(f"{target} is complete for these settings and inputs; not extracting again.")
    else:
        table = _extract(dataset, cfg, fingerprint, console)
        if table is None:  # a non-zero DDP rank: rank 0 writes and evaluates
            return None
        fault_point("extract_embedded")
        save_embeddings(table, target)
        console.print(f"Embeddings of {len(table)} items ({table.dim}-d) written to {target}")
    if not cfg.evaluate or dataset.purchases.empty:
        return None
    fault_point("extract_saved")
    protocol = cfg.protocol
    result = evaluate(dataset, table, protocol, progress=cfg.progress)
    write_result(result, out, embeddings_label=str(target), dataset_label=str(dataset.root))
    publish_results(loggers, out, dataset=dataset, table=table, protocol=protocol)
    console.print(result_table(result, title=f"{table.meta.get('backbone', {}).get('name')}"))
    objective = f"rec/recall@{protocol.k}"  # with split=time, the validation period's
    return objective_value(
        result.logged_metrics(), objective, protocol.split, multirun=in_multirun()
    )


def _reusable(target: Path, fingerprint: str) -> EmbeddingTable | None:
    """The embeddings an interrupted run of these settings and inputs already wrote."""
    if not target.is_file():
        return None
    try:
        table = load_embeddings(target)
    except ArtrecError:
        return None
    return table if table.meta.get("fingerprint") == fingerprint else None


def _encoder(cfg: ExtractConfig) -> tuple[nn.Module, Any, dict[str, Any]]:
    """The network (or identity), its image transform, and its provenance."""
    spec = cfg.backbone
    if cfg.ckpt:
        return _fine_tuned(Path(cfg.ckpt))
    if spec.name == COLOR_HISTOGRAM:
        transform = ColorHistogramTransform(bins=spec.bins, resize=spec.resize)
        return nn.Identity(), transform, transform.meta()
    backbone = build_backbone(spec)
    return backbone, backbone.transform(training=False), backbone.meta()


def _fine_tuned(ckpt: Path) -> tuple[nn.Module, Any, dict[str, Any]]:
    """A train.py checkpoint: its own backbone, and the shared layer as the embedding."""
    from artrec.models.module import ArtRecModule

    read_checkpoint(ckpt, what="ckpt=")  # one-line errors for missing, truncated, unsafe files
    module = ArtRecModule.load_from_checkpoint(ckpt, map_location="cpu", weights_only=True)
    meta = {
        **module.backbone.meta(),
        "weights_source": f"checkpoint:{ckpt}",
        "feature": "shared layer",
        "feature_dim": module.shared_dim,
    }
    return module.eval(), module.backbone.transform(training=False), meta


def _extract(
    dataset: Dataset, cfg: ExtractConfig, fingerprint: str, console: Console
) -> EmbeddingTable | None:
    pl.seed_everything(cfg.seed, verbose=False)
    encoder, transform, backbone_meta = _encoder(cfg)
    if "image" not in dataset.items.columns:
        raise ConfigError(f"{dataset.root}/items.csv has no 'image' column: nothing to embed.")
    paths = dataset.items["image"].tolist()
    cache = image_cache_for(
        paths,
        transform,
        enabled=cfg.image_cache,
        num_workers=cfg.num_workers,
        progress=cfg.progress,
    )
    on_error = cfg.dataset.image_errors
    images = ItemImages(paths, transform, on_error=on_error, cache=cache)
    started = time.perf_counter()
    merged = embed_images(
        images,
        encoder,
        trainer_cfg=dataclasses.asdict(cfg.trainer),
        shard_dir=Path(cfg.output_dir) / SHARDS_DIR,
        batch_size=cfg.embed_batch_size,
        num_workers=cfg.num_workers,
        progress=cfg.progress,
    )
    if merged is None:
        return None
    rows, vectors, _ = merged
    seconds = time.perf_counter() - started
    console.print(
        f"Embedded {len(rows)} images in {seconds:.1f} s ({len(rows) / seconds:.1f} images/s)"
    )
    ids = dataset.items["item_id"].to_numpy(dtype=str)
    meta = {
        "backbone": backbone_meta,
        "layer": backbone_meta.get("feature"),
        "dataset": str(dataset.root),
        "checkpoint": cfg.ckpt,
        "fingerprint": fingerprint,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {
            "artrec": artrec.__version__,
            "torch": torch.__version__,
            "pytorch_lightning": pl.__version__,
        },
    }
    return embedded_table(ids, rows, vectors, meta, source=cfg.output_dir)


TASK = Task("extract", run, schema=ExtractConfig, inputs=inputs)
