"""Running the entry scripts as a user would: a subprocess in the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cli(
    script: str, *overrides: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``python <script> <overrides>`` (``env`` added to the environment); on failure the
    output is part of the assertion."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **(env or {})}
    done = subprocess.run(
        [sys.executable, script, *overrides],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done


# train.py in seconds: the tiny random backbone at 32 px, no loader workers
TINY_TRAIN = (
    "backbone=tiny",
    "backbone.input_size=32",
    "data.num_workers=0",
    "data.train_batch_size=8",
    "model.shared_dim=16",
    "progress=false",
)


def train_on_folder(root, out, *extra: str, check: bool = True, env=None):
    """``train.py`` with TINY_TRAIN on the canonical dataset at ``root``, into ``out``."""
    return run_cli(
        "train.py",
        "dataset=folder",
        f"dataset.root={root}",
        *TINY_TRAIN,
        f"hydra.run.dir={out}",
        *extra,
        check=check,
        env=env,
    )
