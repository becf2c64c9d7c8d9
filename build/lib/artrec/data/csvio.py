"""Reading and writing the canonical CSV files: every cell a string, writes atomic."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from artrec.errors import DatasetError, MissingColumnError
from artrec.io import write_text_atomic


def read_string_csv(
    path: Path,
    required: Iterable[str] = (),
    *,
    names: list[str] | None = None,
    column_fix: str = "Add them to the header (see docs/data.md).",
) -> pd.DataFrame:
    """Read a CSV with every cell as a string (``007`` stays ``007``; empty stays ``""``).

    ``names`` reads a header-less file with these column names; ``column_fix`` is the
    advice given when a required column is missing.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: file not found.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # more cells than columns
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                header=None if names else 0,
                names=names,
                index_col=False,
            )
    except pd.errors.ParserWarning as exc:
        raise DatasetError(
            f"{path}: a row has more cells than the header has columns; quote cells that "
            "hold commas, or fix the header."
        ) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"{path}: not a readable CSV file ({exc}); fix the file.") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"{path}: missing required column(s) {missing}; found {list(frame.columns)}. "
            + column_fix
        )
    return frame


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV without its index, atomically."""
    write_text_atomic(path, frame.to_csv(index=False, lineterminator="\n"))
