"""WikiArt: style folders, or the ArtGAN CSV lists, to a label-only canonical dataset.

``folders``: ``<Style>/<artist-slug>_<title-slug>[-YEAR[-YY]][-N].jpg`` gives ``style``,
``artist`` and ``year`` labels (the first year of a range; ``-N`` counts works of one title);
the item id is ``<Style>/<file stem>``.
``csv``: ``{task}_train.csv`` / ``{task}_val.csv`` (rows ``path,class_index``, no header)
and ``{task}_class.txt`` (lines ``index name``) for the tasks artist, genre and style;
the item id is the path without its suffix, so both sources name an image alike. The
ArtGAN splits differ between tasks: an image in any task's val list is ``val`` (so that
no validation image is trained on), the others ``train``.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pandas as pd

from artrec.data.adapters import (
    IMAGE_SUFFIXES,
    ConversionReport,
    line_numbers,
    read_source_csv,
    write_dataset,
)
from artrec.errors import ConversionError, preview

TASKS = ("artist", "genre", "style")
CSV_SPLITS = ("train", "val")
#: A plausible year (1000-2099) ending the title, then optionally a range's end
#: (``-21`` or ``-1921``) and a counter WikiArt adds to repeated titles (``-1``, ``-7``).
_YEAR = re.compile(r"(?:^|-)(1\d{3}|20\d{2})(?:-(?:\d{2}|\d{4}))?(?:-\d{1,3})?$")


def convert(
    src: Path,
    out: Path,
    *,
    source_format: str | None = None,
    csv_dir: str | Path | None = None,
    images: str | Path | None = None,
) -> ConversionReport:
    """Convert WikiArt; ``source_format`` (folders or csv) is detected if None: csv when
    ``csv_dir`` is given or a ``{task}_train.csv`` is in ``src`` or one of its folders."""
    src = Path(src).expanduser().absolute()
    if not src.is_dir():
        raise ConversionError(f"{src}: source folder not found; fix --src.")
    lists = _find_csv_dir(src, csv_dir)
    source_format = source_format or ("csv" if lists else "folders")
    if source_format not in SOURCE_FORMATS:
        raise ConversionError(
            f"source format {source_format!r}: use one of {sorted(SOURCE_FORMATS)}."
        )
    report = ConversionReport(format=f"wikiart ({source_format})", out=Path(out))
    items = SOURCE_FORMATS[source_format](src, lists, images, report)
    return write_dataset(out, items, None, report)


def parse_filename(stem: str) -> tuple[str, str]:
    """``(artist slug, year)`` of a WikiArt file stem; ``""`` where absent.

    ``claude-monet_water-lilies-1906`` -> ``("claude-monet", "1906")``;
    ``..._composition-1929-1`` (a counter) -> ``1929``; ``..._x-1920-21`` (a range) -> ``1920``;
    ``rembrandt_self-portrait`` and ``..._composition-no-1`` -> year ``""``.
    """
    artist, sep, title = stem.partition("_")
    if not sep:
        artist, title = "", stem
    match = _YEAR.search(title)
    return artist, match.group(1) if match else ""


def _from_folders(
    src: Path, lists: Path | None, images: str | Path | None, report: ConversionReport
) -> pd.DataFrame:
    root = (src / images).absolute() if images is not None else src.absolute()
    if not root.is_dir():
        raise ConversionError(f"{root}: image folder not found; fix --images.")
    rows = []
    for folder in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                artist, year = parse_filename(path.stem)
                rows.append((f"{folder.name}/{path.stem}", str(path), folder.name, artist, year))
    if not rows:
        raise ConversionError(
            f"{root}: no images in style folders (expected e.g. "
            "Impressionism/claude-monet_water-lilies-1906.jpg); fix --src or --images."
        )
    items = pd.DataFrame(rows, columns=["item_id", "image", "style", "artist", "year"])
    repeated = items["item_id"].duplicated()
    if repeated.any():
        report.drop("second image file with the same style and file stem", int(repeated.sum()))
        report.warnings.append(
            f"kept the first of several files per item id {preview(items['item_id'][repeated])}"
        )
    no_artist = int(items["artist"].eq("").sum())
    if no_artist:
        report.warnings.append(f"{no_artist} file names have no 'artist_' prefix: artist empty")
    return items[~repeated].reset_index(drop=True)


def _from_csv(
    src: Path, lists: Path | None, images: str | Path | None, report: ConversionReport
) -> pd.DataFrame:
    if lists is None:
        raise ConversionError(
            f"{src}: no {{task}}_train.csv or {{task}}_val.csv for tasks {list(TASKS)} here "
            "or in a sub-folder; name their folder with --csv-dir."
        )
    long = pd.concat([_read_task(lists, task) for task in TASKS if _task_files(lists, task)])
    _check_conflicts(long, lists)
    in_val = set(long.loc[long["split"].eq("val"), "path"])
    conflicts = long.groupby("path")["split"].nunique().gt(1).sum()
    long = long.drop_duplicates(["path", "task"])
    items = long.pivot(index="path", columns="task", values="label").fillna("")
    items = items.reindex(long["path"].unique()).reset_index()
    if conflicts:
        report.warnings.append(f"{conflicts} images are in both a train and a val list: marked val")
    return pd.DataFrame(
        {
            "item_id": [str(PurePosixPath(p).with_suffix("")) for p in items["path"]],
            "image": _image_paths(src, images, items["path"], report),
            **{task: items[task] for task in TASKS if task in items.columns},
            "split": ["val" if p in in_val else "train" for p in items["path"]],
        }
    )


def _image_paths(
    src: Path, images: str | Path | None, paths: pd.Series, report: ConversionReport
) -> list[str]:
    """Absolute path of each listed image that exists (``""`` otherwise)."""
    root = _image_root(src, images, paths)
    if root is None:
        report.warnings.append(f"no folder under {src} holds the listed images: image empty")
        return [""] * len(paths)
    found = [str(root / p) if (root / p).is_file() else "" for p in paths]
    missing = [p for p, f in zip(paths, found, strict=True) if not f]
    if missing:
        report.warnings.append(
            f"{len(missing)} listed images are not in {root} (e.g. {preview(missing)}): "
            "their image cell is empty"
        )
    return found


SOURCE_FORMATS: dict[
    str, Callable[[Path, Path | None, str | Path | None, ConversionReport], pd.DataFrame]
] = {"folders": _from_folders, "csv": _from_csv}


def _task_files(lists: Path, task: str) -> list[Path]:
    """The task's train and val lists that exist in ``lists``."""
    paths = [lists / f"{task}_{split}.csv" for split in CSV_SPLITS]
    return [path for path in paths if path.is_file()]


