"""WikiArt adapter: file-name parsing, style folders and the ArtGAN CSV lists."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image

from artrec.data import load_dataset
from artrec.data.adapters import wikiart
from artrec.errors import ConversionError


def jpeg(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), (10, 10, 200)).save(path)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("claude-monet_water-lilies-1906", ("claude-monet", "1906")),
        ("rembrandt_self-portrait", ("rembrandt", "")),
        ("vincent-van-gogh_pine-trees-in-the-fen-1884", ("vincent-van-gogh", "1884")),
        ("pablo-picasso_composition-no-1", ("pablo-picasso", "")),
        ("a_opus-12345", ("a", "")),
        ("a_1906", ("a", "1906")),
        ("untitled-1950", ("", "1950")),
        ("el-greco_st-john_the-evangelist-1600", ("el-greco", "1600")),
        # A counter WikiArt adds to several works of one title: the year before it counts.
        ("kazimir-malevich_suprematist-composition-1929-1", ("kazimir-malevich", "1929")),
        ("gustav-klimt_salome-1927-7", ("gustav-klimt", "1927")),
        ("paul-klee_fish-magic-1925-12", ("paul-klee", "1925")),
        # A range of years: the first counts (two- or four-digit end, counter after it).
        ("wassily-kandinsky_blue-segment-1920-21", ("wassily-kandinsky", "1920")),
        ("joan-miro_the-farm-1921-1922", ("joan-miro", "1921")),
        ("henri-matisse_the-dance-1909-10-2", ("henri-matisse", "1909")),
        # Numbers that are no year: titles ending in a count, an opus or an implausible year.
        ("jackson-pollock_number-1-1", ("jackson-pollock", "")),
        ("jackson-pollock_convergence-number-10", ("jackson-pollock", "")),
        ("a_the-year-3000", ("a", "")),
        ("a_opus-12345-1", ("a", "")),
        ("jackson-pollock_number-5-1948", ("jackson-pollock", "1948")),
    ],
)
def test_parse_filename(stem: str, expected: tuple[str, str]) -> None:
    assert wikiart.parse_filename(stem) == expected


def test_style_folders(tmp_path: Path) -> None:
    src = tmp_path / "wikiart"
    jpeg(src / "Impressionism" / "claude-monet_water-lilies-1906.jpg")
    jpeg(src / "Baroque" / "rembrandt_self-portrait.jpg")
    jpeg(src / "Baroque" / "rembrandt-van-rijn_the-night-watch-1642.png")
    jpeg(src / "Impressionism" / "untitled.jpg")
    (src / "Impressionism" / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    report = wikiart.convert(src, out)
    items = rows(out / "items.csv")
    assert list(items[0]) == ["item_id", "image", "style", "artist", "year"]
    assert [(r["item_id"], r["style"], r["artist"], r["year"]) for r in items] == [
        (
            "Baroque/rembrandt-van-rijn_the-night-watch-1642",
            "Baroque",
            "rembrandt-van-rijn",
            "1642",
        ),
        ("Baroque/rembrandt_self-portrait", "Baroque", "rembrandt", ""),
        ("Impressionism/claude-monet_water-lilies-1906", "Impressionism", "claude-monet", "1906"),
        ("Impressionism/untitled", "Impressionism", "", ""),
    ]
    assert (report.n_items, report.n_images, report.n_purchases) == (4, 4, 0)
    assert any("1 file names have no 'artist_' prefix" in w for w in report.warnings)
    dataset = load_dataset(out, allow_absolute_images=True)
    assert dataset.items["image"].iloc[0] == str(
        (src / "Baroque" / "rembrandt-van-rijn_the-night-watch-1642.png").absolute()
    )
    assert dataset.items["year"].isna().tolist() == [False, True, False, True]


def test_style_folders_duplicate_stem_and_empty(tmp_path: Path) -> None:
    src = tmp_path / "wikiart"
    jpeg(src / "Baroque" / "a_b.jpg")
    jpeg(src / "Baroque" / "a_b.png")
    report = wikiart.convert(src, tmp_path / "out")
    assert report.n_items == 1
    assert report.dropped == {"second image file with the same style and file stem": 1}
    with pytest.raises(ConversionError, match="no images in style folders"):
        wikiart.convert(tmp_path / "out", tmp_path / "out2")


@pytest.fixture
def artgan(tmp_path: Path) -> Path:
    """ArtGAN layout: wikiart/ (images) and wikiart_csv/ (lists) side by side."""
    for path in ("Realism/a_x-1884.jpg", "Impressionism/b_y.jpg", "Baroque/c_z-1600.jpg"):
        jpeg(tmp_path / "src" / "wikiart" / path)
    lists = tmp_path / "src" / "wikiart_csv"
    lists.mkdir()
    files = {
        "artist_train.csv": "Realism/a_x-1884.jpg,0\nImpressionism/b_y.jpg,1\n",
        "artist_val.csv": "Baroque/c_z-1600.jpg,0\n",
        "artist_class.txt": "0 Albrecht_Durer\n1 Claude_Monet\n",
        "style_train.csv": "Realism/a_x-1884.jpg,2\nBaroque/c_z-1600.jpg,0\n",
        "style_val.csv": "Impressionism/b_y.jpg,1\nRealism/d_w.jpg,2\n",
        "style_class.txt": "0 Baroque\n1 Impressionism\n2 Realism\n",
    }
    for name, text in files.items():
        (lists / name).write_text(text, encoding="utf-8")
    return tmp_path / "src"


def test_artgan_lists(artgan: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = wikiart.convert(artgan, out)
    items = rows(out / "items.csv")
    assert list(items[0]) == ["item_id", "image", "artist", "style", "split"]
    assert [(r["item_id"], r["artist"], r["style"], r["split"]) for r in items] == [
        ("Realism/a_x-1884", "Albrecht_Durer", "Realism", "train"),
        ("Impressionism/b_y", "Claude_Monet", "Impressionism", "val"),
        ("Baroque/c_z-1600", "Albrecht_Durer", "Baroque", "val"),
        ("Realism/d_w", "", "Realism", "val"),
    ]
    root = (artgan / "wikiart").absolute()
    assert [r["image"] for r in items] == [
        str(root / "Realism/a_x-1884.jpg"),
        str(root / "Impressionism/b_y.jpg"),
        str(root / "Baroque/c_z-1600.jpg"),
        "",
    ]
    assert report.format == "wikiart (csv)"
    assert any("2 images are in both a train and a val" in w for w in report.warnings)
    assert any("1 listed images are not in" in w for w in report.warnings)
    dataset = load_dataset(out, allow_absolute_images=True)
    assert dataset.label_columns == ("artist", "style")
    assert dataset.items["artist"].isna().tolist() == [False, False, False, True]


def test_artgan_same_label_twice_is_merged(artgan: Path, tmp_path: Path) -> None:
    lists = artgan / "wikiart_csv"
    (lists / "artist_val.csv").write_text("Baroque/c_z-1600.jpg,0\nRealism/a_x-1884.jpg,0\n")
    report = wikiart.convert(artgan, tmp_path / "out", csv_dir="wikiart_csv", images="wikiart")
    assert report.n_items == 4
    split = {r["item_id"]: r["split"] for r in rows(tmp_path / "out" / "items.csv")}
    assert split["Realism/a_x-1884"] == "val"


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("artist_val.csv", "Baroque/c_z-1600.jpg,7\n", r"artist_val\.csv: line\(s\) \[1\]"),
        ("artist_val.csv", "Baroque/c_z-1600.jpg,x\n", r"artist_val\.csv: line\(s\) \[1\]"),
        ("style_class.txt", "0 Baroque\nRealism\n", r"style_class\.txt: line 2"),
        ("artist_val.csv", "Realism/a_x-1884.jpg,1\n", r"'Realism/a_x-1884.jpg' has artist label"),
    ],
)
def test_artgan_bad_input(artgan: Path, tmp_path: Path, name: str, text: str, match: str) -> None:
    (artgan / "wikiart_csv" / name).write_text(text, encoding="utf-8")
    with pytest.raises(ConversionError, match=match):
        wikiart.convert(artgan, tmp_path / "out")


def test_artgan_missing_class_file(artgan: Path, tmp_path: Path) -> None:
    (artgan / "wikiart_csv" / "style_class.txt").unlink()
    with pytest.raises(ConversionError, match=r"style_class\.txt: file not found"):
        wikiart.convert(artgan, tmp_path / "out")


def test_forced_csv_without_lists(tmp_path: Path) -> None:
    jpeg(tmp_path / "src" / "Baroque" / "a_b.jpg")
    with pytest.raises(ConversionError, match="--csv-dir"):
        wikiart.convert(tmp_path / "src", tmp_path / "out", source_format="csv")
    with pytest.raises(ConversionError, match="nowhere: CSV folder not found"):
        wikiart.convert(tmp_path / "src", tmp_path / "out", csv_dir="nowhere")
