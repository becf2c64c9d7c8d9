"""The public UGallery release's ResNet50 vectors: read without running pickled code."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from test_convert_ugallery import INVENTORY

from artrec.data import convert as cli
from artrec.data.adapters import ugallery
from artrec.data.adapters.ugallery_embeddings import RELEASE_FILE, read_object_npy
from artrec.embeddings import load_embeddings
from artrec.errors import ConversionError

PURCHASES = """user_id_hash,purchase_timestamp,purchased_artwork_ids_hash
u1,1400001000,"['a1', 'b2']"
u1,1400004000,"['007']"
"""


def release_rows(ids: list[str], vectors: np.ndarray) -> np.ndarray:
    """Rows as the release stores them: [artwork_id_hash (str), vector (ndarray)]."""
    rows = np.empty((len(ids), 2), dtype=object)
    for row, (item_id, vector) in enumerate(zip(ids, vectors, strict=True)):
        rows[row, 0], rows[row, 1] = item_id, vector
    return rows


def release(folder: Path, rows: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ugallery_inventory.csv").write_text(INVENTORY)
    (folder / "ugallery_purchases.csv").write_text(PURCHASES)
    np.save(folder / RELEASE_FILE, rows, allow_pickle=True)  # as the release was written
    return folder


class RunsCode:
    """Pickles as a call of ``function(*args)``: loading it with plain pickle would run it."""

    def __init__(self, function, *args) -> None:
        self.call = (function, args)

    def __reduce__(self):
        return self.call


def test_vectors_of_the_converted_items_and_both_counts(tmp_path: Path, capsys) -> None:
    vectors = np.random.default_rng(0).normal(size=(4, 2048))
    # a1, b2, c3 are items; zz is no item; item 007 has no vector.
    src = release(tmp_path / "rel", release_rows(["c3", "zz", "a1", "b2"], vectors))
    out = tmp_path / "out"
    assert cli.main(["ugallery", "--src", str(src), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "items with no vector: 1" in printed
    assert "vectors with no item (left out): 1" in printed
    assert "protocol.missing_embeddings=drop" in printed and "'007'" in printed
    table = load_embeddings(out / "embeddings" / "resnet50.npz")
    assert table.item_ids.tolist() == ["c3", "a1", "b2"]
    assert table.vectors.dtype == np.float32 and table.dim == 2048
    np.testing.assert_array_equal(table.vectors, vectors[[0, 2, 3]].astype(np.float32))
    assert table.meta["source"] == str((src / RELEASE_FILE).absolute())
    assert RELEASE_FILE in table.meta["release"]


def test_no_release_file_writes_no_embeddings(tmp_path: Path) -> None:
    src = release(tmp_path / "rel", release_rows(["a1"], np.ones((1, 3))))
    (src / RELEASE_FILE).unlink()
    report = ugallery.convert(src, tmp_path / "out")
    assert not (tmp_path / "out" / "embeddings").exists() and not report.notes


def test_float32_vectors_and_numpy_strings_are_read(tmp_path: Path) -> None:
    rows = release_rows(["a1", "b2"], np.arange(6, dtype=np.float32).reshape(2, 3))
    rows[1, 0] = np.str_("b2")  # a numpy scalar string pickles through numpy's scalar()
    np.save(tmp_path / "x.npy", rows, allow_pickle=True)
    back = read_object_npy(tmp_path / "x.npy")
    assert back[:, 0].tolist() == ["a1", "b2"]
    np.testing.assert_array_equal(back[1, 1], [3, 4, 5])


@pytest.mark.parametrize(
    ("function", "refused"),
    [(os.system, f"{os.system.__module__}.system"), (eval, "builtins.eval")],
)
def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(
    tmp_path: Path, capsys, function, refused: str
) -> None:
    marker = tmp_path / "MARKER"
    command = f"touch {marker}"
    args = (command,) if function is os.system else (f"__import__('os').system({command!r})",)
    rows = release_rows(["a1", "b2"], np.ones((2, 3)))
    rows[1, 1] = RunsCode(function, *args)
    src = release(tmp_path / "rel", rows)
    out = tmp_path / "out"
    with pytest.raises(ConversionError, match=rf"{RELEASE_FILE}: refused to load.*{refused}"):
        ugallery.convert(src, out)
    assert cli.main(["ugallery", "--src", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and refused in err
    assert not marker.exists()
    assert not (out / "embeddings").exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (np.ones((2, 2)), "holds a float64 array; expected an object array"),
        (np.array(["a1", "b2", "c3"], dtype=object), r"shape \(3,\); expected \(N, 2\)"),
        (
            release_rows(["a1", "b2"], np.ones((2, 3)))[:, ::-1].copy(),
            r"row\(s\) \[0, 1\] have an id",
        ),
        (release_rows(["a1", "a1"], np.ones((2, 3))), r"duplicate item id\(s\) \['a1'\]"),
        (
            release_rows(["a1", "b2"], np.array([[1.0, 2], [np.nan, 1]])),
            r"NaN or Inf in the embeddings of 1 item\(s\): \['b2'\]",
        ),
        (release_rows(["a1", "b2"], [np.ones(3), np.ones(4)]), r"different lengths \[3, 4\]"),
        (release_rows(["a1", "b2"], [np.ones(3), "text"]), r"row\(s\) \[1\] hold no 1-d numeric"),
    ],
)
def test_bad_release_files_are_clear_errors(tmp_path: Path, rows, message: str) -> None:
    src = release(tmp_path / "rel", rows)
    with pytest.raises(ConversionError, match=rf"{RELEASE_FILE}: .*{message}"):
        ugallery.convert(src, tmp_path / "out")


def test_a_truncated_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / RELEASE_FILE
    np.save(path, release_rows(["a1"], np.ones((1, 3))), allow_pickle=True)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ConversionError, match=r"not a readable \.npy file"):
        read_object_npy(path)
