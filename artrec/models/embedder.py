"""Embedding items with Lightning's predict loop, so ``trainer=ddp`` splits them across GPUs.

Every rank writes its share (item rows + vectors) to a shard file; rank 0 merges the shards,
dropping the duplicates that the distributed sampler adds as padding.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter
from torch import nn
from torch.utils.data import DataLoader

from artrec.data.images import ItemImages
from artrec.models.log_progress import progress_callbacks


class EmbedderModule(pl.LightningModule):
    """Wraps any ``images -> [B, D]`` encoder for prediction (eval mode, no gradients)."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def on_predict_start(self) -> None:
        if self.device.type == "cuda":
            self.encoder.to(memory_format=torch.channels_last)

    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
        images, rows, ok = batch
        if self.device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        vectors = self.encoder(images).float()
        return {"rows": rows.cpu(), "ok": ok.cpu(), "vectors": vectors[ok].cpu()}


class ShardWriter(BasePredictionWriter):
    """Writes each rank's predictions to ``shard_dir/rank<N>.pt`` at the end of the loop."""

    def __init__(self, shard_dir: str | Path) -> None:
        super().__init__(write_interval="epoch")
        self.shard_dir = Path(shard_dir)

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices) -> None:
        self.shard_dir.mkdir(parents=True, exist_ok=True)
        nested = predictions and isinstance(predictions[0], list)  # one list per dataloader
        batches = predictions[0] if nested else predictions
        shard = {
            key: torch.cat([batch[key] for batch in batches]) if batches else torch.empty(0)
            for key in ("rows", "ok", "vectors")
        }
        torch.save(shard, self.shard_dir / f"rank{trainer.global_rank}.pt")


def merge_shards(shard_dir: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows that embedded (sorted, each once), their vectors, and the rows that failed."""
    ok_rows, vectors, bad_rows = [], [], []
    for path in sorted(Path(shard_dir).glob("rank*.pt")):
        shard = torch.load(path, weights_only=True)
        if shard["rows"].numel() == 0:
            continue
        ok = shard["ok"].bool()
        ok_rows.append(shard["rows"][ok].numpy())
        bad_rows.append(shard["rows"][~ok].numpy())
        vectors.append(shard["vectors"].numpy())
    rows = np.concatenate(ok_rows) if ok_rows else np.empty(0, np.int64)
    stacked = np.concatenate(vectors) if vectors else np.empty((0, 0), np.float32)
    rows, first = np.unique(rows, return_index=True)  # padding repeats some rows
    bad = np.unique(np.concatenate(bad_rows)) if bad_rows else np.empty(0, np.int64)
    return rows, stacked[first].astype(np.float32), bad


def embed_images(
    images: ItemImages,
    encoder: nn.Module,
    *,
    trainer_cfg: Mapping[str, Any],
    shard_dir: str | Path,
    batch_size: int = 64,
    num_workers: int = 2,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Embed every image with Lightning's predict loop (any strategy, DDP included).

    Returns ``(rows, vectors, failed rows)`` on global rank 0 and ``None`` on other ranks.
    """
    shard_dir = Path(shard_dir)
    if int(os.environ.get("LOCAL_RANK", "0")) == 0 and shard_dir.exists():
        shutil.rmtree(shard_dir)  # a crashed earlier run's shards
    loader = DataLoader(
        images,
        batch_size=batch_size,
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=False,
    )
    bar, lines = progress_callbacks(progress)
    trainer = pl.Trainer(
        **trainer_cfg,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=bar,
        enable_model_summary=False,
        callbacks=[ShardWriter(shard_dir), *lines],
    )
    trainer.predict(EmbedderModule(encoder), dataloaders=loader, return_predictions=False)
    trainer.strategy.barrier()
    if not trainer.is_global_zero:
        return None
    merged = merge_shards(shard_dir)
    shutil.rmtree(shard_dir, ignore_errors=True)
    return merged
