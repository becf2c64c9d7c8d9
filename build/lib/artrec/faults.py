"""Test-only fault points: a process kills itself (or waits) at a named point of a run.

The fault-injection tests drive the real command lines and need a kill at a defined
moment, not after a sleep. Code marks its moments with ``fault_point("name")``; with
``ARTREC_FAULT=name`` in the environment the process sends itself SIGKILL there, and with
``ARTREC_FAULT=name:hold`` it waits until the file ``$ARTREC_FAULT_MARK`` is deleted. In
both cases ``$ARTREC_FAULT_MARK`` (when set) is created first, so a test can wait for it.
Without ``ARTREC_FAULT`` a fault point does nothing.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

FAULT_ENV = "ARTREC_FAULT"
MARK_ENV = "ARTREC_FAULT_MARK"
HOLD_SECONDS = 300.0  # a held process gives up waiting after this long and goes on


def fault_point(name: str) -> None:
    """Kill this process, or hold it, when ``$ARTREC_FAULT`` names this point."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    point, _, action = spec.partition(":")
    if point != name:
        return
    mark = os.environ.get(MARK_ENV)
    if mark:
        Path(mark).write_text(f"{os.getpid()}\n", encoding="utf-8")
    if action == "hold":
        _hold(Path(mark) if mark else None)
        return
    os.kill(os.getpid(), signal.SIGKILL)


def _hold(mark: Path | None) -> None:
    deadline = time.monotonic() + HOLD_SECONDS
    while mark is not None and mark.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
