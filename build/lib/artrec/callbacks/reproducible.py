"""Training that a kill cannot change: the same result whether a run was interrupted or not.

Resuming from a checkpoint restores weights, optimiser, early-stopping and loop state, but
not the random streams. This callback gives every epoch random state derived from
``(seed, epoch)`` alone: the training order and worker seeds (``EpochSampler``) and the
global torch, NumPy and Python generators (dropout, augmentation in the main process), so
an epoch after a resume draws exactly what it would have drawn. (Lightning writes
``last.ckpt`` only at epochs that improved the monitored loss, so a resumed run may redo a
few epochs; it redoes them identically.) It also marks the kill points of the fault tests
(``artrec.faults``).
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl

from artrec.data.epoch_sampler import EpochSampler, epoch_seed
from artrec.faults import fault_point


class ReproducibleEpochs(pl.Callback):
    """Seed each epoch from (seed, epoch); carry the next epoch through checkpoints (which
    this run writes at epoch ends only)."""

    def __init__(self, seed: int, sampler: EpochSampler) -> None:
        self.seed, self.sampler = seed, sampler
        self._trainer: pl.Trainer | None = None
        self._restored: dict[str, Any] = {}

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning makes the first training iterator before on_train_epoch_start: when
        # resuming, that iterator is the restored epoch's, so its epoch is set here.
        self.sampler.set_epoch(int(self._restored.get("next_epoch", 0)))

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch
        fault_point(f"epoch_start_{epoch}")  # the previous epoch's checkpoint is written
        self.sampler.set_epoch(epoch)
        pl.seed_everything(epoch_seed(self.seed, epoch), workers=True, verbose=False)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        fault_point(f"train_batch_{trainer.current_epoch}_{idx}")

    def state_dict(self) -> dict[str, Any]:
        # called while ModelCheckpoint writes, at an epoch's end
        return {} if self._trainer is None else {"next_epoch": self._trainer.current_epoch + 1}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._restored = dict(state_dict)
