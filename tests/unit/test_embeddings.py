"""Embeddings files (docs/data.md): round trip, safe loading, every malformed input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from artrec.embeddings import EmbeddingTable, embedded_table, load_embeddings, save_embeddings
from artrec.errors import EmbeddingsError


def table(ids=("007", "7", "7.0"), dim=4, dtype=np.float32) -> EmbeddingTable:
    vectors = np.arange(len(ids) * dim, dtype=dtype).reshape(len(ids), dim)
    return EmbeddingTable(np.asarray(ids, dtype=str), vectors, {"backbone": "test"})


def test_round_trip_keeps_ids_vectors_and_meta(tmp_path):
    path = save_embeddings(table(), tmp_path / "e.npz")
    loaded = load_embeddings(path)
    assert loaded.item_ids.tolist() == ["007", "7", "7.0"]
    np.testing.assert_array_equal(loaded.vectors, table().vectors)
    assert loaded.meta == {"backbone": "test"}
    assert [p.name for p in tmp_path.iterdir()] == ["e.npz"]  # no temporary file left


def test_float16_is_accepted(tmp_path):
    loaded = load_embeddings(save_embeddings(table(dtype=np.float16), tmp_path / "h.npz"))
    assert loaded.vectors.dtype == np.float16


def test_align_matches_by_id_and_reports_missing():
    vectors, present = table().align(["7.0", "x", "007"], missing="drop")
    assert present.tolist() == [True, False, True]
    np.testing.assert_array_equal(vectors[0], [8, 9, 10, 11])
    np.testing.assert_array_equal(vectors[1], [0, 0, 0, 0])
    np.testing.assert_array_equal(vectors[2], [0, 1, 2, 3])
    with pytest.raises(EmbeddingsError, match=r"1 item\(s\).*'x'.*missing_embeddings=drop"):
        table().align(["7.0", "x"])


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"item_ids": np.array(["a", "b"])}, r"missing array\(s\) \['embeddings'\]"),
        (
            {"item_ids": np.array(["a", "b"]), "embeddings": np.zeros((3, 2), np.float32)},
            r"shape \[N, D\] with N = len\(item_ids\) = 2",
        ),
        (
            {"item_ids": np.array([1, 2]), "embeddings": np.zeros((2, 2), np.float32)},
            "1-d unicode string array",
        ),
        (
            {"item_ids": np.array(["a", "b"]), "embeddings": np.zeros((2, 2), np.float64)},
            "float32 or float16",
        ),
        (
            {"item_ids": np.array(["a", "a"]), "embeddings": np.zeros((2, 2), np.float32)},
            r"duplicate item id\(s\) \['a'\]",
        ),
        (
            {
                "item_ids": np.array(["a", "b", "c"]),
                "embeddings": np.array([[0, 1], [np.nan, 0], [np.inf, 1]], np.float32),
            },
            r"NaN or Inf in the embeddings of 2 item\(s\): \['b', 'c'\]",
        ),
        (
            {
                "item_ids": np.array(["a"]),
                "embeddings": np.zeros((1, 2), np.float32),
                "meta": np.array("{not json"),
            },
            "'meta' is not valid JSON",
        ),
    ],
)
def test_malformed_files_raise_clear_errors(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(EmbeddingsError, match=message):
        load_embeddings(path)


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    ids = np.array(["a"], dtype=object)
    np.savez(path, item_ids=ids, embeddings=np.zeros((1, 2), np.float32))
    with pytest.raises(EmbeddingsError, match=r"not a readable \.npz"):
        load_embeddings(path)


def test_missing_file(tmp_path):
    with pytest.raises(EmbeddingsError, match="embeddings file not found"):
        load_embeddings(tmp_path / "none.npz")


def test_meta_is_a_json_string(tmp_path):
    path = save_embeddings(table(), tmp_path / "e.npz")
    with np.load(path, allow_pickle=False) as data:
        assert data["meta"].ndim == 0
        assert json.loads(str(data["meta"])) == {"backbone": "test"}


def _npz_bytes(tmp_path) -> bytes:
    return save_embeddings(table(), tmp_path / "good.npz").read_bytes()


def _npy_bytes(tmp_path) -> bytes:
    np.save(tmp_path / "v.npy", np.zeros((2, 3), np.float32))
    return (tmp_path / "v.npy").read_bytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda tmp: b"item_id,x\na,1\n", r"not an \.npz file \(not a zip archive\)"),
        (lambda tmp: b"", r"empty file \(0 bytes\), not an \.npz file"),
        (lambda tmp: _npy_bytes(tmp), r"a single-array \.npy file, not an \.npz file"),
        (lambda tmp: _npz_bytes(tmp)[:100], r"not a readable \.npz .*\(BadZipFile: "),
        (lambda tmp: _npz_bytes(tmp)[:-30], r"not a readable \.npz .*\(BadZipFile: "),
    ],
    ids=["text", "zero-byte", "npy", "truncated-early", "truncated-late"],
)
def test_files_that_are_not_npz_archives_get_one_line_errors(tmp_path, content, message):
    path = tmp_path / "e.npz"
    path.write_bytes(content(tmp_path))
    with pytest.raises(EmbeddingsError, match=message) as caught:
        load_embeddings(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    assert "pickle" not in text


def test_vectors_of_dimension_zero_are_refused(tmp_path):
    path = tmp_path / "flat.npz"
    np.savez(path, item_ids=np.array(["a", "b"]), embeddings=np.zeros((2, 0), np.float32))
    with pytest.raises(EmbeddingsError, match=r"dimension 0 \(shape \(2, 0\)\)"):
        load_embeddings(path)


def test_embedded_table_lists_the_items_left_out(caplog):
    ids = np.array(["a", "b", "c", "d"])
    with caplog.at_level("WARNING", logger="artrec"):
        made = embedded_table(ids, np.array([0, 2]), np.ones((2, 3)), {"x": 1}, "src")
    assert made.item_ids.tolist() == ["a", "c"] and made.vectors.dtype == np.float32
    assert made.meta == {"x": 1, "n_unreadable_images": 2, "unreadable_images": ["b", "d"]}
    assert made.skipped_ids == ["b", "d"]
    assert "2 item(s) left out: their image could not be read" in caplog.text
    assert "['b', 'd']" in caplog.text
    assert table().skipped_ids == []
