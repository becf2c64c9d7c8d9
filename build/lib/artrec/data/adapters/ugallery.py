"""UGallery: the original export or the public hashed release, to the canonical layout.

``original``: ``valid_artworks.csv`` (id, artist_id, upload_date, original, medium_id) and
``valid_sales.csv`` (customer_id, artwork_id, order_date), dates like
``2014-06-25 07:07:27.223``, written as ISO-8601 (``2014-06-25T07:07:27.223``, UTC).
``hashed``: ``ugallery_inventory.csv`` and ``ugallery_purchases.csv`` (one Python list
literal of artwork ids per row), integer timestamps written as they are; with
``ugallery_resnet50_embeddings.npy`` beside them, also ``embeddings/resnet50.npz``.
Images are files named by artwork id (``123.jpg``) in one folder.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from artrec.data.adapters import (
    ConversionReport,
    check_ids,
    drop_duplicate_purchases,
    find_image_folder,
    index_images,
    line_numbers,
    no_image_folder_warning,
    read_source_csv,
    write_dataset,
)
from artrec.data.adapters.ugallery_embeddings import convert_release_vectors
from artrec.errors import ConversionError, preview

ARTWORKS, SALES = "valid_artworks.csv", "valid_sales.csv"
INVENTORY, PURCHASES = "ugallery_inventory.csv", "ugallery_purchases.csv"
_HINT = (
    f"The original export needs {ARTWORKS} and {SALES}; the public release needs "
    f"{INVENTORY} and {PURCHASES} (--source-format original|hashed)."
)
_FLAGS = {"t": "true", "true": "true", "1": "true", "f": "false", "false": "false", "0": "false"}

Tables = tuple[pd.DataFrame, pd.DataFrame]


def convert(
    src: Path,
    out: Path,
    *,
    source_format: str | None = None,
    images: str | Path | None = None,
    originals_only: bool = True,
) -> ConversionReport:
    """Convert a UGallery directory; ``source_format`` is detected from the files if None.

    ``originals_only`` keeps only one-of-a-kind artworks and their sales (original export
    only: the hashed release has no ``original`` column, so ``unique`` is not written and
    the protocol's ``unique_items=auto`` decides).
    """
    src = Path(src).expanduser().absolute()
    source_format = source_format or detect_source_format(src)
    if source_format not in SOURCE_FORMATS:
        raise ConversionError(
            f"source format {source_format!r}: use one of {sorted(SOURCE_FORMATS)}."
        )
    report = ConversionReport(format=f"ugallery ({source_format})", out=Path(out))
    items, purchases = SOURCE_FORMATS[source_format](src, originals_only, report)
    items.insert(1, "image", _image_paths(items["item_id"], src, images, report))
    purchases = _drop_unknown_items(purchases, items, MARKERS[source_format], report)
    report = write_dataset(out, items, drop_duplicate_purchases(purchases, report), report)
    convert_release_vectors(src, items["item_id"], report.out, report)
    return report


def detect_source_format(src: Path) -> str:
    """``original`` or ``hashed``, from which files ``src`` holds."""
    found = [name for name, marker in MARKERS.items() if (src / marker).is_file()]
    if len(found) != 1:
        what = "both" if found else "neither"
        raise ConversionError(f"{src}: holds {what} of {ARTWORKS} and {INVENTORY}. {_HINT}")
    return found[0]


def _read_original(src: Path, originals_only: bool, report: ConversionReport) -> Tables:
    path = src / ARTWORKS
    columns = ["id", "artist_id", "upload_date", "original", "medium_id"]
    art = read_source_csv(path, columns, hint=_HINT)
    check_ids(art["id"], path, "id")
    unique = _parse_flags(art["original"], path)
    items = pd.DataFrame(
        {
            "item_id": art["id"],
            "upload_time": _iso_times(art["upload_date"], path, "upload_date", required=False),
            "unique": unique,
            "artist": art["artist_id"],
            "medium": art["medium_id"],
        }
    )
    sales_path = src / SALES
    sales = read_source_csv(sales_path, ["customer_id", "artwork_id", "order_date"], hint=_HINT)
    _check_filled(sales["customer_id"], sales_path, "customer_id")
    purchases = pd.DataFrame(
        {
            "user_id": sales["customer_id"],
            "item_id": sales["artwork_id"],
            "time": _iso_times(sales["order_date"], sales_path, "order_date", required=True),
        }
    )
    if not originals_only:
        return items, purchases
    return _keep_originals(items, purchases, report)


def _keep_originals(
    items: pd.DataFrame, purchases: pd.DataFrame, report: ConversionReport
) -> Tables:
    """Only the items marked original (``unique`` true) and the purchases of them."""
    original = items["unique"].eq("true")
    report.drop("item not marked original (originals_only)", int((~original).sum()))
    bought_other = purchases["item_id"].isin(set(items["item_id"][~original]))
    report.drop("purchase of an item not marked original (originals_only)", bought_other.sum())
    kept_items = items[original.to_numpy()].reset_index(drop=True)
    return kept_items, purchases[~bought_other].reset_index(drop=True)


def _read_hashed(src: Path, originals_only: bool, report: ConversionReport) -> Tables:
    path = src / INVENTORY
    columns = ["artwork_id_hash", "artist_id_hash", "upload_timestamp"]
    inventory = read_source_csv(path, columns, hint=_HINT)
    check_ids(inventory["artwork_id_hash"], path, "artwork_id_hash")
    _check_numeric(inventory["upload_timestamp"], path, "upload_timestamp", required=False)
    items = pd.DataFrame(
        {
            "item_id": inventory["artwork_id_hash"],
            "upload_time": inventory["upload_timestamp"],
            "artist": inventory["artist_id_hash"],
        }
    )
    report.warnings.append(
        f"{INVENTORY} has no 'original' column: 'unique' is not written (the protocol's "
        "unique_items=auto decides) and originals_only has no effect"
    )
    return items, _read_baskets(src / PURCHASES, report)


def _read_baskets(path: Path, report: ConversionReport) -> pd.DataFrame:
    """One purchase row per id of each row's list literal (rows of one user and time then
    form one basket, as every canonical (user_id, time) does)."""
    columns = ["user_id_hash", "purchase_timestamp", "purchased_artwork_ids_hash"]
    rows = read_source_csv(path, columns, hint=_HINT)
    _check_filled(rows["user_id_hash"], path, "user_id_hash")
    _check_numeric(rows["purchase_timestamp"], path, "purchase_timestamp", required=True)
    baskets = [
        _parse_id_list(cell, path, line)
        for line, cell in enumerate(rows["purchased_artwork_ids_hash"], start=2)
    ]
    report.drop("purchase row with an empty list of artworks", sum(not b for b in baskets))
    purchases = pd.DataFrame(
        {
            "user_id": rows["user_id_hash"],
            "item_id": pd.Series(baskets, dtype=object),
            "time": rows["purchase_timestamp"],
        }
    ).explode("item_id")
    purchases = purchases[purchases["item_id"].notna()].astype(str)
    return purchases.reset_index(drop=True)


SOURCE_FORMATS: dict[str, Callable[[Path, bool, ConversionReport], Tables]] = {
    "original": _read_original,
    "hashed": _read_hashed,
}
MARKERS = {"original": ARTWORKS, "hashed": INVENTORY}


def _parse_id_list(cell: str, path: Path, line: int) -> list[str]:
    """A cell like ``['a1', 'b2']`` as a list of id strings."""
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        value = exc
    if not isinstance(value, list | tuple) or not all(isinstance(v, str | int) for v in value):
        raise ConversionError(
            f"{path}: line {line}, column 'purchased_artwork_ids_hash': {cell!r} is not a "
            "Python list of ids such as ['a1', 'b2']; fix the cell."
        )
    return [str(v).strip() for v in value]


def _parse_flags(cells: pd.Series, path: Path) -> pd.Series:
    """``t``/``f`` (or true/false/1/0) as ``true``/``false``; empty stays empty (unknown)."""
    text = cells.str.lower()
    bad = ~text.isin([*_FLAGS, ""])
    if bad.any():
        raise ConversionError(
            f"{path}: column 'original' must be t or f; bad value(s) on line(s) "
            f"{preview(line_numbers(bad))}, e.g. {cells[bad].iloc[0]!r}. Fix those cells."
        )
    return text.map(lambda v: _FLAGS.get(v, "")).astype(str)


def _iso_times(cells: pd.Series, path: Path, column: str, *, required: bool) -> pd.Series:
    """Dates as naive-UTC ISO-8601 text without trailing zero fractions; empty stays empty."""
    if required:
        _check_filled(cells, path, column)
    empty = cells.eq("")
    parsed = pd.to_datetime(cells.where(~empty), format="ISO8601", utc=True, errors="coerce")
    bad = parsed.isna() & ~empty
    if bad.any():
        raise ConversionError(
            f"{path}: column '{column}' has unparsable date(s) on line(s) "
            f"{preview(line_numbers(bad))}, e.g. {cells[bad].iloc[0]!r}; write dates like "
            "2014-06-25 07:07:27.223."
        )
    text = parsed.dt.tz_convert(None).dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
    text = text.str.replace(r"(\.\d*?[1-9])0+$", r"\1", regex=True)
    text = text.str.replace(r"\.0+$", "", regex=True)
    return text.where(~empty, "").astype(str)


def _check_numeric(cells: pd.Series, path: Path, column: str, *, required: bool) -> None:
    if required:
        _check_filled(cells, path, column)
    bad = pd.to_numeric(cells.where(cells.ne("")), errors="coerce").isna() & cells.ne("")
    if bad.any():
        raise ConversionError(
            f"{path}: column '{column}' must hold numeric timestamps; bad value(s) on "
            f"line(s) {preview(line_numbers(bad))}, e.g. {cells[bad].iloc[0]!r}."
        )


def _check_filled(cells: pd.Series, path: Path, column: str) -> None:
    empty = cells.eq("")
    if empty.any():
        raise ConversionError(
            f"{path}: column '{column}' is empty on line(s) {preview(line_numbers(empty))}; "
            "fill it or remove those rows."
        )


def _drop_unknown_items(
    purchases: pd.DataFrame, items: pd.DataFrame, inventory: str, report: ConversionReport
) -> pd.DataFrame:
    """Drop (and warn about) purchases of artworks the inventory file does not list."""
    unknown = ~purchases["item_id"].isin(set(items["item_id"]))
    if unknown.any():
        ids = purchases.loc[unknown, "item_id"].unique()
        report.drop(f"purchase of an artwork not in {inventory}", int(unknown.sum()))
        report.warnings.append(
            f"dropped {int(unknown.sum())} purchase(s) of {len(ids)} artwork id(s) not in "
            f"{inventory}: {preview(ids)}"
        )
    return purchases[~unknown].reset_index(drop=True)


def _image_paths(
    ids: pd.Series, src: Path, images: str | Path | None, report: ConversionReport
) -> list[str]:
    """Absolute image path per item id (``""`` where no file is named by the id)."""
    folder = find_image_folder(src, images)
    if folder is None:
        report.warnings.append(no_image_folder_warning(src))
        return [""] * len(ids)
    found = index_images(folder)
    paths = [found.get(item_id, "") for item_id in ids]
    missing = [item_id for item_id, p in zip(ids, paths, strict=True) if not p]
    if missing:
        report.warnings.append(
            f"{len(missing)} of {len(ids)} items have no image named by their id in {folder} "
            f"(e.g. {preview(missing)}); their image cell is empty"
        )
    return paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ugallery options of ``python -m artrec.data.convert``."""
    parser.add_argument(
        "--source-format",
        choices=sorted(SOURCE_FORMATS),
        default=argparse.SUPPRESS,
        help="original export or public hashed release (default: detected from the files)",
    )
    parser.add_argument(
        "--images",
        default=argparse.SUPPRESS,
        help="folder of images named by artwork id, relative to --src or absolute "
        "(default: src/images, else the sub-folder with most images)",
    )
    parser.add_argument(
        "--originals-only",
        action=argparse.BooleanOptionalAction,
        default=argparse.SUPPRESS,
        help="keep only one-of-a-kind artworks and their sales (default: true)",
    )
