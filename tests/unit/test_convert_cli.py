"""The conversion command line: registry, option wiring, report and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from artrec.data import convert as cli
from artrec.data import load_dataset

REPO = Path(__file__).resolve().parents[2]


def write_ugallery(src: Path) -> None:
    src.mkdir(parents=True)
    (src / "valid_artworks.csv").write_text(
        "id,artist_id,upload_date,original,medium_id\n"
        "007,a1,2014-06-25 07:07:27.223,t,3\n"
        "7,a2,2014-06-26 08:00:00,f,4\n"
    )
    (src / "valid_sales.csv").write_text(
        "id,customer_id,artwork_id,order_date\n"
        "1,01,007,2014-07-02 10:00:00\n"
        "2,01,7,2014-07-03 10:00:00\n"
    )
    (src / "images").mkdir()
    Image.new("RGB", (4, 4)).save(src / "images" / "007.jpg")


def test_registry_lists_every_format() -> None:
    assert sorted(cli.ADAPTERS) == ["omniart", "ugallery", "wikiart"]
    parser = cli.build_parser()
    args = parser.parse_args(["ugallery", "--src", "s", "--out", "o", "--no-originals-only"])
    assert vars(args) == {
        "format": "ugallery",
        "src": Path("s"),
        "out": Path("o"),
        "originals_only": False,
    }


def test_ugallery_via_subprocess(tmp_path: Path) -> None:
    write_ugallery(tmp_path / "src")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "artrec.data.convert", "ugallery"]
    done = subprocess.run(
        [*command, "--src", str(tmp_path / "src"), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "items: 1 (1 with an image)" in done.stdout
    assert "purchases: 1 in 1 transactions" in done.stdout
    assert "allow_absolute_images=True" in done.stdout
    dataset = load_dataset(out, allow_absolute_images=True)
    assert dataset.items["item_id"].tolist() == ["007"]
    assert dataset.purchases["user_id"].tolist() == ["01"]

    (tmp_path / "src" / "valid_sales.csv").unlink()
    failed = subprocess.run(
        [*command, "--src", str(tmp_path / "src"), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 2
    assert "valid_sales.csv: file not found" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_main_passes_format_options(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "src"
    src.mkdir()
    lines = ["key,painter,artwork_type,creation_year"]
    lines += [f"k{i},A,P,{1500 + i}" for i in range(10)]
    (src / "m.csv").write_text("\n".join(lines) + "\n")
    argv = ["omniart", "--src", str(src), "--out", str(tmp_path / "out"), "--min-samples", "1"]
    argv += ["--column", "id=key", "--column", "artist=painter"]
    argv += ["--split-fractions", "0.5", "0.5", "0", "--seed", "2"]
    assert cli.main(argv) == 0
    assert "omniart: wrote" in capsys.readouterr().out
    dataset = load_dataset(tmp_path / "out", allow_absolute_images=True)
    assert dataset.items["split"].value_counts().to_dict() == {"train": 5, "val": 5}
    assert dataset.items["item_id"].tolist() == [f"k{i}" for i in range(10)]


def test_main_bad_column_option(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        cli.main(["omniart", "--src", "s", "--out", "o", "--column", "nonsense"])
    assert "write ROLE=COLUMN" in capsys.readouterr().err
