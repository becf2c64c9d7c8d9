"""Embedding every item across ranks, the one way artrec does it: each rank embeds its
share and writes it to ``<shard_dir>/rank<N>.pt``; global rank zero merges the shares
(each row once, sorted) and removes the directory.

Two drivers feed that path. ``embed_images`` (extract.py) runs Lightning's predict loop, so
``trainer=ddp`` splits the items across GPUs (its sampler pads with repeats, which the merge
drops). ``embed_in_fit`` (the evaluation callback) runs inside a fit, where no predict loop
can: each rank embeds rows ``rank, rank + world_size, ...``. Both embed a batch with
``embed_batch``. Ranks come from the trainer (``global_rank``, ``is_global_zero``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from artrec.data.images import ItemImages
from artrec.io import atomic_path
from artrec.models.log_progress import progress_callbacks

EmbedFn = Callable[[nn.Module, torch.Tensor], torch.Tensor]
Share = dict[str, torch.Tensor]  # rows, ok (the image decoded), vectors (of the ok rows)


def forward(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The module's output: an encoder's embedding, ArtRecModule's shared layer."""
    return module(x)


def embed_batch(module: nn.Module, fn: EmbedFn, batch: Any) -> Share:
    """One batch of ``(x, row, ok)`` samples: its rows, which decoded, and their vectors."""
    x, rows, ok = batch
    ok = ok.bool()
    x = x if ok.all() else x[ok]  # indexing copies the batch
    vectors = fn(module, x.to(module.device)).float().cpu() if ok.any() else torch.empty(0)
    return {"rows": rows.cpu(), "ok": ok.cpu(), "vectors": vectors}


def write_share(shard_dir: Path, rank: int, parts: list[Share]) -> None:
    """This rank's batches as ``rank<N>.pt``, atomically (it replaces a crashed run's)."""
    share = {key: _cat([part[key] for part in parts]) for key in ("rows", "ok", "vectors")}
    with atomic_path(Path(shard_dir) / f"rank{rank}.pt") as tmp:
        torch.save(share, tmp)


def merge_shards(shard_dir: Path, world_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows that embedded (sorted, each once), their vectors, and the rows that failed, from
    the shares of ranks ``0 .. world_size - 1`` (a larger crashed run's extra files are not
    read)."""
    ok_rows, vectors, bad_rows = [], [], []
    for rank in range(world_size):
        share = torch.load(Path(shard_dir) / f"rank{rank}.pt", weights_only=True)
        if share["rows"].numel() == 0:
            continue
        ok = share["ok"].bool()
        ok_rows.append(share["rows"][ok].numpy())
        bad_rows.append(share["rows"][~ok].numpy())
        if share["vectors"].numel():
            vectors.append(share["vectors"].numpy())
    rows = np.concatenate(ok_rows) if ok_rows else np.empty(0, np.int64)
    stacked = np.concatenate(vectors) if vectors else np.empty((0, 0), np.float32)
    rows, first = np.unique(rows, return_index=True)  # padding repeats some rows
    bad = np.unique(np.concatenate(bad_rows)) if bad_rows else np.empty(0, np.int64)
    return rows, stacked[first].astype(np.float32), bad


def _cat(tensors: list[torch.Tensor]) -> torch.Tensor:
    kept = [t for t in tensors if t.numel()]
    return torch.cat(kept) if kept else torch.empty(0)


def _merged_on_zero(trainer: pl.Trainer, shard_dir: Path):
    """After every rank wrote its share: the merge on global rank zero, None elsewhere."""
    trainer.strategy.barrier()
    if not trainer.is_global_zero:
        return None
    merged = merge_shards(shard_dir, trainer.world_size)
    shutil.rmtree(shard_dir, ignore_errors=True)
    return merged


@torch.inference_mode()
def embed_in_fit(
    trainer: pl.Trainer,
    module: nn.Module,
    inputs: Dataset,
    fn: EmbedFn,
    *,
    shard_dir: Path,
    batch_size: int = 64,
    num_workers: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Inside a running fit: every row of ``inputs`` through ``fn`` (eval mode), each rank its
    strided share; ``(rows, vectors, failed rows)`` on global rank zero, None elsewhere."""
    rank, world_size = trainer.global_rank, trainer.world_size
    shard = Subset(inputs, range(rank, len(inputs), world_size))
    # its own generator: evaluation never draws from (or moves) the training random state
    loader = DataLoader(
        shard, batch_size=batch_size, num_workers=num_workers, generator=torch.Generator()
    )
    was_training = module.training
    module.eval()
    write_share(shard_dir, rank, [embed_batch(module, fn, batch) for batch in loader])
    module.train(was_training)
    return _merged_on_zero(trainer, shard_dir)


class EmbedderModule(pl.LightningModule):
    """Wraps any ``images -> [B, D]`` encoder for prediction (eval mode, no gradients)."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def on_predict_start(self) -> None:
        if self.device.type == "cuda":
            self.encoder.to(memory_format=torch.channels_last)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        return self.encoder(images)

    def predict_step(self, batch: Any, batch_idx: int) -> Share:
        return embed_batch(self, forward, batch)


class ShareWriter(BasePredictionWriter):
    """Writes each rank's predictions as its share at the end of the predict loop."""

    def __init__(self, shard_dir: str | Path) -> None:
        super().__init__(write_interval="epoch")
        self.shard_dir = Path(shard_dir)

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices) -> None:
        nested = predictions and isinstance(predictions[0], list)  # one list per dataloader
        write_share(self.shard_dir, trainer.global_rank, predictions[0] if nested else predictions)


def embed_images(
    images: ItemImages,
    encoder: nn.Module,
    *,
    trainer_cfg: dict[str, Any],
    shard_dir: str | Path,
    batch_size: int = 64,
    num_workers: int = 2,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Embed every image with Lightning's predict loop (any strategy, DDP included):
    ``(rows, vectors, failed rows)`` on global rank zero, None on other ranks."""
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
        callbacks=[ShareWriter(shard_dir), *lines],
    )
    trainer.predict(EmbedderModule(encoder), dataloaders=loader, return_predictions=False)
    return _merged_on_zero(trainer, Path(shard_dir))
