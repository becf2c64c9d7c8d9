"""The training order and worker seeds as a pure function of (seed, epoch).

A resumed run must draw, in each epoch, what the uninterrupted run drew. Lightning builds
training iterators at moments that differ between a fresh and a resumed run, so nothing
here depends on when an iterator is made or how many were made: the permutation is
computed from ``(seed, epoch)`` at every ``__iter__``, and each loader worker seeds torch,
NumPy and Python from ``(seed, epoch, worker id)`` when it starts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler


def epoch_seed(*parts: int) -> int:
    """A 32-bit seed from ``(seed, epoch[, worker])``: independent streams for each."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


class EpochSampler(Sampler[int]):
    """A random permutation of ``range(n)`` for the current epoch (``set_epoch``)."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
        return iter(torch.randperm(self.n, generator=generator).tolist())

    def __len__(self) -> int:
        return self.n

    def seed_worker(self, worker_id: int) -> None:
        """``worker_init_fn``: augmentation in a worker draws from (seed, epoch, worker)."""
        seed = epoch_seed(self.seed, self.epoch, worker_id)
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
