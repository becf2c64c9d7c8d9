"""Embedding every item inside a running fit, each rank its share, gathered on rank 0."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

EmbedFn = Callable[[nn.Module, torch.Tensor], torch.Tensor]


def start_embedding(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The backbone's features (cached features already are)."""
    return module.backbone_features(x) if x.ndim == 4 else x


def shared_embedding(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The shared layer's activations: the fine-tuned item embedding."""
    return module(x)


@torch.inference_mode()
def embed_shard(
    module: nn.Module,
    inputs: Dataset,
    fn: EmbedFn,
    *,
    rank: int,
    world_size: int,
    batch_size: int = 64,
    num_workers: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``rank, rank + world_size, ...`` of ``inputs`` (``(x, row, ok)`` samples): the
    rows that embedded and their vectors."""
    shard = Subset(inputs, range(rank, len(inputs), world_size))
    was_training = module.training
    module.eval()
    rows, vectors = [], []
    # its own generator: evaluation never draws from (or moves) the training random state
    loader = DataLoader(
        shard, batch_size=batch_size, num_workers=num_workers, generator=torch.Generator()
    )
    for x, row, ok in loader:
        out = fn(module, x[ok].to(module.device)).float().cpu()
        rows.append(row[ok].numpy())
        vectors.append(out.numpy())
    module.train(was_training)
    if not rows:
        return np.empty(0, np.int64), np.empty((0, 0), np.float32)
    return np.concatenate(rows), np.concatenate(vectors)


def gather_on_rank_zero(
    rows: np.ndarray, vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """All ranks' (rows, vectors), merged and sorted by row, on rank 0; None elsewhere."""
    if not (dist.is_available() and dist.is_initialized()):
        order = np.argsort(rows, kind="stable")
        return rows[order], vectors[order]
    parts: list = [None] * dist.get_world_size()
    dist.gather_object((rows, vectors), parts if dist.get_rank() == 0 else None, dst=0)
    if dist.get_rank() != 0:
        return None
    parts = [p for p in parts if len(p[0])]
    all_rows = np.concatenate([p[0] for p in parts])
    all_vectors = np.concatenate([p[1] for p in parts])
    unique, first = np.unique(all_rows, return_index=True)
    return unique, all_vectors[first]
