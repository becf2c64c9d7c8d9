"""The number a run returns to a Hydra sweeper, and the warning when it is a test number.

``objective`` names a metric as the loggers do: ``rec/recall@20``, or with
``protocol.split=time`` ``rec/val/recall@20`` and ``rec/test/recall@20``. Under
``split=time`` a plain ``rec/<metric>`` means the validation period, so a sweep never
chooses on the test period unless asked to, and then it is warned (docs/tuning.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from artrec.errors import ConfigError
from artrec.recsys.periods import VAL
from artrec.rundir import REC_FINAL

log = logging.getLogger("artrec")
PREFIX = f"{REC_FINAL}/"
_warned: set[str] = set()  # a leak is named once per process (a sweep's jobs share one)


def objective_value(
    metrics: Mapping[str, float | None], objective: str, split: str, *, multirun: bool
) -> float | None:
    """``objective``'s value among ``metrics`` (keys as ``EvalResult.logged_metrics``);
    in a multirun, a test-period or whole-timeline objective warns once, loudly."""
    key = objective.removeprefix(PREFIX)
    if split == "time" and "/" not in key:
        key = f"{VAL}/{key}"
    if not objective.startswith(PREFIX) or key not in metrics:
        raise ConfigError(
            f"objective={objective!r}: use one of {[PREFIX + name for name in metrics]} "
            f"(protocol.split={split}; rec/val/... and rec/test/... need protocol.split=time)."
        )
    if multirun and not key.startswith(f"{VAL}/"):
        warn_leak(objective, split)
    value = metrics[key]
    return None if value is None else float(value)


def warn_leak(objective: str, split: str) -> None:
    """Say, once, that the sweeper is given a number computed on the test cases."""
    where = "the test period" if split == "time" else "every test case (protocol.split=none)"
    message = (
        f"TEST-SET LEAK: this sweep's objective {objective} is computed on {where}; a sweep "
        "that picks its best run by it selects on the test set and reports optimistic "
        "numbers. Sweep with protocol.split=time and objective=rec/val/recall@20 (e.g. "
        "hparams_search=optuna), see docs/tuning.md."
    )
    if message not in _warned:
        _warned.add(message)
        log.warning("%s\n%s\n%s", "!" * 80, message, "!" * 80)


def in_multirun() -> bool:
    """Whether this process runs a Hydra multirun's job (a sweeper reads the objective)."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
