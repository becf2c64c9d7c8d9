"""Adapters that turn raw data sets into the canonical layout (docs/data.md).

Each adapter module has ``convert(src, out, **options) -> ConversionReport``; this module
holds what they share: the report, strict source-CSV reading (every cell a string, errors
naming file, line and fix), image-folder lookup, and writing plus validating the result.
Images are referenced in place: ``items.csv`` holds absolute paths into the source.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from artrec.data.csvio import read_string_csv, write_csv_atomic
from artrec.data.dataset import ITEMS_FILE, PURCHASES_FILE, load_dataset
from artrec.errors import ConversionError, DatasetError, preview

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class ConversionReport:
    """What a conversion wrote, dropped (reason -> rows) and warned about."""

    format: str
    out: Path
    n_items: int = 0
    n_images: int = 0
    n_purchases: int = 0
    n_transactions: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: dict[str, int | str] = field(default_factory=dict)  # other outputs and counts

    def drop(self, reason: str, count: int) -> None:
        """Count ``count`` dropped rows under ``reason`` (zero counts are not recorded)."""
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + int(count)

    def summary(self) -> str:
        """A few readable lines for the command line."""
        lines = [
            f"{self.format}: wrote {self.out}",
            f"  items: {self.n_items} ({self.n_images} with an image)",
            f"  purchases: {self.n_purchases} in {self.n_transactions} transactions",
        ]
        lines += [f"  dropped {count}: {reason}" for reason, count in self.dropped.items()]
        lines += [f"  {name}: {value}" for name, value in self.notes.items()]
        lines += [f"  warning: {text}" for text in self.warnings]
        return "\n".join(lines)


def line_numbers(mask: pd.Series | np.ndarray, *, header: bool = True) -> list[int]:
    """File line numbers of the rows where ``mask`` holds (the header is line 1)."""
    return [int(i) + (2 if header else 1) for i in np.flatnonzero(np.asarray(mask))]


def read_source_csv(
    path: Path,
    required: Iterable[str] = (),
    *,
    names: list[str] | None = None,
    hint: str = "",
) -> pd.DataFrame:
    """Read a source CSV with every cell a string (ids like ``007`` stay as written).

    ``names`` reads a header-less file with these column names. ``hint`` says how to fix
    a missing file. Raises :class:`ConversionError` naming the file and the fix.
    """
    if not path.is_file():
        raise ConversionError(f"{path}: file not found. {hint}".strip())
    try:
        frame = read_string_csv(
            path,
            required,
            names=names,
            column_fix="Rename the header or map the column names (see --help).",
        )
    except DatasetError as exc:
        raise ConversionError(str(exc)) from exc
    return frame.apply(lambda column: column.str.strip())


def check_ids(ids: pd.Series, path: Path, column: str) -> None:
    """Raise if an id cell is empty or an id repeats; ``ids`` is indexed by source row."""
    empty = ids.eq("")
    if empty.any():
        raise ConversionError(
            f"{path}: column '{column}' is empty on line(s) {preview(_lines(ids[empty]))}; "
            "every row needs an id."
        )
    repeated = ids.duplicated(keep=False)
    if repeated.any():
        raise ConversionError(
            f"{path}: column '{column}' repeats id(s) {preview(ids[repeated].unique())} on "
            f"line(s) {preview(_lines(ids[repeated]))}; ids must be unique."
        )


def _lines(cells: pd.Series) -> list[int]:
    return [int(row) + 2 for row in cells.index]


def _count_images(folder: Path) -> int:
    with os.scandir(folder) as entries:
        return sum(e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES) for e in entries)


def find_image_folder(src: Path, images: str | Path | None) -> Path | None:
    """The folder holding the images: ``images`` (relative to ``src`` or absolute) if given,
    else ``src/images``, else the sub-folder of ``src`` (or ``src`` itself) with most images."""
    if images is not None:
        folder = (src / images).absolute()
        if not folder.is_dir():
            raise ConversionError(f"{folder}: image folder not found; fix --images.")
        return folder
    if (src / "images").is_dir():
        return (src / "images").absolute()
    candidates = [d for d in sorted(src.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    counts = {folder: _count_images(folder) for folder in [*candidates, src]}
    best = max(counts, key=counts.get, default=None)
    return best.absolute() if best is not None and counts[best] else None


def index_images(folder: Path) -> dict[str, str]:
    """File stem -> absolute path of every image directly in ``folder``; where one stem has
    several files, the first suffix of IMAGE_SUFFIXES wins (``.jpg`` over ``.png``)."""
    found: dict[str, tuple[int, Path]] = {}
    for path in folder.iterdir():
        suffix = path.suffix.lower()
        if suffix not in IMAGE_SUFFIXES or not path.is_file():
            continue
        rank = IMAGE_SUFFIXES.index(suffix)
        if path.stem not in found or rank < found[path.stem][0]:
            found[path.stem] = (rank, path)
    return {stem: str(path.absolute()) for stem, (_, path) in found.items()}


def no_image_folder_warning(src: Path) -> str:
    """The warning given when a source has no images at all."""
    return (
        f"no image folder found under {src}: items.csv has an empty image column (fine for "
        "evaluating embeddings made elsewhere; pass --images DIR to link the images)"
    )


def drop_duplicate_purchases(purchases: pd.DataFrame, report: ConversionReport) -> pd.DataFrame:
    """Keep one row per (user, item, time)."""
    repeated = purchases.duplicated(["user_id", "item_id", "time"])
    report.drop("repeated purchase (same user, item and time)", int(repeated.sum()))
    return purchases[~repeated].reset_index(drop=True)


def write_dataset(
    out: Path, items: pd.DataFrame, purchases: pd.DataFrame | None, report: ConversionReport
) -> ConversionReport:
    """Write items.csv (and purchases.csv), load them back as a check, fill the counts."""
    out = Path(out).absolute()
    write_csv_atomic(items, out / ITEMS_FILE)
    stale = out / PURCHASES_FILE
    if purchases is not None:
        write_csv_atomic(purchases, stale)
    elif stale.is_file():
        stale.unlink()
        report.warnings.append(f"removed {stale} left by an earlier conversion (no purchases)")
    try:
        dataset = load_dataset(out, allow_absolute_images=True)
    except DatasetError as exc:
        raise ConversionError(f"the converted dataset in {out} does not load: {exc}") from exc
    report.out = out
    report.n_items = len(dataset.items)
    report.n_images = int(dataset.items["image"].notna().sum()) if "image" in items else 0
    report.n_purchases = len(dataset.purchases)
    report.n_transactions = len(dataset.transactions)
    return report
