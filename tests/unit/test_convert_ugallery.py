"""UGallery adapter: original export and hashed release to the canonical layout."""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from artrec.data import load_dataset
from artrec.data.adapters import ugallery
from artrec.errors import ConversionError

ARTWORKS = """id,artist_id,upload_date,original,medium_id
007,a1,2014-06-25 07:07:27.223,t,3
7,a1,2014-06-26 08:00:00,t,4
10,a2,2014-07-01 00:00:00.500,f,3
11,a2,,t,
"""
SALES = """id,customer_id,artwork_id,order_date
1,0012,007,2014-07-02 10:00:00
2,0012,7,2014-07-02 10:00:00
3,12,10,2014-07-03 11:00:00
4,12,999,2014-07-04 12:00:00
5,12,11,2014-07-05 13:30:00.250
"""
INVENTORY = """artwork_id_hash,artist_id_hash,upload_timestamp
a1,x,1400000000
b2,x,1400000100
c3,y,1400000200
007,y,
"""
PURCHASES = """user_id_hash,purchase_timestamp,purchased_artwork_ids_hash
u1,1400001000,"['a1', 'b2']"
u1,1400001000,['c3']
u2,1400002000,"['a1', 'zz']"
u2,1400003000,[]
u1,1400004000,"['007']"
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def jpeg(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), (200, 30, 30)).save(path)
    return path


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def original(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    write(src / "valid_artworks.csv", ARTWORKS)
    write(src / "valid_sales.csv", SALES)
    for name in ("007.jpg", "7.png", "10.jpg"):
        jpeg(src / "images" / name)
    return src


@pytest.fixture
def hashed(tmp_path: Path) -> Path:
    src = tmp_path / "hashed"
    write(src / "ugallery_inventory.csv", INVENTORY)
    write(src / "ugallery_purchases.csv", PURCHASES)
    return src


def test_original_keeps_only_originals_and_string_ids(original: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = ugallery.convert(original, out)
    items = rows(out / "items.csv")
    assert list(items[0]) == ["item_id", "image", "upload_time", "unique", "artist", "medium"]
    assert [r["item_id"] for r in items] == ["007", "7", "11"]
    assert [r["upload_time"] for r in items] == [
        "2014-06-25T07:07:27.223",
        "2014-06-26T08:00:00",
        "",
    ]
    assert [r["unique"] for r in items] == ["true", "true", "true"]
    assert [r["medium"] for r in items] == ["3", "4", ""]
    purchases = rows(out / "purchases.csv")
    assert [(r["user_id"], r["item_id"]) for r in purchases] == [
        ("0012", "007"),
        ("0012", "7"),
        ("12", "11"),
    ]
    assert purchases[2]["time"] == "2014-07-05T13:30:00.25"
    assert report.dropped == {
        "item not marked original (originals_only)": 1,
        "purchase of an item not marked original (originals_only)": 1,
        "purchase of an artwork not in valid_artworks.csv": 1,
    }
    assert (report.n_items, report.n_images, report.n_purchases, report.n_transactions) == (
        3,
        2,
        3,
        2,
    )
    assert any("'999'" in w for w in report.warnings)
    assert any("1 of 3 items have no image" in w for w in report.warnings)

    dataset = load_dataset(out, allow_absolute_images=True)
    assert dataset.time_format == "iso8601"
    images = dict(zip(dataset.items["item_id"], dataset.items["image"], strict=True))
    assert images["007"] == str((original / "images" / "007.jpg").absolute())
    assert images["7"] == str((original / "images" / "7.png").absolute())
    assert images["11"] is None
    expected = datetime(2014, 6, 25, 7, 7, 27, 223000, tzinfo=timezone.utc).timestamp()
    assert dataset.items["upload_time"].iloc[0] == pytest.approx(expected)
    assert list(dataset.transactions["items"]) == [(0, 1), (2,)]


def test_original_without_originals_only_keeps_prints(original: Path, tmp_path: Path) -> None:
    report = ugallery.convert(original, tmp_path / "out", originals_only=False)
    items = rows(tmp_path / "out" / "items.csv")
    assert [(r["item_id"], r["unique"]) for r in items] == [
        ("007", "true"),
        ("7", "true"),
        ("10", "false"),
        ("11", "true"),
    ]
    assert report.n_purchases == 4
    assert report.dropped == {"purchase of an artwork not in valid_artworks.csv": 1}
    dataset = load_dataset(tmp_path / "out", allow_absolute_images=True)
    assert dataset.items["unique"].tolist() == [True, True, False, True]


def test_original_image_folder_is_found_and_configurable(original: Path, tmp_path: Path) -> None:
    (original / "images").rename(original / "photos")
    report = ugallery.convert(original, tmp_path / "a")
    assert report.n_images == 2
    report = ugallery.convert(original, tmp_path / "b", images=original / "photos")
    assert report.n_images == 2
    with pytest.raises(ConversionError, match=r"nowhere.*fix --images"):
        ugallery.convert(original, tmp_path / "c", images="nowhere")


def test_hashed_release_groups_baskets_from_list_literals(hashed: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = ugallery.convert(hashed, out)
    items = rows(out / "items.csv")
    assert list(items[0]) == ["item_id", "image", "upload_time", "artist"]
    assert [(r["item_id"], r["upload_time"], r["image"]) for r in items] == [
        ("a1", "1400000000", ""),
        ("b2", "1400000100", ""),
        ("c3", "1400000200", ""),
        ("007", "", ""),
    ]
    purchases = rows(out / "purchases.csv")
    assert [(r["user_id"], r["item_id"], r["time"]) for r in purchases] == [
        ("u1", "a1", "1400001000"),
        ("u1", "b2", "1400001000"),
        ("u1", "c3", "1400001000"),
        ("u2", "a1", "1400002000"),
        ("u1", "007", "1400004000"),
    ]
    assert report.dropped == {
        "purchase row with an empty list of artworks": 1,
        "purchase of an artwork not in ugallery_inventory.csv": 1,
    }
    assert any("no image folder" in w for w in report.warnings)
    assert any("no 'original' column" in w for w in report.warnings)
    dataset = load_dataset(out, allow_absolute_images=True)
    assert dataset.time_format == "numeric"
    baskets = dataset.transactions
    assert list(baskets["user_id"]) == ["u1", "u2", "u1"]
    assert list(baskets["items"]) == [(0, 1, 2), (0,), (3,)]


def test_hashed_images_named_by_hash(hashed: Path, tmp_path: Path) -> None:
    jpeg(hashed / "imgs" / "b2.jpg")
    jpeg(hashed / "imgs" / "7.jpg")
    report = ugallery.convert(hashed, tmp_path / "out")
    items = rows(tmp_path / "out" / "items.csv")
    assert [Path(r["image"]).name if r["image"] else "" for r in items] == ["", "b2.jpg", "", ""]
    assert report.n_images == 1


def test_repeated_purchase_rows_are_dropped_once(hashed: Path, tmp_path: Path) -> None:
    write(hashed / "ugallery_purchases.csv", PURCHASES + "u1,1400004000,\"['007', '007']\"\n")
    report = ugallery.convert(hashed, tmp_path / "out")
    assert report.dropped["repeated purchase (same user, item and time)"] == 2
    assert report.n_purchases == 5


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        (
            "valid_artworks.csv",
            ARTWORKS.replace(",original,", ",orig,"),
            r"missing required column.*'original'",
        ),
        ("valid_artworks.csv", ARTWORKS.replace(",t,4", ",maybe,4"), r"line\(s\) \[3\].*'maybe'"),
        ("valid_artworks.csv", ARTWORKS.replace("10,a2", "7,a2"), r"repeats id\(s\) \['7'\]"),
        ("valid_sales.csv", SALES.replace("2014-07-03 11:00:00", "yesterday"), r"line\(s\) \[4\]"),
        ("valid_sales.csv", SALES.replace("12,999,", ",999,"), r"'customer_id' is empty"),
    ],
)
def test_original_bad_input_names_file_and_line(
    original: Path, tmp_path: Path, name: str, text: str, match: str
) -> None:
    write(original / name, text)
    with pytest.raises(ConversionError, match=match) as caught:
        ugallery.convert(original, tmp_path / "out")
    assert name in str(caught.value)


def test_missing_sales_file(original: Path, tmp_path: Path) -> None:
    (original / "valid_sales.csv").unlink()
    with pytest.raises(ConversionError, match=r"valid_sales\.csv: file not found"):
        ugallery.convert(original, tmp_path / "out")


def test_source_format_detection(original: Path, hashed: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="neither"):
        ugallery.convert(tmp_path / "out", tmp_path / "x")
    write(original / "ugallery_inventory.csv", INVENTORY)
    with pytest.raises(ConversionError, match=r"both.*--source-format"):
        ugallery.convert(original, tmp_path / "out")
    report = ugallery.convert(original, tmp_path / "out", source_format="original")
    assert report.n_items == 3


@pytest.mark.parametrize("cell", ["\"['a1', \"", "a1", '"[1.5]"', "\"{'a1': 1}\""])
def test_bad_list_literal_names_line(hashed: Path, tmp_path: Path, cell: str) -> None:
    write(hashed / "ugallery_purchases.csv", PURCHASES + f"u3,1400005000,{cell}\n")
    with pytest.raises(ConversionError, match=r"ugallery_purchases\.csv: line 7.*list of ids"):
        ugallery.convert(hashed, tmp_path / "out")


def test_bad_hashed_timestamp(hashed: Path, tmp_path: Path) -> None:
    write(hashed / "ugallery_inventory.csv", INVENTORY.replace("1400000100", "noon"))
    with pytest.raises(ConversionError, match=r"upload_timestamp.*line\(s\) \[3\]"):
        ugallery.convert(hashed, tmp_path / "out")
