"""OmniArt adapter: cleaning, thresholds to a fixed point, seeded split, column mapping."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artrec.data import load_dataset
from artrec.data.adapters import omniart
from artrec.errors import ConversionError

HEADER = "artist_full_name,artwork_type,creation_year,image_file_name,school\n"
# With min_samples=3 one pass drops artist C (2 rows); then type Q has 2 rows (B's) and
# goes; then artist B has 1 row left and goes. Only A's three rows survive.
ROWS = """A,P,1600,a1.jpg,x
A,P,1601.0,a2.jpg,x
A,P,1602,a3.jpg,x
B,P,1700,b1.jpg,x
B,Q,1701,b2.jpg,x
B,Q,1702,b3.jpg,x
C,Q,1800,c1.jpg,x
C,Q,1801,c2.jpg,x
,P,1900,n1.jpg,x
,,1901,n2.jpg,x
A,,1902,n3.jpg,x
A,P,c. 1890,n4.jpg,x
A,P,,n5.jpg,x
"""


def jpeg(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), (10, 120, 10)).save(path)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "omniart"
    folder.mkdir()
    (folder / "metadata.csv").write_text(HEADER + ROWS, encoding="utf-8")
    jpeg(folder / "images" / "a1.jpg")
    jpeg(folder / "images" / "a3.jpg")
    return folder


def test_cleaning_reaches_a_fixed_point(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = omniart.convert(src, out, min_samples=3)
    items = rows(out / "items.csv")
    assert list(items[0]) == ["item_id", "image", "artist", "type", "year", "split"]
    assert [(r["item_id"], r["artist"], r["type"], r["year"]) for r in items] == [
        ("a1", "A", "P", "1600"),
        ("a2", "A", "P", "1601"),
        ("a3", "A", "P", "1602"),
    ]
    assert report.dropped == {
        "missing artist": 2,
        "missing artwork type": 1,
        "missing or unparsable year": 2,
        "artist with fewer than 3 samples": 3,
        "artwork type with fewer than 3 samples": 2,
    }
    assert not (out / "purchases.csv").exists()
    assert (report.n_items, report.n_images, report.n_purchases) == (3, 2, 0)
    assert any("1 of 3 image files" in w and "a2.jpg" in w for w in report.warnings)
    dataset = load_dataset(out, allow_absolute_images=True)
    assert dataset.items["image"].tolist() == [
        str((src / "images" / "a1.jpg").absolute()),
        None,
        str((src / "images" / "a3.jpg").absolute()),
    ]
    assert dataset.label_columns == ("artist", "type", "year")
    assert dataset.items["split"].tolist() == list(omniart.assign_split(3, 0))


def test_low_threshold_keeps_every_complete_row(src: Path, tmp_path: Path) -> None:
    report = omniart.convert(src, tmp_path / "out", min_samples=1)
    assert report.n_items == 8
    assert sum(report.dropped.values()) == 5


def test_default_threshold_drops_everything_small(src: Path, tmp_path: Path) -> None:
    report = omniart.convert(src, tmp_path / "out")
    assert report.n_items == 0
    assert report.dropped["artist with fewer than 100 samples"] == 8
    assert any("no rows left" in w for w in report.warnings)


def test_split_proportions_and_seed() -> None:
    split = omniart.assign_split(1000, seed=3)
    assert Counter(split) == {"train": 700, "val": 200, "test": 100}
    assert Counter(omniart.assign_split(10, seed=0)) == {"train": 7, "val": 2, "test": 1}
    assert np.array_equal(split, omniart.assign_split(1000, seed=3))
    assert not np.array_equal(split, omniart.assign_split(1000, seed=4))
    assert Counter(omniart.assign_split(10, 0, (0.5, 0.5, 0.0))) == {"train": 5, "val": 5}
    with pytest.raises(ConversionError, match="summing to 1"):
        omniart.assign_split(10, 0, (0.5, 0.2, 0.1))


def test_id_column_and_column_mapping(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    lines = ["omni_id,painter,artwork_type,creation_year"]
    lines += [f"{i:03d},{'A' if i < 4 else 'B'},P,{1500 + i}" for i in range(6)]
    (src / "meta.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    report = omniart.convert(
        src, out, columns={"id": "omni_id", "artist": "painter"}, min_samples=2, seed=5
    )
    items = rows(out / "items.csv")
    assert [(r["item_id"], r["artist"], r["image"]) for r in items] == [
        ("000", "A", ""),
        ("001", "A", ""),
        ("002", "A", ""),
        ("003", "A", ""),
        ("004", "B", ""),
        ("005", "B", ""),
    ]
    assert [r["split"] for r in items] == list(omniart.assign_split(6, 5))
    assert any("no image column" in w for w in report.warnings)
    load_dataset(out, allow_absolute_images=True)


def test_missing_column_names_file_and_fix(src: Path, tmp_path: Path) -> None:
    (src / "metadata.csv").write_text(HEADER.replace("artwork_type", "kind") + ROWS)
    missing = r"metadata\.csv: missing required column.*'artwork_type'"
    with pytest.raises(ConversionError, match=missing):
        omniart.convert(src, tmp_path / "out")
    report = omniart.convert(src, tmp_path / "out", columns={"type": "kind"}, min_samples=3)
    assert report.n_items == 3


def test_metadata_discovery(src: Path, tmp_path: Path) -> None:
    (src / "other.csv").write_text("a\n1\n")
    with pytest.raises(ConversionError, match=r"2 CSV files.*--metadata"):
        omniart.convert(src, tmp_path / "out")
    assert omniart.convert(src, tmp_path / "out", metadata="metadata.csv", min_samples=3).n_items
    with pytest.raises(ConversionError, match=r"nope\.csv: metadata file not found"):
        omniart.convert(src, tmp_path / "out", metadata="nope.csv")


def test_bad_inputs(src: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match=r"unknown role\(s\) \['painter'\]"):
        omniart.convert(src, tmp_path / "out", columns={"painter": "x"})
    (src / "metadata.csv").write_text(HEADER + ROWS + "A,P,1603,sub/a1.jpg,x\n")  # line 15
    match = r"'image_file_name' repeats id\(s\) \['a1'\] on line\(s\) \[2, 15\]"
    with pytest.raises(ConversionError, match=match):
        omniart.convert(src, tmp_path / "out", min_samples=3)
    (src / "metadata.csv").write_text("artist_full_name,artwork_type,creation_year\nA,P,1\n")
    with pytest.raises(ConversionError, match="neither an id column"):
        omniart.convert(src, tmp_path / "out")
