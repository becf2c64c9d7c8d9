"""Silence what Lightning and torch print that tells the user nothing, message by message:
the "GPU / TPU available" lines, Lightning's advert for litlogger, its note that artrec's
own model summary replaces its default one, and a ``_pytree`` deprecation warning from
inside Lightning. Nothing else is filtered."""

from __future__ import annotations

import logging
import re
import warnings

#: Lightning's INFO lines that carry nothing for an artrec user.
LIGHTNING_NOISE = re.compile(
    r"^(GPU available: |TPU available: |HPU available: |💡 Tip: .*litlogger"
    r"|Trainer already configured with model summary callbacks: .*CompactModelSummary)"
)
LIGHTNING_LOGGERS = (
    "pytorch_lightning.utilities.rank_zero",
    "lightning_fabric.utilities.rank_zero",
)
#: torch deprecates LeafSpec; Lightning (not artrec) still uses it.
PYTREE_WARNING = r"`isinstance\(treespec, LeafSpec\)` is deprecated"
SHALLOW_EVAL_MODE = (
    "Shallow tuning keeps the frozen backbone in eval mode (its batch-norm statistics stay "
    "as trained), so Lightning's warning that modules are in eval mode is expected."
)


class DropMessages(logging.Filter):
    """Drops the records whose message matches ``pattern``; lets every other one through."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        super().__init__()
        self.pattern = pattern

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.search(record.getMessage())


def quiet_libraries() -> None:
    """Install the filters (once per process; calling again adds nothing)."""
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropMessages) for f in logger.filters):
            logger.addFilter(DropMessages(LIGHTNING_NOISE))
    warnings.filterwarnings("ignore", message=PYTREE_WARNING, category=FutureWarning)
