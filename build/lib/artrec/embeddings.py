"""Embedding tables (docs/data.md): item ids + vectors + meta; atomic save, safe load."""

from __future__ import annotations

import json
import logging
import os
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from artrec.errors import EmbeddingsError, preview
from artrec.io import atomic_path
from artrec.rundir import EMBEDDINGS_FILE

log = logging.getLogger("artrec")
MISSING_POLICIES = ("error", "drop")
SKIPPED_IMAGES = "unreadable_images"  # meta key: ids left out because their image is unreadable
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK"
_LOAD_ERRORS = (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


@dataclass(frozen=True)
class EmbeddingTable:
    """``item_ids`` [N] unicode, ``vectors`` [N, D] float32/float16, ``meta`` JSON-able dict."""

    item_ids: np.ndarray
    vectors: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = "<memory>"

    def __post_init__(self) -> None:
        _validate(self.item_ids, self.vectors, self.source)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def skipped_ids(self) -> list[str]:
        """Ids left out because their image could not be read: the protocol drops them."""
        skipped = self.meta.get(SKIPPED_IMAGES, [])
        return [str(item_id) for item_id in skipped] if isinstance(skipped, list) else []

    def __len__(self) -> int:
        return len(self.item_ids)

    def align(
        self, item_ids: Sequence[str], missing: str = "error"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Vectors in the order of ``item_ids`` (float32, zero rows where absent) and a mask of
        the ids that have one. With ``missing='error'`` an absent id raises."""
        if missing not in MISSING_POLICIES:
            raise EmbeddingsError(f"missing_embeddings={missing!r}: use one of {MISSING_POLICIES}.")
        position = {item_id: row for row, item_id in enumerate(self.item_ids.tolist())}
        rows = np.array([position.get(str(i), -1) for i in item_ids], dtype=np.int64)
        present = rows >= 0
        if missing == "error" and not present.all():
            absent = [str(i) for i, ok in zip(item_ids, present, strict=True) if not ok]
            raise EmbeddingsError(
                f"{self.source}: {len(absent)} item(s) of the dataset have no embedding, e.g. "
                f"{preview(absent)}; embed them, or set protocol.missing_embeddings=drop."
            )
        aligned = np.zeros((len(rows), self.dim), dtype=np.float32)
        aligned[present] = self.vectors[rows[present]]
        return aligned, present


def save_embeddings(table: EmbeddingTable, path: str | Path) -> Path:
    """Write ``table`` to an ``.npz`` file atomically (no pickled objects)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(
            handle,
            item_ids=np.asarray(table.item_ids, dtype=str),
            embeddings=table.vectors,
            meta=np.array(json.dumps(table.meta, default=str)),
        )
    return path


def load_embeddings(path: str | Path) -> EmbeddingTable:
    """Load and validate an embeddings file (``allow_pickle=False``)."""
    path = Path(path)
    _check_npz_file(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("item_ids", "embeddings") if k not in data.files]
            if missing:
                raise EmbeddingsError(
                    f"{path}: missing array(s) {missing}; found {data.files}. "
                    "An embeddings file holds item_ids [N] and embeddings [N, D] (docs/data.md)."
                )
            item_ids, vectors = data["item_ids"], data["embeddings"]
            meta = _parse_meta(data["meta"], path) if "meta" in data.files else {}
    except _LOAD_ERRORS as exc:
        raise EmbeddingsError(
            f"{path}: not a readable .npz embeddings file ({type(exc).__name__}: {exc}); "
            "write it again (np.savez, no object arrays)."
        ) from exc
    return EmbeddingTable(item_ids=item_ids, vectors=vectors, meta=meta, source=str(path))


def _check_npz_file(path: Path) -> None:
    """Refuse, by its first bytes, a file that cannot be an ``.npz`` archive."""
    if not path.is_file():
        raise EmbeddingsError(f"{path}: embeddings file not found.")
    with open(path, "rb") as handle:
        head = handle.read(len(_NPY_MAGIC))
    layout = "an .npz file holds item_ids [N] and embeddings [N, D], written by np.savez"
    if not head:
        raise EmbeddingsError(f"{path}: empty file (0 bytes), not an .npz file; {layout}.")
    if head.startswith(_NPY_MAGIC):
        raise EmbeddingsError(f"{path}: a single-array .npy file, not an .npz file; {layout}.")
    if not head.startswith(_ZIP_MAGIC):
        raise EmbeddingsError(f"{path}: not an .npz file (not a zip archive); {layout}.")


def embedded_table(
    item_ids: np.ndarray, rows: np.ndarray, vectors: np.ndarray, meta: dict[str, Any], source: str
) -> EmbeddingTable:
    """The table of the ``rows`` of ``item_ids`` that were embedded; the other ids (their
    image could not be read) are logged and listed in ``meta`` for the protocol to drop."""
    skipped = np.setdiff1d(np.arange(len(item_ids)), rows)
    if len(skipped):
        log.warning(
            "%d item(s) left out: their image could not be read (dataset.image_errors=skip): %s",
            len(skipped),
            preview(item_ids[skipped]),
        )
    meta = {**meta, "n_unreadable_images": len(skipped), SKIPPED_IMAGES: item_ids[skipped].tolist()}
    return EmbeddingTable(item_ids[rows], vectors.astype(np.float32), meta, source=source)


def _parse_meta(meta: np.ndarray, path: Path) -> dict[str, Any]:
    if meta.ndim != 0 or meta.dtype.kind != "U":
        raise EmbeddingsError(f"{path}: 'meta' must be a 0-d unicode string holding JSON.")
    try:
        parsed = json.loads(str(meta))
    except json.JSONDecodeError as exc:
        raise EmbeddingsError(f"{path}: 'meta' is not valid JSON ({exc}).") from exc
    return parsed if isinstance(parsed, dict) else {"meta": parsed}


def _validate(item_ids: np.ndarray, vectors: np.ndarray, source: str) -> None:
    if item_ids.ndim != 1 or item_ids.dtype.kind != "U":
        raise EmbeddingsError(
            f"{source}: item_ids must be a 1-d unicode string array, got dtype {item_ids.dtype} "
            f"and shape {item_ids.shape}; save ids with np.asarray(ids, dtype=str)."
        )
    if vectors.ndim != 2 or vectors.shape[0] != item_ids.shape[0]:
        raise EmbeddingsError(
            f"{source}: embeddings must have shape [N, D] with N = len(item_ids) = "
            f"{item_ids.shape[0]}; got {vectors.shape}."
        )
    if vectors.shape[1] == 0 and len(item_ids):
        raise EmbeddingsError(
            f"{source}: embeddings have dimension 0 (shape {vectors.shape}); "
            "every item needs a vector of at least one value."
        )
    if vectors.dtype not in (np.float32, np.float16):
        raise EmbeddingsError(
            f"{source}: embeddings must be float32 or float16, got {vectors.dtype}; "
            "convert with .astype(np.float32)."
        )
    unique, counts = np.unique(item_ids, return_counts=True)
    if (counts > 1).any():
        raise EmbeddingsError(f"{source}: duplicate item id(s) {preview(unique[counts > 1])}.")
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        raise EmbeddingsError(
            f"{source}: NaN or Inf in the embeddings of {int((~finite).sum())} item(s): "
            f"{preview(item_ids[~finite])}."
        )


def find_embedding_files(spec: str | Path | Sequence[str | Path]) -> dict[str, Path]:
    """Name -> file for one ``.npz``, a list of them, or a directory of runs (each
    ``*/embeddings.npz`` below it). A file called ``embeddings.npz`` is named by its folder."""
    entries = [spec] if isinstance(spec, (str, Path)) else list(spec)
    if not entries:
        raise EmbeddingsError("embeddings=[]: give at least one .npz file or a directory of runs.")
    found: dict[str, Path] = {}
    for entry in map(Path, entries):
        if entry.is_dir():
            files = sorted(entry.rglob(EMBEDDINGS_FILE))
            if not files:
                raise EmbeddingsError(f"{entry}: directory holds no {EMBEDDINGS_FILE} below it.")
            named = {str(f.parent.relative_to(entry)).replace(os.sep, "/"): f for f in files}
        elif entry.is_file():
            named = {entry.parent.name if entry.name == EMBEDDINGS_FILE else entry.stem: entry}
        else:
            raise EmbeddingsError(f"{entry}: embeddings file or directory not found.")
        for name, path in named.items():
            found[name if name not in found else str(path)] = path
    return found
