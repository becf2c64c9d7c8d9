"""Lightning's progress in a log: when standard output is not a terminal, a line every few
seconds through each training epoch and through extraction, and one per finished epoch
with its metrics (Lightning's bar would write one endless line, or nothing)."""

from __future__ import annotations

import re
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import RichProgressBar

from artrec.progress import ProgressLines, is_terminal

HIDDEN = ("v_num",)  # Lightning's logger version: says nothing here
#: The metrics an epoch's last line shows (the rest are in logs/metrics.csv).
EPOCH_METRICS = re.compile(r"^(train/loss|val/loss|val/[^/]+/(acc|mae)|rec/recall@\d+)$")


class LogProgress(pl.Callback):
    """Plain progress lines for the training epochs and the predict loop (rank zero)."""

    def __init__(self, **lines: Any) -> None:
        self.options = lines  # ProgressLines' every_s, clock, out (tests)
        self.lines: ProgressLines | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epochs = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        total = trainer.num_training_batches
        self._start(trainer, f"epoch {trainer.current_epoch + 1}{epochs}", total)

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        loss = trainer.callback_metrics.get("train/loss")
        self._update(args[-1] + 1, "" if loss is None else f"train/loss {float(loss):.4f}")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = trainer.callback_metrics.items()
        shown = {k: float(v) for k, v in metrics if EPOCH_METRICS.match(k) and v.numel() == 1}
        text = ", ".join(f"{k} {v:.4f}" for k, v in sorted(shown.items()))
        if self.lines is not None:
            self.lines.finish(trainer.num_training_batches, text)

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start(trainer, "embedding", sum(trainer.num_predict_batches))

    def on_predict_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        self._update(args[-1] + 1)

    def on_predict_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.lines is not None:
            self.lines.finish(sum(trainer.num_predict_batches))

    def _start(self, trainer: pl.Trainer, description: str, total: float) -> None:
        finite = int(total) if total not in (None, float("inf")) else None
        self.lines = ProgressLines(description, finite, **self.options)
        self.lines = self.lines if trainer.is_global_zero else None

    def _update(self, done: int, extra: str = "") -> None:
        if self.lines is not None:
            self.lines.update(done, extra)


class CompactProgressBar(RichProgressBar):
    """Lightning's rich bar with short metrics (``loss 0.412`` for ``train/loss``: 0.41234,
    no ``v_num``), so that the bar and its metrics fit one line of an 80-column terminal."""

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        return compact_metrics(super().get_metrics(trainer, pl_module))


def compact_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metric names without their prefix, numbers to three significant digits."""
    out = {}
    for name, value in metrics.items():
        if name not in HIDDEN:
            short = name.rsplit("/", 1)[-1] if name.count("/") == 1 else name
            out[short] = f"{value:.3g}" if isinstance(value, float) else value
    return out


def progress_callbacks(progress: bool) -> tuple[bool, list[pl.Callback]]:
    """(Lightning's ``enable_progress_bar``, extra callbacks): the compact bar on a terminal,
    the lines of :class:`LogProgress` elsewhere, neither with ``progress=false``."""
    if not progress:
        return False, []
    return (True, [CompactProgressBar()]) if is_terminal() else (False, [LogProgress()])
