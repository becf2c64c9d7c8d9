"""Reading and writing the canonical CSV files: every cell a string, writes atomic."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from artrec.errors import DatasetError, MissingColumnError
from artrec.io import write_text_atomic


def read_string_csv(path: Path, required: Iterable[str] = ()) -> pd.DataFrame:
    """Read a CSV with every cell as a string (``007`` stays ``007``; empty stays ``""``)."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found.")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"{path}: not a readable CSV file ({exc}).") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"{path}: missing required column(s) {missing}; found {list(frame.columns)}. "
            "Add them to the header (see SPEC section 1)."
        )
    return frame


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV without its index, atomically."""
    write_text_atomic(path, frame.to_csv(index=False, lineterminator="\n"))
