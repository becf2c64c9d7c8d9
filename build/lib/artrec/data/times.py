"""Time cells of the canonical layout: numeric seconds or ISO-8601, never mixed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from artrec.errors import TimeFormatError, preview

NUMERIC = "numeric"
ISO = "iso8601"


def parse_times(
    cells: pd.Series, *, file: Path, column: str, required: bool
) -> tuple[np.ndarray, str | None]:
    """Parse string cells into float seconds (NaN for empty cells) and report their kind.

    Numeric cells are taken as they are; ISO-8601 cells become seconds since the Unix
    epoch (naive times are read as UTC). Row numbers in errors are CSV line numbers.
    """
    text = cells.astype(str).str.strip()
    empty = text.eq("")
    if required and empty.any():
        raise TimeFormatError(
            f"{file}: column '{column}' is empty on line(s) {preview(_lines(empty))}; "
            "every row needs a time."
        )
    numeric = pd.to_numeric(text.where(~empty), errors="coerce")
    is_numeric = numeric.notna()
    iso = pd.to_datetime(
        text.where(~empty & ~is_numeric), format="ISO8601", utc=True, errors="coerce"
    )
    is_iso = iso.notna() & ~is_numeric
    bad = ~empty & ~is_numeric & ~is_iso
    if bad.any():
        rows = _lines(bad)
        raise TimeFormatError(
            f"{file}: column '{column}' has unparsable time(s) on line(s) {preview(rows)} "
            f"(e.g. {text[bad].iloc[0]!r}); use seconds (e.g. 1404371247) or ISO-8601 "
            "(e.g. 2014-07-03T07:07:27)."
        )
    infinite = is_numeric & np.isinf(numeric)
    if infinite.any():
        raise TimeFormatError(
            f"{file}: column '{column}' has non-finite time(s) on line(s) "
            f"{preview(_lines(infinite))} (e.g. {text[infinite].iloc[0]!r}); write a finite "
            "number of seconds or an ISO-8601 time."
        )
    if is_numeric.any() and is_iso.any():
        raise TimeFormatError(
            f"{file}: column '{column}' mixes numeric times (line {_lines(is_numeric)[0]}) "
            f"and ISO-8601 times (line {_lines(is_iso)[0]}); write all times in one format."
        )
    if is_iso.any():
        # in microseconds: nanoseconds would overflow outside the years 1677 to 2262
        epoch = pd.Timestamp(0, tz="UTC").as_unit("us")
        seconds = (iso.dt.as_unit("us") - epoch) / pd.Timedelta(seconds=1)
        return seconds.to_numpy(dtype=np.float64), ISO
    kind = NUMERIC if is_numeric.any() else None
    return numeric.to_numpy(dtype=np.float64), kind


def _lines(mask: pd.Series) -> list[int]:
    """CSV line numbers (header is line 1) of the rows where mask holds."""
    return [int(i) + 2 for i in np.flatnonzero(mask.to_numpy())]
