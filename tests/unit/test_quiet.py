"""What carries no information is silenced message by message; the rest still shows."""

from __future__ import annotations

import logging
import warnings

import torch
from pytorch_lightning import LightningModule
from pytorch_lightning.utilities.model_summary.model_summary import summarize
from pytorch_lightning.utilities.rank_zero import rank_zero_info

from artrec.callbacks.model_summary import compact_table
from artrec.tasks.quiet import PYTREE_WARNING, quiet_libraries


def test_lightning_noise_is_dropped_and_other_lines_kept(caplog):
    quiet_libraries()
    quiet_libraries()  # once per process, however often called
    with caplog.at_level(logging.INFO):
        rank_zero_info("GPU available: False, used: False")
        rank_zero_info("TPU available: False, using: 0 TPU cores")
        rank_zero_info("💡 Tip: For seamless cloud logging, try installing [litlogger](x)")
        rank_zero_info(
            "Trainer already configured with model summary callbacks: "
            "[<class 'artrec.callbacks.model_summary.CompactModelSummary'>]. Skipping ..."
        )
        rank_zero_info("`Trainer.fit` stopped: `max_epochs=2` reached.")
    assert [r.getMessage() for r in caplog.records] == [
        "`Trainer.fit` stopped: `max_epochs=2` reached."
    ]


def test_only_the_pytree_deprecation_is_ignored():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_libraries()
        message = PYTREE_WARNING.replace("\\", "") + ", use `isinstance(treespec, TreeSpec)`"
        warnings.warn(message, FutureWarning, stacklevel=1)
        warnings.warn("`LeafSpec` is gone", FutureWarning, stacklevel=1)
        warnings.warn(message, UserWarning, stacklevel=1)
    assert [(str(w.message), w.category) for w in caught] == [
        ("`LeafSpec` is gone", FutureWarning),
        (message, UserWarning),
    ]


class _Tiny(LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(3, 2)
        self.frozen = torch.nn.BatchNorm1d(2).eval()


def test_the_model_summary_drops_the_all_zero_flops_column():
    summary = summarize(_Tiny(), max_depth=1)
    args = (
        summary.total_parameters,
        summary.trainable_parameters,
        summary.model_size,
        summary.total_training_modes,
    )
    table = compact_table(summary._get_summary_data(), *args, 0)
    assert "FLOPs" not in table and "Total Flops" not in table
    rows = [line.split("|")[1:] for line in table.splitlines() if line.startswith(("0 |", "1 |"))]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["layer", "Linear", "8", "train"],
        ["frozen", "BatchNorm1d", "4", "eval"],
    ]
    assert "12        Total params" in table and "1         Modules in eval mode" in table
    full = compact_table(summary._get_summary_data(), *args, 12)
    assert "FLOPs" in full and "Total Flops" in full
