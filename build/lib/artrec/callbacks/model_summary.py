"""Lightning's model summary without what is always zero: artrec's modules set no example
input, so Lightning counts no FLOPs, and its FLOPs column and total would read 0."""

from __future__ import annotations

import logging
from typing import Any

from pytorch_lightning.callbacks import ModelSummary
from pytorch_lightning.utilities.model_summary.model_summary import _format_summary_table

log = logging.getLogger("pytorch_lightning.callbacks.model_summary")
FLOPS, TOTAL_FLOPS = "FLOPs", "Total Flops"


class CompactModelSummary(ModelSummary):
    """The model summary, its FLOPs column and total left out when they are all zero."""

    @staticmethod
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int,
        **summarize_kwargs: Any,
    ) -> None:
        log.info(
            "\n"
            + compact_table(
                summary_data,
                total_parameters,
                trainable_parameters,
                model_size,
                total_training_modes,
                total_flops,
            )
        )


def compact_table(
    summary_data: list[tuple[str, list[str]]],
    total_parameters: int,
    trainable_parameters: int,
    model_size: float,
    total_training_modes: dict[str, int],
    total_flops: int,
) -> str:
    """Lightning's summary table, without FLOPs where none were counted."""
    if total_flops:
        columns = summary_data
    else:
        columns = [(name, values) for name, values in summary_data if name != FLOPS]
    table = _format_summary_table(
        total_parameters,
        trainable_parameters,
        model_size,
        total_training_modes,
        total_flops,
        *columns,
    )
    lines = table.splitlines()
    return "\n".join(x for x in lines if total_flops or not x.rstrip().endswith(TOTAL_FLOPS))
