"""Driving the entry scripts to a defined point and killing them there (artrec.faults)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.cli import REPO, run_cli

TRAIN_TO_THE_END = ("trainer.max_epochs=3", "monitor.patience=100")


def kill_at(script: str, point: str, *overrides: str) -> subprocess.CompletedProcess:
    """Run ``script`` until it reaches the fault point ``point``, where it gets SIGKILL."""
    done = run_cli(script, *overrides, check=False, env={"ARTREC_FAULT": point})
    assert done.returncode == -signal.SIGKILL, (
        f"{script} never reached {point} (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    )
    return done


def hold_at(script: str, point: str, mark: Path, *overrides: str) -> subprocess.Popen:
    """Start ``script`` and wait until it holds at ``point`` (it goes on when ``mark`` is
    deleted)."""
    env = {**os.environ, "ARTREC_FAULT": f"{point}:hold", "ARTREC_FAULT_MARK": str(mark)}
    process = subprocess.Popen(
        [sys.executable, script, *overrides],
        cwd=REPO,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not mark.exists():
        assert process.poll() is None, f"{script} ended early:\n{process.stdout.read()}"
        assert time.monotonic() < deadline, f"{script} never reached {point}"
        time.sleep(0.05)
    return process


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (relative path -> bytes), hidden ones and logs included."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


__all__ = ["TRAIN_TO_THE_END", "hold_at", "kill_at", "run_cli", "tree"]
