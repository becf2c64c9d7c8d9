"""The public UGallery release's ResNet50 vectors, as an embeddings file of the converted items.

``ugallery_resnet50_embeddings.npy`` is a NumPy object array of shape (N, 2) whose rows are
``[artwork_id_hash, 2048-d vector]``. Object arrays are stored as a pickle, and loading an
arbitrary pickle can run arbitrary code, so the file is never given to ``np.load``: its
header is parsed with ``numpy.lib.format`` and its pickle read by an unpickler that admits
only NumPy's array reconstruction (and refuses anything else, naming the file).
"""

from __future__ import annotations

import pickle
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
from numpy.lib import format as npy_format

from artrec.data.adapters import ConversionReport
from artrec.embeddings import EmbeddingTable, save_embeddings
from artrec.errors import ConversionError, EmbeddingsError, preview

RELEASE_FILE = "ugallery_resnet50_embeddings.npy"
OUTPUT_FILE = Path("embeddings") / "resnet50.npz"
_RECONSTRUCT = np.empty(0).__reduce__()[0]  # numpy's _reconstruct, whatever its module
_SCALAR = np.float64(0).__reduce__()[0]  # numpy's scalar
#: The only globals an object array of strings and float vectors needs: (module, name) as
#: NumPy 1.x (numpy.core) and 2.x (numpy._core) write them -> what they stand for.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    **{
        (f"{core}.multiarray", "_reconstruct"): _RECONSTRUCT
        for core in ("numpy.core", "numpy._core")
    },
    **{(f"{core}.multiarray", "scalar"): _SCALAR for core in ("numpy.core", "numpy._core")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays of plain values; any other global is refused."""

    def __init__(self, handle: BinaryIO, path: Path) -> None:
        super().__init__(handle)
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        allowed = ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise ConversionError(
                f"{self.path}: refused to load: its pickle asks for {module}.{name}, which an "
                "array of [id, vector] rows never needs (it could run code). Use the file "
                "as published, or save it again as rows of a str id and a float vector."
            )
        return allowed


def read_object_npy(path: Path) -> np.ndarray:
    """An object ``.npy`` file's array, unpickled with :class:`_ArrayUnpickler` only."""
    try:
        with path.open("rb") as handle:
            version = npy_format.read_magic(handle)
            readers = {
                (1, 0): npy_format.read_array_header_1_0,
                (2, 0): npy_format.read_array_header_2_0,
            }
            if version not in readers:
                raise ConversionError(f"{path}: .npy format version {version} is not supported.")
            shape, _, dtype = readers[version](handle)
            if not dtype.hasobject:
                raise ConversionError(
                    f"{path}: holds a {dtype} array; expected an object array of [id, vector] rows."
                )
            array = _ArrayUnpickler(handle, path).load()
    except ConversionError:
        raise
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, LookupError) as exc:
        raise ConversionError(f"{path}: not a readable .npy file ({exc}).") from exc
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise ConversionError(f"{path}: the pickled array does not match its header {shape}.")
    return array


def read_release_vectors(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(ids [N] str, vectors [N, D] float64)`` of the release's (N, 2) rows."""
    rows = read_object_npy(path)
    if rows.ndim != 2 or rows.shape[1] != 2:
        raise ConversionError(
            f"{path}: shape {rows.shape}; expected (N, 2) rows of [artwork_id_hash, vector]."
        )
    bad_ids = [row for row, value in enumerate(rows[:, 0]) if not isinstance(value, str)]
    if bad_ids:
        raise ConversionError(f"{path}: row(s) {preview(bad_ids)} have an id that is no string.")
    ids = np.array([value.strip() for value in rows[:, 0]], dtype=str)
    return ids, _stack_vectors(rows[:, 1], path)


def _stack_vectors(values: np.ndarray, path: Path) -> np.ndarray:
    """The rows' vectors as one [N, D] float64 matrix; each must be 1-d, numeric, length D."""
    vectors = [value if isinstance(value, np.ndarray) else None for value in values]
    bad = [
        row
        for row, v in enumerate(vectors)
        if v is None or v.ndim != 1 or v.dtype.kind not in "fiu"
    ]
    if bad:
        raise ConversionError(
            f"{path}: row(s) {preview(bad)} hold no 1-d numeric vector; each row must be "
            "[id, vector]."
        )
    lengths = sorted({len(v) for v in vectors})
    if len(lengths) > 1:
        raise ConversionError(f"{path}: vectors of different lengths {preview(lengths)}.")
    return np.stack(vectors).astype(np.float64) if vectors else np.zeros((0, 0))


def convert_release_vectors(
    src: Path, item_ids: pd.Series, out: Path, report: ConversionReport
) -> Path | None:
    """Write ``out/embeddings/resnet50.npz`` with the vector of every converted item that has
    one (None when ``src`` holds no release file); count the items with no vector and the
    vectors with no item (left out) in ``report``."""
    path = src / RELEASE_FILE
    if not path.is_file():
        return None
    ids, matrix = read_release_vectors(path)
    items, vectors = set(item_ids), set(ids.tolist())
    keep = np.array([i in items for i in ids], dtype=bool)
    without = [i for i in item_ids if i not in vectors]
    meta = {
        "source": str(path),
        "release": f"UGallery public release ({RELEASE_FILE})",
        "backbone": {"name": "resnet50", "preset": "resnet50", "weights_source": "release"},
        "layer": "as released",
        "dataset": str(out.absolute()),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    try:  # repeated ids and NaN or Inf among the kept vectors are errors
        table = EmbeddingTable(ids[keep], matrix[keep].astype(np.float32), meta, str(path))
    except EmbeddingsError as exc:
        raise ConversionError(str(exc)) from exc
    written = save_embeddings(table, out / OUTPUT_FILE)
    report.notes["ResNet50 vectors written"] = f"{len(table)} ({table.dim}-d) to {written}"
    report.notes["items with no vector"] = len(without)
    report.notes["vectors with no item (left out)"] = int((~keep).sum())
    if without:
        report.warnings.append(
            f"{len(without)} item(s) have no vector in {path} (e.g. {preview(without)}): "
            "evaluate with protocol.missing_embeddings=drop"
        )
    return written
