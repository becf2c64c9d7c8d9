"""OmniArt: a metadata CSV (and image folder) to a label-only canonical dataset.

Cleaned as del Rio et al. 2018 did: keep artist, artwork type and creation year; drop rows
missing any of them (or with an unparsable year); drop artists and types with fewer than
``min_samples`` samples. Dropping rare artists can make a type rare and back, so the two
filters repeat until neither drops anything: every artist and type left has at least
``min_samples`` items. Then a seeded train/val/test split (70/20/10) in a ``split`` column.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from artrec.data.adapters import (
    ConversionReport,
    check_ids,
    find_image_folder,
    no_image_folder_warning,
    read_source_csv,
    write_dataset,
)
from artrec.errors import ConversionError, preview

DEFAULT_COLUMNS = {
    "id": "id",
    "artist": "artist_full_name",
    "type": "artwork_type",
    "year": "creation_year",
    "image": "image_file_name",
}
SPLITS = ("train", "val", "test")


def convert(
    src: Path,
    out: Path,
    *,
    metadata: str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    images: str | Path | None = None,
    min_samples: int = 100,
    seed: int = 0,
    split_fractions: Sequence[float] = (0.7, 0.2, 0.1),
) -> ConversionReport:
    """Convert OmniArt metadata; ``columns`` maps roles (id, artist, type, year, image) to
    the CSV's column names where they differ from :data:`DEFAULT_COLUMNS`."""
    src = Path(src).expanduser().absolute()
    names = _column_names(columns)
    path = find_metadata(src, metadata)
    raw = read_source_csv(path, [names["artist"], names["type"], names["year"]])
    if names["id"] not in raw.columns and names["image"] not in raw.columns:
        raise ConversionError(
            f"{path}: neither an id column {names['id']!r} nor an image column "
            f"{names['image']!r}; map one of them, e.g. --column id=omni_id."
        )
    report = ConversionReport(format="omniart", out=Path(out))
    frame = pd.DataFrame(
        {role: raw[name] for role, name in names.items() if name in raw.columns},
        index=pd.RangeIndex(len(raw)),
    )
    frame = clean(frame, min_samples, report)
    if frame.empty:
        report.warnings.append(f"no rows left after cleaning; lower --min-samples ({min_samples})")
    items = pd.DataFrame(
        {
            "item_id": _item_ids(frame, path, names),
            "image": _image_paths(frame.get("image"), len(frame), src, images, report),
            "artist": frame["artist"],
            "type": frame["type"],
            "year": frame["year"],
            "split": assign_split(len(frame), seed, split_fractions),
        }
    )
    return write_dataset(out, items, None, report)


def _item_ids(frame: pd.DataFrame, path: Path, names: Mapping[str, str]) -> list[str]:
    """The id column if mapped and present, else each image file name's stem; unique."""
    column = "id" if "id" in frame.columns else "image"
    ids = frame[column] if column == "id" else frame["image"].map(lambda n: Path(n).stem)
    check_ids(ids, path, names[column])
    return ids.tolist()


def clean(frame: pd.DataFrame, min_samples: int, report: ConversionReport) -> pd.DataFrame:
    """Rows with artist, type and integer year, whose artist and type both have at least
    ``min_samples`` rows (repeated to a fixed point); each drop counted under one reason.
    The index (source row) is kept, so later errors can name the file line."""
    year = pd.to_numeric(frame["year"].where(frame["year"].ne("")), errors="coerce")
    checks = {
        "missing artist": frame["artist"].ne(""),
        "missing artwork type": frame["type"].ne(""),
        "missing or unparsable year": year.notna() & np.isfinite(year),
    }
    keep = pd.Series(True, index=frame.index)
    for reason, ok in checks.items():
        report.drop(reason, int((keep & ~ok).sum()))
        keep &= ok
    frame = frame[keep].assign(year=year[keep].round().astype("int64").astype(str))
    while True:
        before = len(frame)
        for role, label in (("artist", "artist"), ("type", "artwork type")):
            counts = frame[role].map(frame[role].value_counts())
            rare = counts < min_samples
            report.drop(f"{label} with fewer than {min_samples} samples", int(rare.sum()))
            frame = frame[~rare]
        if len(frame) == before:
            return frame


