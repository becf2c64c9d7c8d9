"""The recommendation-evaluation callback: the protocol (docs/protocol.md) inside training.

At fit start it judges the starting embedding (the backbone's features); after fit, the
best checkpoint's shared layer; optionally every N epochs, the current one. It calls the
same ``evaluate()`` as recommend_eval.py, logs ``rec/*`` to every logger, and writes
``embeddings.npz``, ``metrics.json`` and ``per_case.csv`` (start: under ``start/``). At the
end it prints before / after / Random and leaves ``rec/<metric>`` in the trainer's
``callback_metrics``, which Lightning also carries back from spawned ranks: train.py reads
its objective there, never from the file just written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from rich.table import Table
from torch import nn
from torch.utils.data import Dataset as TorchDataset

from artrec.console import BOX, make_console
from artrec.data.dataset import Dataset
from artrec.embeddings import embedded_table, save_embeddings
from artrec.faults import fault_point
from artrec.models.embedder import EmbedFn, embed_in_fit, forward
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.evaluate import evaluate
from artrec.recsys.result import EvalResult, write_result
from artrec.rundir import (
    EMBEDDINGS_FILE,
    EPOCHS_DIR,
    METRICS_FILE,
    REC_EPOCH,
    REC_FINAL,
    REC_START,
    SHARDS_DIR,
    START_DIR,
)


def start_embedding(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The backbone's features (cached features already are); the fine-tuned embedding is
    the module's output (``forward``)."""
    return module.backbone_features(x) if x.ndim == 4 else x


class RecEvalCallback(pl.Callback):
    """Embed every item of ``dataset`` and run the protocol at fit start, end, every N epochs."""

    def __init__(
        self,
        dataset: Dataset,
        inputs: TorchDataset,
        protocol: ProtocolConfig,
        out_dir: str | Path,
        *,
        at_start: bool = True,
        every_n_epochs: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.dataset, self.inputs, self.protocol = dataset, inputs, protocol
        self.out_dir = Path(out_dir)
        self.at_start, self.every_n_epochs = at_start, every_n_epochs
        self.batch_size, self.num_workers, self.meta = batch_size, num_workers, meta or {}
        self.results: dict[str, EvalResult] = {}
        self.start_metrics: dict[str, float] | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        start_file = self.out_dir / START_DIR / METRICS_FILE
        if start_file.is_file():  # a resumed run: judged by the process that started it
            self.start_metrics = json.loads(start_file.read_text())["metrics"]
        elif self.at_start:
            self._run(trainer, pl_module, start_embedding, REC_START, start_file.parent)
            if REC_START in self.results:
                self.start_metrics = self.results[REC_START].metrics

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if self.every_n_epochs and epoch % self.every_n_epochs == 0:
            target = self.out_dir / EPOCHS_DIR / f"epoch_{epoch:03d}"
            self._run(trainer, pl_module, forward, REC_EPOCH, target)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if best:
            state = torch.load(best, map_location=pl_module.device, weights_only=True)
            pl_module.load_state_dict(state["state_dict"])
        self.meta["checkpoint"] = best or None
        self._run(trainer, pl_module, forward, REC_FINAL, self.out_dir)
        if REC_FINAL in self.results:
            make_console().print(
                before_after(self.start_metrics, self.results[REC_FINAL], self.out_dir)
            )

    def _run(self, trainer, pl_module, fn: EmbedFn, prefix: str, target: Path) -> None:
        merged = embed_in_fit(
            trainer,
            pl_module,
            self.inputs,
            fn,
            shard_dir=self.out_dir / SHARDS_DIR,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
        )
        if merged is not None:
            fault_point(f"{prefix}_embedded")
            result = self._evaluate(*merged[:2], prefix=prefix, target=target)
            fault_point(f"{prefix}_written")
            metrics = {f"{prefix}/{n}": value for n, value in result.logged_metrics().items()}
            for logger in trainer.loggers:
                logger.log_metrics(metrics, step=trainer.global_step)
            trainer.callback_metrics.update(
                {k: torch.tensor(v, dtype=torch.float64) for k, v in metrics.items()}
            )
            self.results[prefix] = result
        trainer.strategy.barrier()

    def _evaluate(self, rows: np.ndarray, vectors: np.ndarray, *, prefix: str, target: Path):
        ids = self.dataset.items["item_id"].to_numpy(dtype=str)
        layer = "backbone features" if prefix == REC_START else "shared layer"
        table = embedded_table(ids, rows, vectors, {**self.meta, "layer": layer}, "<memory>")
        save_embeddings(table, target / EMBEDDINGS_FILE)
        result = evaluate(self.dataset, table, self.protocol)
        write_result(result, target, EMBEDDINGS_FILE, str(self.dataset.root))
        return result


def before_after(start: dict[str, float] | None, final: EvalResult, out: Path) -> Table:
    """The starting embedding's metrics, the fine-tuned one's, and Random's, per metric."""
    table = Table(
        title=f"Recommendation before and after fine-tuning ({out})", title_justify="left", box=BOX
    )
    for column in ("metric", "before (backbone)", "after (shared layer)", "Random (exact)"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name, value in final.metrics.items():
        before = f"{start[name]:.4f}" if start else "-"
        table.add_row(name, before, f"{value:.4f}", f"{final.random[name]:.4f}")
    table.caption = f"{final.n_test_cases} test cases, {final.n_users} users"
    if final.cuts:
        table.caption += (
            f" of the test period (from {final.cuts['test_start']}); the validation "
            f"period's (from {final.cuts['val_start']}) are under 'val' in metrics.json"
        )
    return table