def _find_csv_dir(src: Path, csv_dir: str | Path | None) -> Path | None:
    """``csv_dir`` if given, else ``src`` or the first sub-folder holding a task list."""
    if csv_dir is not None:
        folder = src / csv_dir
        if not folder.is_dir():
            raise ConversionError(f"{folder}: CSV folder not found; fix --csv-dir.")
        return folder
    candidates = [src, *sorted(d for d in src.iterdir() if d.is_dir())]
    return next((d for d in candidates if any(_task_files(d, t) for t in TASKS)), None)


def _read_task(lists: Path, task: str) -> pd.DataFrame:
    """One task's rows as ``path, task, label, split`` (class index -> class name)."""
    classes = _read_classes(lists / f"{task}_class.txt")
    frames = []
    for path in _task_files(lists, task):
        rows = read_source_csv(path, names=["path", "class_index"])
        bad = ~rows["class_index"].isin(classes) | rows["path"].eq("")
        if bad.any():
            raise ConversionError(
                f"{path}: line(s) {preview(line_numbers(bad, header=False))} need "
                f"'path,class_index' with an index listed in {task}_class.txt; e.g. "
                f"{rows[bad].iloc[0].tolist()}. Fix those rows."
            )
        split = path.stem.rpartition("_")[2]
        labels = rows["class_index"].map(classes)
        frames.append(rows.assign(task=task, label=labels, split=split, file=path.name))
    return pd.concat(frames, ignore_index=True)[["path", "task", "label", "split", "file"]]


def _read_classes(path: Path) -> dict[str, str]:
    """``index name`` lines as {index: name}."""
    if not path.is_file():
        raise ConversionError(
            f"{path}: file not found; each task list needs its class names (lines 'index name')."
        )
    classes = {}
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        index, _, name = text.strip().partition(" ")
        if not text.strip():
            continue
        if not index.isdigit() or not name.strip():
            raise ConversionError(f"{path}: line {line}: {text!r} is not 'index name'; fix it.")
        classes[index] = name.strip()
    return classes


def _check_conflicts(long: pd.DataFrame, lists: Path) -> None:
    """Raise if one image has two different labels for one task."""
    labels = long.groupby(["path", "task"])["label"].nunique()
    clash = labels[labels.gt(1)]
    if not clash.empty:
        path, task = clash.index[0]
        found = long[(long["path"] == path) & (long["task"] == task)]
        raise ConversionError(
            f"{lists}: {path!r} has {task} labels {found['label'].tolist()} in "
            f"{sorted(set(found['file']))}; keep one label per image and task."
        )


def _image_root(src: Path, images: str | Path | None, paths: pd.Series) -> Path | None:
    """``images`` if given, else ``src`` or the first sub-folder holding a listed image."""
    if images is not None:
        root = (src / images).absolute()
        if not root.is_dir():
            raise ConversionError(f"{root}: image folder not found; fix --images.")
        return root
    probe = list(paths[:20])
    candidates = [src, *sorted(d for d in src.iterdir() if d.is_dir())]
    found = (d for d in candidates if any((d / p).is_file() for p in probe))
    root = next(found, None)
    return root.absolute() if root is not None else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The wikiart options of ``python -m artrec.data.convert``."""
    parser.add_argument(
        "--source-format",
        choices=sorted(SOURCE_FORMATS),
        default=argparse.SUPPRESS,
        help="style folders or ArtGAN CSV lists (default: csv if task lists are found)",
    )
    parser.add_argument(
        "--csv-dir", default=argparse.SUPPRESS, help="folder of the {task}_train/val.csv lists"
    )
    parser.add_argument(
        "--images",
        default=argparse.SUPPRESS,
        help="image root, relative to --src or absolute (default: src, or the sub-folder "
        "that holds the listed images)",
    )
