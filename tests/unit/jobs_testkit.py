"""A trivial task and configs for the run-directory tests (run_job, run_task, sweeps)."""

from __future__ import annotations

import json
from pathlib import Path


class Task:
    """A training-like task (name "train", resumable) that records the configs it was
    called with and returns ``value`` or raises ``error``; ``read`` is what it reads."""

    name = "train"
    resumable = True

    def __init__(self, value=0.25, error=None, read=None):
        self.value, self.error, self.calls = value, error, []
        self.read = dict(read or {"dataset/items.csv": "v1"})

    def inputs(self, cfg):
        return dict(self.read)

    def run(self, cfg, inputs):
        self.calls.append(cfg)
        if self.error is not None:
            raise self.error
        return self.value


def config(out: Path, **changes):
    cfg = {
        "output_dir": str(out),
        "run_name": None,
        "group": None,
        "seed": 0,
        "optim": {"lr": 1e-4},
        "data": {"train_batch_size": 8, "num_workers": 2},
        "ckpt_path": None,
        "progress": True,
        "logger": {"name": "csv"},
        "overwrite": False,
    }
    return {**cfg, **changes}


def run_record(out: Path):
    return json.loads((out / "run.json").read_text())


def files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