def assign_split(n: int, seed: int, fractions: Sequence[float] = (0.7, 0.2, 0.1)) -> np.ndarray:
    """``train``/``val``/``test`` per row: a seeded permutation cut at the rounded fractions."""
    if len(fractions) != len(SPLITS) or min(fractions) < 0 or not np.isclose(sum(fractions), 1):
        raise ConversionError(
            f"split fractions {list(fractions)}: give three non-negative numbers summing to 1."
        )
    n_train = round(n * fractions[0])
    n_val = min(round(n * fractions[1]), n - n_train)
    labels = np.repeat(np.array(SPLITS), [n_train, n_val, n - n_train - n_val])
    split = np.empty(n, dtype=object)
    split[np.random.default_rng(seed).permutation(n)] = labels
    return split


def find_metadata(src: Path, metadata: str | Path | None) -> Path:
    """``metadata`` (relative to ``src`` or absolute) if given, else the one CSV in ``src``."""
    if metadata is not None:
        path = src / metadata
        if not path.is_file():
            raise ConversionError(f"{path}: metadata file not found; fix --metadata.")
        return path
    found = sorted(src.glob("*.csv")) if src.is_dir() else []
    if len(found) != 1:
        what = f"{len(found)} CSV files {preview(p.name for p in found)}" if found else "no CSV"
        raise ConversionError(f"{src}: holds {what}; name the metadata with --metadata FILE.")
    return found[0]


def _column_names(columns: Mapping[str, str] | None) -> dict[str, str]:
    unknown = sorted(set(columns or {}) - set(DEFAULT_COLUMNS))
    if unknown:
        raise ConversionError(
            f"column mapping for unknown role(s) {unknown}; roles are {list(DEFAULT_COLUMNS)}."
        )
    return {**DEFAULT_COLUMNS, **(columns or {})}


def _image_paths(
    names: pd.Series | None,
    n_rows: int,
    src: Path,
    images: str | Path | None,
    report: ConversionReport,
) -> list[str]:
    """Absolute path of each named image file that exists (``""`` otherwise)."""
    if names is None:
        report.warnings.append("the metadata has no image column: the image column is empty")
        return [""] * n_rows
    folder = find_image_folder(src, images)
    if folder is None:
        report.warnings.append(no_image_folder_warning(src))
        return [""] * n_rows
    paths = [str(folder / name) if name and (folder / name).is_file() else "" for name in names]
    missing = [name for name, path in zip(names, paths, strict=True) if not path]
    if missing:
        report.warnings.append(
            f"{len(missing)} of {len(paths)} image files are not in {folder} "
            f"(e.g. {preview(missing)}); their image cell is empty"
        )
    return paths


class _ColumnMapping(argparse.Action):
    """Collect repeated ``--column ROLE=COLUMN`` options into one dict."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        role, sep, name = str(values).partition("=")
        if not sep or not role.strip() or not name.strip():
            parser.error(f"{option_string} {values!r}: write ROLE=COLUMN, e.g. id=omni_id")
        mapping = {**getattr(namespace, self.dest, {}), role.strip(): name.strip()}
        setattr(namespace, self.dest, mapping)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The omniart options of ``python -m artrec.data.convert``."""
    parser.add_argument("--metadata", default=argparse.SUPPRESS, help="metadata CSV file")
    parser.add_argument(
        "--column",
        dest="columns",
        action=_ColumnMapping,
        metavar="ROLE=COLUMN",
        default=argparse.SUPPRESS,
        help=f"ROLE=COLUMN, repeatable; roles and defaults: {DEFAULT_COLUMNS}",
    )
    parser.add_argument("--images", default=argparse.SUPPRESS, help="image folder")
    parser.add_argument(
        "--min-samples",
        type=int,
        default=argparse.SUPPRESS,
        help="drop artists and types with fewer samples (default: 100)",
    )
    parser.add_argument("--seed", type=int, default=argparse.SUPPRESS, help="split seed (0)")
    parser.add_argument(
        "--split-fractions",
        type=float,
        nargs=3,
        metavar=("TRAIN", "VAL", "TEST"),
        default=argparse.SUPPRESS,
        help="train val test fractions (default: 0.7 0.2 0.1)",
    )
