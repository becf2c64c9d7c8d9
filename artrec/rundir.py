"""A run directory's files, its lock, its input fingerprints, and moving old results aside.

Every run (train, extract, recommend_eval) writes ``config.yaml`` (the resolved config)
first and ``run.json`` (task, status, fingerprints, timings) at its start and end. While
it runs it holds ``.lock``; results it replaces are moved to ``previous/<time>/`` inside
the directory, never deleted. It also names what runs write inside (metric prefixes,
weight sources) and reads back a recorded tuning in its old and new shapes. This module is
the bottom layer: it imports no other part of artrec but ``io`` and ``errors``.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from artrec.errors import RunDirError

log = logging.getLogger("artrec")

CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
LOCK_FILE = ".lock"
PREVIOUS_DIR = "previous"  # earlier results moved aside: previous/<UTC time>/
METRICS_FILE = "metrics.json"
PER_CASE_FILE = "per_case.csv"
EMBEDDINGS_FILE = "embeddings.npz"
START_DIR = "start"  # train: the starting embedding's results
CHECKPOINTS_DIR = "checkpoints"
SYSTEMS_DIR = "systems"  # recommend_eval of several files: systems/<name>/metrics.json
LAST_CHECKPOINT = Path(CHECKPOINTS_DIR) / "last.ckpt"
SHARDS_DIR = ".shards"  # while items are embedded across ranks: rank<N>.pt, then removed
EPOCHS_DIR = "epochs"  # train with rec_eval.every_n_epochs: epochs/epoch_<NNN>/
RUNNING, COMPLETED, FAILED = "running", "completed", "failed"
# Metric prefixes of the protocol's results in the loggers (``rec/recall@20``): the final
# embedding, train's starting one, an epoch's; W&B's summary adds the per-user and Random.
REC_FINAL, REC_START, REC_EPOCH = "rec", "rec_start", "rec_epoch"
REC_BY_USER, REC_RANDOM = "rec_by_user", "rec_random"
# Where a backbone's weights came from (``weights_source`` in run.json and embeddings.npz).
RANDOM_INIT = "random-init"
FILE_WEIGHTS = "file:"  # file:<absolute path> of weights the user supplied
CONTENT_HASH_LIMIT = 256 * 2**20  # image sets up to this size are hashed by content


def now_iso() -> str:
    """The time now, UTC, ISO 8601 to the second (run.json's timestamps)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_run(out: Path) -> dict[str, Any] | None:
    """``out``'s run.json, or None when there is none (or it cannot be read)."""
    try:
        record = json.loads((Path(out) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def read_config(out: Path) -> dict[str, Any] | None:
    """``out``'s config.yaml, or None when there is none (or it cannot be read)."""
    try:
        loaded = yaml.safe_load((Path(out) / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return loaded if isinstance(loaded, dict) else None


def recorded_tuning(recorded: dict[str, Any]) -> str | None:
    """The tuning (frozen / shallow / deep) a recorded config.yaml or embeddings meta names,
    in either shape: ``tuning: deep`` or, written before the ``tuning`` group became a key,
    ``tuning: {mode: deep}``. None when it names none (an extract run)."""
    tuning = recorded.get("tuning")
    if isinstance(tuning, dict):
        tuning = tuning.get("mode")
    return str(tuning) if tuning else None


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (the fingerprint of a CSV, embeddings or checkpoint file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_input(path: str | Path) -> str:
    """An input file's fingerprint: its digest, or "absent" (the run will say why)."""
    return file_digest(path) if Path(path).is_file() else "absent"


def image_set_digest(paths: list[str | None]) -> str:
    """A fingerprint of a list of image files: each path and size, and their bytes when the
    whole set is small enough to hash cheaply (else each file's modification time)."""
    stats = [_stat(p) for p in paths]
    by_content = sum(s.st_size for s in stats if s is not None) <= CONTENT_HASH_LIMIT
    digest = hashlib.sha256(b"content" if by_content else b"mtime")
    for path, stat in zip(paths, stats, strict=True):
        if stat is None:
            detail = "absent"
        elif by_content:
            detail = file_digest(path)
        else:
            detail = f"{stat.st_size}:{stat.st_mtime_ns}"
        digest.update(f"{path}\0{detail}\n".encode())
    return digest.hexdigest()


def _stat(path: str | None) -> os.stat_result | None:
    try:
        return os.stat(path) if path else None
    except OSError:
        return None


def ensure_writable(out: Path) -> None:
    """Create ``out`` (and its parents) and check a file can be written there."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RunDirError(
            f"cannot write the run directory {out} ({reason}): choose a writable "
            "place with hydra.run.dir=DIR (hydra.sweep.dir=DIR for a sweep)."
        ) from None


class RunLock:
    """``out/.lock``, held (``lockf``) for a run's life: one writer per run directory.

    A second process is refused at once with the holder's pid; a lock file left behind by a
    killed process (the kernel has released its lock) is taken over with a warning.
    """

    def __init__(self, out: Path) -> None:
        self.path = Path(out) / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        ensure_writable(self.path.parent)
        while self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:  # a POSIX lock: released when this process dies, not shared with its forks
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EAGAIN):
                    raise
                holder = _read_holder(fd)
                os.close(fd)
                raise RunDirError(
                    f"{self.path.parent} is in use by another run ({holder}); wait for it to "
                    "finish, or write elsewhere with hydra.run.dir=DIR."
                ) from None
            if not _same_file(fd, self.path):  # the holder removed it as we opened it
                os.close(fd)
                continue
            self._take(fd)
        return self

    def _take(self, fd: int) -> None:
        left = _read_holder(fd)
        if left != "no holder recorded":
            log.warning("taking over %s left by a process that ended (%s)", self.path, left)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid={os.getpid()} host={socket.gethostname()}\n".encode(), 0)
        self._fd = fd

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> str:
    text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    return text or "no holder recorded"


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def move_aside(out: Path, keep: tuple[str, ...] = ()) -> Path | None:
    """Move every entry of ``out`` (but ``previous/``, the lock and ``keep``) into
    ``out/previous/<UTC time>/``; return that folder, or None when there was nothing."""
    entries = [
        p
        for p in sorted(Path(out).iterdir())
        if p.name not in (PREVIOUS_DIR, LOCK_FILE, *keep) and not p.name.startswith(".write-test")
    ]
    if not entries:
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%SZ")
    target = Path(out) / PREVIOUS_DIR / stamp
    suffix = 1
    while target.exists():
        suffix += 1
        target = Path(out) / PREVIOUS_DIR / f"{stamp}-{suffix}"
    target.mkdir(parents=True)
    for entry in entries:
        entry.rename(target / entry.name)
    return target
