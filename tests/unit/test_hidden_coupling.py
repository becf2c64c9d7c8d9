"""Importing artrec changes nothing in the process: no umask toggled, no resolver
registered; the entry scripts register the resolvers explicitly."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from artrec.io import write_json_atomic, write_text_atomic
from artrec.tasks.sweeps import register_resolvers

PROBE = """
import os
calls = []
real = os.umask
os.umask = lambda mask: calls.append(mask) or real(mask)
from omegaconf import OmegaConf
import artrec.io, artrec.tasks.sweeps, artrec.tasks.entry
print(calls, OmegaConf.has_resolver("artrec.sweep_name"), OmegaConf.has_resolver("artrec.job_name"))
"""


def test_importing_artrec_neither_touches_the_umask_nor_registers_resolvers():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["[]", "False", "False"]


def test_register_resolvers_names_sweeps_and_jobs():
    register_resolvers()
    cfg = OmegaConf.create(
        {
            "overrides": ["seed=2", "lr=0.1", "output_dir=x"],
            "job": "${artrec.job_name:${overrides}}",
            "sweep": "${artrec.sweep_name:null,${overrides}}",
        }
    )
    assert (cfg.job, cfg.sweep) == ("lr=0.1,seed=2", "lr=0.1__seed=2")


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_atomic_writes_respect_the_umask_of_the_moment(tmp_path, mask, mode):
    """The umask set after import counts (the old import-time copy went stale)."""
    old = os.umask(mask)
    try:
        write_text_atomic(tmp_path / "a.txt", "text")
        write_json_atomic(tmp_path / "sub/b.json", {"x": 1})
    finally:
        os.umask(old)
    for path in (tmp_path / "a.txt", tmp_path / "sub/b.json"):
        assert stat.S_IMODE(path.stat().st_mode) == mode
    assert (tmp_path / "a.txt").read_text() == "text"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.txt", "b.json", "sub"]
