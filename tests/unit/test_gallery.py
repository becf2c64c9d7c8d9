"""The demo gallery: canonical layout, determinism, timeline, caching, CLI, errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import artrec.data.gallery as gallery
from artrec.data import load_dataset
from artrec.data.gallery import GALLERY_SCALES, ensure_gallery, gallery_params, generate_gallery
from artrec.data.gallery_images import COMPOSITION_RENDERERS, MEDIUM_RENDERERS
from artrec.data.gallery_styles import COMPOSITIONS, MEDIA, MEDIUM_TYPE
from artrec.errors import ConfigError

SMALL = {"items": 200, "users": 80, "transactions": 160, "artists": 12, "image_size": 64, "seed": 8}
TINY = {"items": 30, "users": 8, "transactions": 12, "artists": 4, "image_size": 32}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_gallery(tmp_path_factory.mktemp("gallery") / "small", **SMALL)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_layout_matches_spec(small: Path) -> None:
    items = pd.read_csv(small / "items.csv", dtype=str, keep_default_na=False)
    purchases = pd.read_csv(small / "purchases.csv", dtype=str, keep_default_na=False)
    assert list(items.columns) == [
        "item_id",
        "image",
        "upload_time",
        "unique",
        "artist",
        "medium",
        "type",
        "year",
    ]
    assert list(purchases.columns) == ["user_id", "item_id", "time"]
    assert list(items["item_id"]) == [f"i{k:05d}" for k in range(1, 201)]
    assert list(items["image"]) == [f"images/i{k:05d}.jpg" for k in range(1, 201)]
    assert items["upload_time"].str.fullmatch(r"\d+").all()
    assert purchases["time"].str.fullmatch(r"\d+").all()
    assert set(items["unique"]) == {"true", "false"}
    assert 0.03 < (items["unique"] == "false").mean() < 0.2  # about 10% prints
    assert purchases["user_id"].str.fullmatch(r"u\d{4}").all()
    assert items["artist"].str.fullmatch(r"a\d{2}").all() and items["artist"].nunique() <= 12
    assert set(items["medium"]) <= set(MEDIA) and items["medium"].nunique() >= 4
    assert items["year"].astype(int).between(1850, 2015).all()
    assert (items["type"] == items["medium"].map(MEDIUM_TYPE)).all()
    dataset = load_dataset(small, require_purchases=True)
    assert dataset.label_columns == ("artist", "medium", "type", "year")
    assert len(dataset.items) == 200 and dataset.n_duplicate_purchases == 0
    for path in dataset.items["image"]:
        with Image.open(path) as image:
            assert (image.format, image.size, image.mode) == ("JPEG", (64, 64), "RGB")
    assert sorted(p.name for p in small.iterdir()) == [
        "gallery.json",
        "images",
        "items.csv",
        "purchases.csv",
    ]


def test_same_seed_is_byte_identical_other_seed_differs(small: Path, tmp_path: Path) -> None:
    again = _files(generate_gallery(tmp_path / "again", **SMALL))
    assert again == _files(small)
    other = _files(generate_gallery(tmp_path / "other", **{**SMALL, "seed": 9}))
    assert other["items.csv"] != again["items.csv"]
    assert other["purchases.csv"] != again["purchases.csv"]
    assert other["images/i00001.jpg"] != again["images/i00001.jpg"]


def test_timeline_is_consistent(small: Path) -> None:
    dataset = load_dataset(small, require_purchases=True)
    items, purchases = dataset.items, dataset.purchases
    uploaded = items["upload_time"].to_numpy()[purchases["item_idx"]]
    assert (uploaded < purchases["time"].to_numpy()).all()
    unique = items["unique"].to_numpy(dtype=bool)
    bought = np.bincount(purchases["item_idx"], minlength=len(items))
    assert bought[unique].max() == 1
    baskets = dataset.transactions
    assert len(baskets) == SMALL["transactions"]
    per_user = baskets.groupby("user_id").size()
    assert len(per_user) == SMALL["users"]  # everyone buys at least once
    assert per_user.max() >= 3 * per_user.median()  # a heavy tail of frequent buyers
    sizes = baskets["items"].map(len)
    assert sizes.between(1, 3).all() and 0.7 < (sizes == 1).mean() < 0.95
    earlier = baskets.duplicated("user_id")  # a user's later transactions are the test cases
    assert earlier.sum() == SMALL["transactions"] - SMALL["users"]


def test_killed_generation_leaves_no_half_gallery(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(folder: Path, *args, **kwargs) -> None:
        folder.mkdir(parents=True)
        (folder / "i00001.jpg").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(gallery, "write_images", crash)
    with pytest.raises(KeyboardInterrupt):
        generate_gallery(tmp_path / "new", **TINY)
    assert list(tmp_path.iterdir()) == []


def test_regenerating_replaces_an_earlier_gallery(tmp_path: Path) -> None:
    out = generate_gallery(tmp_path / "g", **TINY, seed=1)
    generate_gallery(out, **TINY, seed=2)
    assert gallery._marker_params(out) == {**TINY, "seed": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["g"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"transactions": 5}, "transactions=5 < users=8"),
        ({"image_size": 8}, "image_size=8 must be at least 16"),
        ({"items": 2.5}, "must be an integer"),
    ],
)
def test_bad_parameters_are_refused(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        generate_gallery(tmp_path / "g", **{**TINY, **change})


def test_refuses_to_overwrite_a_folder_that_is_not_a_gallery(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a demo gallery"):
        generate_gallery(tmp_path, **TINY)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_scales_and_overrides() -> None:
    assert GALLERY_SCALES["ugallery"] == {"items": 6040, "users": 2919, "transactions": 4099}
    assert gallery_params("ugallery", users=100) == {
        "items": 6040,
        "users": 100,
        "transactions": 140,  # the scale's 4099 / 2919 per user
        "artists": 40,
        "image_size": 128,
        "seed": 0,
    }
    assert gallery_params()["transactions"] == 1500  # the demo's gallery is unchanged
    assert gallery_params(items=200, users=60)["transactions"] == 180  # 3 per user
    assert gallery_params(users=60, transactions=70)["transactions"] == 70
    with pytest.raises(ConfigError, match="unknown gallery scale 'huge'"):
        gallery_params("huge")
    with pytest.raises(ConfigError, match=r"unknown gallery parameter\(s\) \['itms'\]"):
        gallery_params(itms=3)


def test_ensure_gallery_generates_once_per_parameter_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict] = []
    real = gallery.generate_gallery
    monkeypatch.setattr(
        gallery, "generate_gallery", lambda out, **kw: calls.append(kw) or real(out, **kw)
    )
    first = ensure_gallery(tmp_path, seed=3, **TINY)
    stamp = (first / "gallery.json").stat().st_mtime_ns
    assert ensure_gallery(tmp_path, seed=3, **TINY) == first
    assert len(calls) == 1 and (first / "gallery.json").stat().st_mtime_ns == stamp
    other = ensure_gallery(tmp_path, seed=4, **TINY)
    assert other != first and other.parent == tmp_path and len(calls) == 2
    assert load_dataset(other).items["image"].notna().all()
    monkeypatch.setenv("ARTREC_CACHE", str(tmp_path / "env"))
    assert ensure_gallery(seed=3, **TINY) == tmp_path / "env" / first.name


def test_cli_prints_a_one_line_summary(tmp_path: Path) -> None:
    args = ["--items", "40", "--users", "10", "--transactions", "15", "--artists", "5"]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "artrec.data.gallery",
            "--out",
            str(tmp_path / "g"),
            *args,
            "--image-size",
            "32",
            "--seed",
            "3",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1 and "40 items, 10 users, 15 transactions" in lines[0]
    params = {"items": 40, "users": 10, "transactions": 15, "artists": 5, "image_size": 32}
    library = generate_gallery(tmp_path / "library", **params, seed=3)
    assert _files(tmp_path / "g") == _files(library)
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "artrec.data.gallery",
            "--out",
            str(tmp_path / "h"),
            "--users",
            "20",
            "--transactions",
            "10",
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "transactions=10 < users=20" in bad.stderr
    assert not (tmp_path / "h").exists()


def test_renderer_registries_cover_every_style() -> None:
    assert tuple(COMPOSITION_RENDERERS) == COMPOSITIONS
    assert tuple(MEDIUM_RENDERERS) == MEDIA
