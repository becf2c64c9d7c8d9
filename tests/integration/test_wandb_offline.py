"""The one reader of W&B's internal log format: pinned to the wandb range it was written for,
it waits for a run's exit record instead of racing wandb's asynchronous writer."""

from __future__ import annotations

import re
import threading

import pytest
import wandb
from packaging.specifiers import SpecifierSet
from wandb.proto import wandb_internal_pb2 as pb

from tests.integration.cli import REPO
from tests.integration.wandb_offline import (
    CHUNK_HEADER,
    FILE_HEADER,
    FIRST,
    FULL,
    LAST,
    read_offline_run,
)


def chunk(kind: int, payload: bytes) -> bytes:
    return CHUNK_HEADER.pack(0, len(payload), kind) + payload


def run_record(run_id: str) -> bytes:
    return pb.Record(run=pb.RunRecord(run_id=run_id)).SerializeToString()


def exit_record(code: int) -> bytes:
    return pb.Record(exit=pb.RunExitRecord(exit_code=code)).SerializeToString()


def test_the_installed_wandb_is_in_the_pinned_range():
    (pin,) = re.findall(r'^\s*"wandb([^"\[]*)",', (REPO / "pyproject.toml").read_text(), re.M)
    assert "<" in pin, f"wandb{pin}: the log reader needs an upper bound"
    assert wandb.__version__ in SpecifierSet(pin)


def test_the_reader_waits_for_the_exit_record(tmp_path):
    """The log holds a header only when the reader starts (as after finish() under load);
    the run record (split over two chunks) and the exit record land 0.3 s later."""
    log = tmp_path / "run-abc.wandb"
    log.write_bytes(FILE_HEADER)
    record = run_record("abc")
    rest = chunk(FIRST, record[:3]) + chunk(LAST, record[3:]) + chunk(FULL, exit_record(1))

    def finish() -> None:
        with open(log, "ab") as handle:
            handle.write(rest)

    timer = threading.Timer(0.3, finish)
    timer.start()
    run = read_offline_run(tmp_path, timeout=10)
    timer.join()
    assert (run.run.run_id, run.exit_code) == ("abc", 1)


def test_a_log_without_exit_record_is_a_clear_failure_after_the_bound(tmp_path):
    whole = chunk(FULL, run_record("abc"))
    cut = chunk(FULL, exit_record(0))[: CHUNK_HEADER.size + 1]  # a chunk still being written
    (tmp_path / "run-abc.wandb").write_bytes(FILE_HEADER + whole + cut)
    with pytest.raises(AssertionError, match=r"no exit record in the W&B log after 0\.3 s"):
        read_offline_run(tmp_path, timeout=0.3)
