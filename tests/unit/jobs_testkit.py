"""A trivial task and configs for the run-directory tests (run_job, run_task, sweeps)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from artrec.data.config import DatasetConfig

DEMO = DatasetConfig(name="demo", root=None)


@dataclass
class TinyConfig:
    """The root config of the trivial task: the keys every root config has, and a few
    that a fingerprint must see."""

    output_dir: str = "???"
    dataset: DatasetConfig = field(default_factory=lambda: DEMO)
    run_name: str | None = None
    group: str | None = None
    seed: int = 0
    optim: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    ckpt_path: str | None = None
    progress: bool = True
    logger: dict[str, Any] = field(default_factory=dict)
    overwrite: bool = False


class Task:
    """A training-like task (name "train", resumable) that records the configs it was
    called with and returns ``value`` or raises ``error``; ``read`` is what it reads."""

    name = "train"
    resumable = True

    def __init__(self, value=0.25, error=None, read=None, schema=TinyConfig):
        self.value, self.error, self.calls, self.schema = value, error, [], schema
        self.read = dict(read or {"dataset/items.csv": "v1"})

    def inputs(self, cfg):
        assert isinstance(cfg, self.schema)
        return dict(self.read)

    def run(self, cfg):
        assert isinstance(cfg, self.schema), "a task receives its typed root config"
        self.calls.append(asdict(cfg))
        if self.error is not None:
            raise self.error
        return self.value


def config(out: Path, **changes):
    cfg = {
        "output_dir": str(out),
        "dataset": asdict(DEMO),
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
