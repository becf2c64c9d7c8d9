"""The canonical dataset layer: docs/data.md, every bad input with its own clear error."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artrec.data import load_dataset
from artrec.data.image_check import check_images
from artrec.data.summary import main as summary_main
from artrec.data.summary import summarize
from artrec.errors import (
    ArtrecError,
    CorruptImageError,
    DatasetError,
    DuplicateIdError,
    ImagePathError,
    MissingColumnError,
    TimeFormatError,
    UnknownItemError,
)


def write(root: Path, items: str, purchases: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "items.csv").write_text(items)
    if purchases is not None:
        (root / "purchases.csv").write_text(purchases)
    return root


def test_ids_stay_strings(tmp_path):
    root = write(
        tmp_path,
        "item_id,artist\n007,a\n7,b\n7.0,c\n",
        "user_id,item_id,time\n001,7.0,1\n1,007,2\n1.0,7,3\n",
    )
    ds = load_dataset(root)
    assert ds.items["item_id"].tolist() == ["007", "7", "7.0"]
    assert ds.purchases["item_id"].tolist() == ["7.0", "007", "7"]
    assert ds.purchases["item_idx"].tolist() == [2, 0, 1]
    assert sorted(ds.purchases["user_id"]) == ["001", "1", "1.0"]
    assert ds.item_index == {"007": 0, "7": 1, "7.0": 2}


def test_transactions_group_same_user_and_time(tmp_path):
    root = write(
        tmp_path,
        "item_id,unique\na,true\nb,false\nc,\n",
        "user_id,item_id,time\nu1,c,10\nu1,a,10\nu2,b,5\nu1,b,20\nu1,a,10\n",
    )
    ds = load_dataset(root)
    baskets = ds.transactions
    assert baskets["user_id"].tolist() == ["u2", "u1", "u1"]
    assert baskets["time"].tolist() == [5.0, 10.0, 20.0]
    assert baskets["items"].tolist() == [(1,), (0, 2), (1,)]
    assert ds.n_duplicate_purchases == 1
    assert ds.items["unique"].tolist()[:2] == [True, False]
    assert ds.items["unique"].isna().tolist() == [False, False, True]


def test_numeric_and_iso_times(tmp_path):
    numeric = load_dataset(write(tmp_path / "n", "item_id,upload_time\na,1.5\nb,\n"))
    assert numeric.time_format == "numeric"
    assert numeric.items["upload_time"].iloc[0] == 1.5
    assert math.isnan(numeric.items["upload_time"].iloc[1])
    iso = load_dataset(
        write(
            tmp_path / "i",
            "item_id,upload_time\na,1970-01-01T00:01:00\nb,2014-06-25 07:07:27.223\n",
            "user_id,item_id,time\nu,a,1970-01-02T00:00:00+00:00\n",
        )
    )
    assert iso.time_format == "iso8601"
    assert iso.items["upload_time"].iloc[0] == 60.0
    assert iso.items["upload_time"].iloc[1] == pytest.approx(1403680047.223)
    assert iso.purchases["time"].iloc[0] == 86400.0
    assert iso.purchases["time_raw"].iloc[0] == "1970-01-02T00:00:00+00:00"
    far = load_dataset(
        write(tmp_path / "f", "item_id,upload_time\na,9999-12-31T23:59:59\nb,0001-01-01\n")
    )
    assert far.items["upload_time"].tolist() == [253402300799.0, -62135596800.0]


@pytest.mark.parametrize(
    ("items", "purchases", "error", "words"),
    [
        ("item_id\na\nb\na\n", None, DuplicateIdError, ["items.csv", "'a'", "lines", "unique"]),
        (
            "item_id\na\n",
            "user_id,item_id,time\nu,a,1\nu,zz,2\n",
            UnknownItemError,
            ["'zz'", "line 3"],
        ),
        (
            "item_id\na\n",
            "user_id,item_id,time\nu,a,yesterday\n",
            TimeFormatError,
            ["line(s) [2]", "'yesterday'"],
        ),
        (
            "item_id,upload_time\na,1\nb,2014-01-01\n",
            None,
            TimeFormatError,
            ["mixes", "line 2", "line 3"],
        ),
        (
            "item_id,upload_time\na,1\n",
            "user_id,item_id,time\nu,a,2014-01-01\n",
            TimeFormatError,
            ["numeric", "iso8601"],
        ),
        (
            "id,artist\na,x\n",
            None,
            MissingColumnError,
            ["items.csv", "item_id", "found ['id', 'artist']"],
        ),
        (
            "item_id\na\n",
            "user,item_id,time\nu,a,1\n",
            MissingColumnError,
            ["purchases.csv", "user_id"],
        ),
        ("item_id\na\n", "user_id,item_id,time\nu,a,\n", TimeFormatError, ["empty", "line(s) [2]"]),
        (
            "item_id,image\na,../outside.jpg\n",
            None,
            ImagePathError,
            ["line 2", "escapes", "inside"],
        ),
        (
            "item_id,image\na,/elsewhere/x.jpg\n",
            None,
            ImagePathError,
            ["allow_absolute_images=true"],
        ),
        ("item_id,unique\na,maybe\n", None, DatasetError, ["'unique'", "true/false", "'maybe'"]),
        *[
            (
                "item_id\na\n",
                f"user_id,item_id,time\nu,a,1\nu,a,{time}\n",
                TimeFormatError,
                ["purchases.csv", "non-finite", "line(s) [3]", repr(time)],
            )
            for time in ("inf", "-inf", "1e400")
        ],
        ("item_id,image\na,x\x00y.jpg\n", None, ImagePathError, ["line 2", "NUL character"]),
        ("item_id,artist\na,x,y\nb,z\n", None, DatasetError, ["items.csv", "more cells than"]),
        (
            "item_id,upload_time\na,1\nb,inf\n",
            None,
            TimeFormatError,
            ["items.csv", "'upload_time'", "non-finite", "line(s) [3]"],
        ),
    ],
)
def test_bad_input_names_file_row_and_fix(tmp_path, items, purchases, error, words):
    root = write(tmp_path, items, purchases)
    with pytest.raises(error) as caught:
        load_dataset(root)
    assert isinstance(caught.value, ArtrecError)
    for word in words:
        assert word in str(caught.value)


def test_absolute_images_outside_root_allowed_by_config(tmp_path):
    root = write(tmp_path / "ds", "item_id,image\na,/elsewhere/x.jpg\nb,images/b.jpg\n")
    ds = load_dataset(root, allow_absolute_images=True)
    assert ds.items["image"].tolist() == ["/elsewhere/x.jpg", str(root.absolute() / "images/b.jpg")]


def test_a_root_written_with_dot_dot_is_normalised_like_its_images(tmp_path):
    write(tmp_path / "ds", "item_id,image\na,images/a.jpg\nb,./images/../b.jpg\n")
    (tmp_path / "other").mkdir()
    ds = load_dataset(tmp_path / "other" / ".." / "ds")
    assert ds.root == tmp_path / "ds"
    assert ds.items["image"].tolist() == [
        str(tmp_path / "ds/images/a.jpg"),
        str(tmp_path / "ds/b.jpg"),
    ]


@pytest.mark.parametrize("link", ["images/a.jpg", "images"])
def test_symlinks_out_of_the_root_are_refused(tmp_path, link):
    """An image file, or a folder of images, inside the root that links outside it."""
    outside = tmp_path / "outside"
    (outside / "images").mkdir(parents=True)
    (outside / "images/a.jpg").write_bytes(b"")
    root = write(tmp_path / "ds", "item_id,image\na,images/a.jpg\n")
    if link != "images":
        (root / "images").mkdir()
    (root / link).symlink_to(outside / link)
    words = r"line 2: image 'images/a\.jpg' is a symbolic link to .*outside/images/a\.jpg, outside"
    with pytest.raises(ImagePathError, match=words + r".*allow_absolute_images=true"):
        load_dataset(root)
    allowed = load_dataset(root, allow_absolute_images=True)
    assert allowed.items["image"].tolist() == [str(root / "images/a.jpg")]


def test_symlinks_inside_the_root_are_followed(tmp_path):
    root = write(tmp_path / "ds", "item_id,image\na,images/a.jpg\n")
    (root / "store").mkdir()
    (root / "images").symlink_to(root / "store")
    assert load_dataset(root).items["image"].tolist() == [str(root / "images/a.jpg")]


def test_missing_directory_and_required_purchases(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "nope")
    root = write(tmp_path / "labels", "item_id,artist\na,x\n")
    assert load_dataset(root).purchases.empty
    with pytest.raises(DatasetError, match=r"purchases\.csv: file not found"):
        load_dataset(root, require_purchases=True)


@pytest.fixture()
def images_dataset(tmp_path):
    (tmp_path / "images").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(tmp_path / "images/good.jpg")
    (tmp_path / "images/corrupt.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    items = (
        "item_id,image\ngood,images/good.jpg\nbad,images/corrupt.jpg\n"
        "gone,images/missing.jpg\nnone,\n"
    )
    return load_dataset(write(tmp_path, items))


def test_corrupt_images_are_counted_and_skipped(images_dataset):
    report = check_images(images_dataset, on_error="skip")
    assert report.n_checked == 3
    assert report.n_without_image == 1
    assert list(report.bad) == ["bad", "gone"]
    assert report.bad["gone"] == "file not found"
    assert "2 unreadable" in report.summary()


def test_corrupt_images_fail_by_config(images_dataset):
    with pytest.raises(CorruptImageError, match=r"item .bad.*image_errors=skip"):
        check_images(images_dataset, on_error="fail")


def test_summary_counts(tmp_path):
    root = write(
        tmp_path,
        "item_id,unique,artist,medium\na,true,x,oil\nb,false,x,\nc,true,y,oil\nd,true,,ink\n",
        "user_id,item_id,time\nu1,a,1\nu1,b,2\nu1,c,2\nu2,b,3\nu2,d,4\nu3,b,5\n",
    )
    s = summarize(load_dataset(root))
    assert (s.n_items, s.n_users, s.n_purchases, s.n_transactions) == (4, 3, 6, 5)
    assert s.n_test_cases == 2  # u1's and u2's second transactions
    assert s.n_unique_items == 3
    assert s.label_coverage == {"artist": 0.75, "medium": 0.75}
    assert s.label_counts["medium"] == {"oil": 2, "ink": 1}
    assert s.transactions_per_user["mean"] == pytest.approx(5 / 3, abs=1e-3)
    assert s.items_per_transaction["max"] == 2


def test_summary_cli(tmp_path, capsys):
    root = write(tmp_path, "item_id,artist\na,x\n", "user_id,item_id,time\nu,a,1\n")
    assert summary_main([str(root)]) == 0
    assert "transactions" in capsys.readouterr().out
    assert summary_main([str(tmp_path / "missing")]) == 1
    assert "missing: dataset directory not found" in capsys.readouterr().err
