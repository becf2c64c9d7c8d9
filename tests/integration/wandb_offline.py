"""Reading an offline W&B run back from its transaction log (``run-<id>.wandb``).

Offline runs write no wandb-summary.json or config.yaml (wandb 0.31): everything is in the
log, a LevelDB-style record log of ``wandb_internal_pb2.Record`` protobufs behind a 7-byte
``:W&B`` header, in 32 KiB blocks of chunks, each with a 7-byte header (CRC-32, length,
type). The config, summary and history are folded here from the records, in order.

This is the one place that knows wandb's internal file format, written for (and tested
with) the wandb range pinned in pyproject.toml. ``finish()`` returns before wandb's writer
has flushed the log's last block, so a reader waits, bounded, for the run's exit record."""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from wandb.proto import wandb_internal_pb2 as pb

BLOCK = 32 * 1024
FILE_HEADER = b":W&B\xe1\xbe\x00"  # magic, 0xBEE1 little-endian, version 0
CHUNK_HEADER = struct.Struct("<IHB")  # crc32, length, type
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
EXIT_TIMEOUT_S = 60.0


def records(path: Path) -> Iterator[pb.Record]:
    """Every complete record of a ``.wandb`` file, chunks reassembled; a tail still being
    written ends the iteration."""
    data = path.read_bytes()
    if len(data) < len(FILE_HEADER):
        return
    assert data[: len(FILE_HEADER)] == FILE_HEADER, f"{path}: not a W&B transaction log"
    pos, pending = len(FILE_HEADER), b""
    while pos + CHUNK_HEADER.size <= len(data):
        left = BLOCK - pos % BLOCK
        if left < CHUNK_HEADER.size:  # block trailer: zero padding
            pos += left
            continue
        _, length, kind = CHUNK_HEADER.unpack_from(data, pos)
        if kind == 0:
            pos += left
            continue
        start = pos + CHUNK_HEADER.size
        if start + length > len(data):
            return
        pending += data[start : start + length]
        pos = start + length
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def _apply(target: dict[str, Any], items) -> None:
    """Fold summary / history / config items (``key`` or ``nested_key``, JSON values)."""
    for item in items:
        keys = [item.key] if item.key else list(item.nested_key)
        node = target
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = json.loads(item.value_json)


@dataclass
class OfflineRun:
    """One offline run: its run record, and the config, summary and history folded in order."""

    directory: Path
    run: pb.RunRecord | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None

    def table(self, key: str) -> pd.DataFrame:
        """A logged ``wandb.Table``, from the file the summary points to."""
        ref = self.summary[key]
        assert ref["_type"] == "table-file", ref
        payload = json.loads((self.directory / "files" / ref["path"]).read_text())
        return pd.DataFrame(payload["data"], columns=payload["columns"])


def read_offline_run(directory: Path, timeout: float = EXIT_TIMEOUT_S) -> OfflineRun:
    """``directory``: an ``offline-run-*`` folder, read once its exit record is written
    (polled every 0.1 s for at most ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        run = _fold(directory)
        if run.exit_code is not None:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"{directory}: no exit record in the W&B log after {timeout} s")
        time.sleep(0.1)


def _fold(directory: Path) -> OfflineRun:
    """The run as far as its log is written now."""
    run = OfflineRun(directory)
    logs = list(directory.glob("run-*.wandb"))
    assert len(logs) <= 1, f"{directory}: more than one W&B log: {logs}"
    for log in logs:
        for record in records(log):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                run.run = record.run
                _apply(run.config, record.run.config.update)
            elif kind == "config":
                _apply(run.config, record.config.update)
            elif kind == "summary":
                _apply(run.summary, record.summary.update)
            elif kind == "history":
                row: dict[str, Any] = {}
                _apply(row, record.history.item)
                run.history.append(row)
            elif kind == "exit":
                run.exit_code = record.exit.exit_code
    return run


def offline_runs(run_dir: Path) -> list[OfflineRun]:
    """Every offline W&B run under a task's run directory, oldest first."""
    return [read_offline_run(d) for d in sorted((run_dir / "wandb").glob("offline-run-*"))]
