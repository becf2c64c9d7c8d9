"""The time split of the protocol (``protocol.split=time``, docs/protocol.md): the test
cases, in time order, fall into a validation period and, after it, a test period.

A sweep chooses on the validation period and reports the test period, which it never saw.
Cuts are times: every test case at the cut's time is in the later period, so a cut never
falls between the transactions of one moment (nor inside a basket, which is one
transaction). Profiles and inventory are the timeline's own, built over every purchase:
only the cases are restricted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from artrec.errors import ConfigError
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.protocol import TestCases
from artrec.recsys.stock import ragged

VAL, TEST = "val", "test"
PERIOD = "period"  # per_case.csv's column with split=time
PERIODS = (VAL, TEST)


@dataclass(frozen=True)
class Periods:
    """Per test case its period (``val``, ``test``, or ``""`` before the validation
    period), and the cuts as written in purchases.csv: the first validation and the first
    test case's time."""

    period: np.ndarray
    val_start: str
    test_start: str

    def cuts(self) -> dict[str, str]:
        """The cuts, as recorded in metrics.json."""
        return {"val_start": self.val_start, "test_start": self.test_start}


def split_periods(cases: TestCases, val_fraction: float, test_fraction: float) -> Periods:
    """The test period starts at the time of the case ``round(test_fraction * n)`` from the
    end (``n`` test cases in time order), the validation period at the time of the case
    ``round(val_fraction * n)`` before the test period's first; each share is at least one
    case, and a tie at a cut's time moves the cut earlier."""
    times, n = cases.time, len(cases)
    test_pos = n - _share(test_fraction, n)
    test_from = int(np.searchsorted(times, times[test_pos], side="left"))
    val_pos = max(test_from - _share(val_fraction, n), 0)
    val_from = int(np.searchsorted(times, times[val_pos], side="left"))
    if val_from == test_from:
        raise ConfigError(
            f"protocol.split=time: the validation period holds no test case ({n} test cases, "
            f"protocol.val_fraction={val_fraction}, all at or after the test period's start "
            f"{cases.time_raw[test_from]}); raise protocol.val_fraction or use more purchases."
        )
    index = np.arange(n)
    period = np.where(index >= test_from, TEST, np.where(index >= val_from, VAL, ""))
    return Periods(period, str(cases.time_raw[val_from]), str(cases.time_raw[test_from]))


def reported_cases(cases: TestCases, protocol: ProtocolConfig) -> np.ndarray:
    """The positions of the cases that metrics.json's top level reports: every case with
    ``split=none``, the test period's with ``split=time`` (what galleries may show)."""
    if protocol.split == "none":
        return np.arange(len(cases))
    periods = split_periods(cases, protocol.val_fraction, protocol.test_fraction)
    return np.flatnonzero(periods.period == TEST)


def _share(fraction: float, n: int) -> int:
    """``fraction`` of ``n`` cases, rounded half up, at least one."""
    return max(1, math.floor(fraction * n + 0.5))


def select_cases(cases: TestCases, keep: np.ndarray) -> TestCases:
    """The cases where ``keep`` is True, with their profiles and ground truth unchanged
    (a profile still holds every earlier purchase, whichever period it was in)."""
    _, relevant = ragged(
        cases.relevant_offsets[:-1][keep], cases.n_relevant[keep], cases.relevant_items
    )
    return replace(
        cases,
        user_id=cases.user_id[keep],
        user_code=pd.factorize(cases.user_id[keep])[0].astype(np.int64),
        time=cases.time[keep],
        time_raw=cases.time_raw[keep],
        profile_start=cases.profile_start[keep],
        profile_size=cases.profile_size[keep],
        relevant_items=relevant,
        relevant_offsets=np.concatenate([[0], np.cumsum(cases.n_relevant[keep])]).astype(np.int64),
    )


def flat_metrics(payload: Mapping[str, Any], block: str = "metrics") -> dict[str, Any]:
    """A metrics.json payload's ``block`` (``metrics``, ``metrics_by_user``, ``random``...)
    by logger key: ``recall@20``, ... or, with ``split=time``, ``val/recall@20`` and
    ``test/recall@20`` (the top level is the test period)."""
    if VAL not in payload:
        return dict(payload[block])
    return {f"{VAL}/{name}": value for name, value in payload[VAL][block].items()} | {
        f"{TEST}/{name}": value for name, value in payload[block].items()
    }
