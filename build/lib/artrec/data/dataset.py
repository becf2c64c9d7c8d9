"""Load and validate a canonical dataset directory (docs/data.md) into typed tables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from artrec.data.csvio import read_string_csv
from artrec.data.times import parse_times
from artrec.errors import (
    DatasetError,
    DuplicateIdError,
    ImagePathError,
    TimeFormatError,
    UnknownItemError,
    preview,
)

ITEMS_FILE = "items.csv"
PURCHASES_FILE = "purchases.csv"
RESERVED_ITEM_COLUMNS = ("item_id", "image", "upload_time", "unique", "split")
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


@dataclass(frozen=True)
class Dataset:
    """A validated canonical dataset.

    ``items``: one row per item in items.csv order (row position = tie-break order), with
    ``item_id`` (str), ``image`` (absolute path str or ``None``; no column without images),
    ``upload_time`` (float seconds, NaN = always available), ``unique`` (nullable boolean),
    ``split`` (if present) and the label columns (pandas ``string``, ``<NA>`` = missing label).
    ``purchases``: ``user_id``, ``item_id`` (str), ``item_idx`` (row of ``items``),
    ``time`` (float seconds) and ``time_raw`` (the cell as written).
    """

    root: Path
    items: pd.DataFrame
    purchases: pd.DataFrame
    label_columns: tuple[str, ...]
    time_format: str | None
    n_duplicate_purchases: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def item_ids(self) -> np.ndarray:
        return self.items["item_id"].to_numpy(dtype=str)

    @cached_property
    def item_index(self) -> dict[str, int]:
        """Item id -> row of ``items``."""
        return {item_id: row for row, item_id in enumerate(self.items["item_id"])}

    @cached_property
    def transactions(self) -> pd.DataFrame:
        """One row per (user, time) basket, in time order (then user id): ``user_id``,
        ``time``, ``time_raw`` and ``items`` (a tuple of item rows, in items.csv order)."""
        if self.purchases.empty:
            return pd.DataFrame(columns=["user_id", "time", "time_raw", "items"])
        grouped = self.purchases.groupby(["user_id", "time"], sort=False)
        baskets = grouped.agg(
            time_raw=("time_raw", "first"),
            items=("item_idx", lambda rows: tuple(sorted(rows))),
        ).reset_index()
        return baskets.sort_values(["time", "user_id"], kind="stable").reset_index(drop=True)


def load_dataset(
    root: str | Path,
    *,
    allow_absolute_images: bool = False,
    require_purchases: bool = False,
) -> Dataset:
    """Read ``root/items.csv`` and (if present) ``root/purchases.csv``; raise a
    :class:`~artrec.errors.DatasetError` subclass naming file, line and fix on bad input."""
    root = Path(os.path.normpath(Path(root).expanduser().absolute()))
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset directory not found.")
    items, item_time_format = _load_items(root / ITEMS_FILE, root, allow_absolute_images)
    purchases_path = root / PURCHASES_FILE
    if purchases_path.is_file():
        purchases, purchase_time_format, n_dupes = _load_purchases(purchases_path, items)
    elif require_purchases:
        raise DatasetError(
            f"{purchases_path}: file not found; the recommendation protocol needs purchases "
            "(columns user_id,item_id,time)."
        )
    else:
        purchases = pd.DataFrame(
            {"user_id": [], "item_id": [], "item_idx": [], "time": [], "time_raw": []}
        )
        purchase_time_format, n_dupes = None, 0
    formats = {f for f in (item_time_format, purchase_time_format) if f}
    if len(formats) > 1:
        raise TimeFormatError(
            f"{root}: items.csv upload_time is {item_time_format} but purchases.csv time is "
            f"{purchase_time_format}; a dataset's times must all be numeric or all ISO-8601."
        )
    labels = tuple(c for c in items.columns if c not in RESERVED_ITEM_COLUMNS)
    return Dataset(
        root=root,
        items=items,
        purchases=purchases,
        label_columns=labels,
        time_format=formats.pop() if formats else None,
        n_duplicate_purchases=n_dupes,
    )


def _load_items(path: Path, root: Path, allow_absolute: bool) -> tuple[pd.DataFrame, str | None]:
    raw = read_string_csv(path, required=["item_id"])
    ids = raw["item_id"].str.strip()
    if ids.eq("").any():
        lines = [int(i) + 2 for i in np.flatnonzero(ids.eq("").to_numpy())]
        raise DatasetError(
            f"{path}: empty item_id on line(s) {preview(lines)}; every item needs an id."
        )
    duplicated = ids[ids.duplicated(keep=False)]
    if not duplicated.empty:
        raise DuplicateIdError(
            f"{path}: duplicate item_id(s) {preview(duplicated.unique())} (first on lines "
            f"{preview([int(i) + 2 for i in duplicated.index[:5]])}); item ids must be unique."
        )
    items = pd.DataFrame({"item_id": ids.to_numpy(dtype=object)})
    if "image" in raw.columns:
        items["image"] = pd.Series(
            _resolve_images(raw["image"], path, root, allow_absolute), dtype=object
        )
    times = raw["upload_time"] if "upload_time" in raw.columns else pd.Series([""] * len(raw))
    items["upload_time"], time_format = parse_times(
        times, file=path, column="upload_time", required=False
    )
    if "unique" in raw.columns:
        items["unique"] = _parse_bools(raw["unique"], path, "unique")
    for column in raw.columns:
        if column in ("item_id", "image", "upload_time", "unique"):
            continue
        cells = raw[column].str.strip()
        items[column] = cells.where(cells.ne(""), pd.NA).astype("string")
    return items, time_format


def _resolve_images(cells: pd.Series, path: Path, root: Path, allow_absolute: bool) -> list:
    """Absolute, normalised image paths. A path must stay inside ``root`` both as written
    and once symlinks are followed, unless absolute paths are allowed by config."""
    real_root = root.resolve()
    resolved: list[str | None] = []
    for row, cell in enumerate(cells.str.strip()):
        if not cell:
            resolved.append(None)
            continue
        candidate = Path(cell)
        full = Path(os.path.normpath(candidate if candidate.is_absolute() else root / candidate))
        problem = _escape(candidate, full, root, real_root, allow_absolute)
        if problem:
            raise ImagePathError(f"{path}: line {row + 2}: image {cell!r} {problem}.")
        resolved.append(str(full))
    return resolved


def _escape(
    candidate: Path, full: Path, root: Path, real_root: Path, allow_absolute: bool
) -> str | None:
    """Why an image path may not be used, or ``None``."""
    allow = "set dataset.allow_absolute_images=true to use images outside the root"
    if "\x00" in str(candidate):
        return "holds a NUL character; write the file's path"
    if not _inside(full, root):
        if candidate.is_absolute():
            return None if allow_absolute else f"escapes {root}; {allow}"
        return (
            f"escapes {root}; image paths are relative to the dataset root and must stay inside it"
        )
    real = full.resolve()
    if allow_absolute or _inside(real, real_root):
        return None
    return f"is a symbolic link to {real}, outside {real_root}; {allow}"


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _parse_bools(cells: pd.Series, path: Path, column: str) -> pd.Series:
    text = cells.str.strip().str.lower()
    bad = ~text.isin(_TRUE | _FALSE | {""})
    if bad.any():
        lines = [int(i) + 2 for i in np.flatnonzero(bad.to_numpy())]
        raise DatasetError(
            f"{path}: column '{column}' must be true/false (or empty); bad value(s) on "
            f"line(s) {preview(lines)}, e.g. {cells[bad].iloc[0]!r}."
        )
    values = text.map(lambda v: True if v in _TRUE else (False if v in _FALSE else pd.NA))
    return values.astype("boolean")


def _load_purchases(path: Path, items: pd.DataFrame) -> tuple[pd.DataFrame, str | None, int]:
    raw = read_string_csv(path, required=["user_id", "item_id", "time"])
    users = raw["user_id"].str.strip()
    if users.eq("").any():
        lines = [int(i) + 2 for i in np.flatnonzero(users.eq("").to_numpy())]
        raise DatasetError(f"{path}: empty user_id on line(s) {preview(lines)}.")
    item_ids = raw["item_id"].str.strip()
    row_of = pd.Series(np.arange(len(items)), index=items["item_id"].to_numpy())
    known = item_ids.isin(row_of.index)
    if not known.all():
        unknown = item_ids[~known]
        raise UnknownItemError(
            f"{path}: purchase(s) of item_id(s) not in items.csv: {preview(unknown.unique())} "
            f"(first on line {int(unknown.index[0]) + 2}); add the items or remove the purchases."
        )
    times, time_format = parse_times(raw["time"], file=path, column="time", required=True)
    purchases = pd.DataFrame(
        {
            "user_id": users.to_numpy(dtype=object),
            "item_id": item_ids.to_numpy(dtype=object),
            "item_idx": row_of.loc[item_ids.to_numpy()].to_numpy(dtype=np.int64),
            "time": times,
            "time_raw": raw["time"].str.strip().to_numpy(dtype=object),
        }
    )
    duplicated = purchases.duplicated(["user_id", "item_idx", "time"])
    return purchases[~duplicated].reset_index(drop=True), time_format, int(duplicated.sum())
