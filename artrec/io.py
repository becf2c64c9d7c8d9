"""Atomic file writes: a temporary file in the target's directory, then a rename.

A killed run never leaves a half-written result behind (docs/outputs.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_file_beside(path)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _new_file_beside(path: Path) -> Path:
    """A new empty ``.<name>.<random>.tmp`` next to ``path``, made with mode 0666 so the
    kernel applies the process umask (and any default ACL) as for any file a user writes;
    mkstemp's 0600 would hide results from the user's group."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write UTF-8 text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, payload: Any) -> None:
    """Write JSON (indented, keys in insertion order) atomically."""
    write_text_atomic(path, json.dumps(payload, indent=2) + "\n")


def cache_root() -> Path:
    """Where generated data and caches live: ``$ARTREC_CACHE``, else ``~/.cache/artrec``."""
    return Path(os.environ.get("ARTREC_CACHE") or Path.home() / ".cache" / "artrec").expanduser()


def stable_hash(*parts: Any) -> str:
    """A short hash of JSON-able parts, stable across runs (cache keys, fingerprints)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
