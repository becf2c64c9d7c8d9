"""Property tests: random rows, cells, encodings and truncations of the CSV files and the
embeddings file either load or raise artrec's own error, never another exception; what the
converters write loads back unchanged."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from artrec.data import load_dataset
from artrec.data.adapters import ConversionReport, write_dataset
from artrec.embeddings import EmbeddingTable, load_embeddings, save_embeddings
from artrec.errors import ArtrecError

FAST = settings(max_examples=60, deadline=None, derandomize=True, database=None)
ITEM_HEADERS = ("item_id,image,upload_time,unique,artist", "item_id", "item_id,upload_time")
PURCHASE_HEADERS = ("user_id,item_id,time", "user_id,item_id")
CELLS = st.one_of(
    st.sampled_from(["a", "b", "1", "1.5", "inf", "nan", "1e400", "2014-07-03", "9999-12-31", ""]),
    st.sampled_from(["images/a.jpg", "../x.jpg", "/abs.jpg", "a\x00b", '"', ",", "\n"]),
    st.text(max_size=6),
)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"])


@st.composite
def csv_file(draw, headers: tuple[str, ...]) -> bytes:
    """A header (known or random), random rows of random cells, an encoding, maybe cut."""
    header = draw(st.one_of(st.sampled_from(headers), st.text(max_size=12)))
    rows = draw(st.lists(st.lists(CELLS, max_size=6).map(",".join), max_size=6))
    data = "\n".join([header, *rows]).encode(draw(ENCODINGS), errors="replace")
    return data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data


def loads_or_artrec_error(load, *args) -> None:
    with contextlib.suppress(ArtrecError):
        load(*args)


@FAST
@given(items=csv_file(ITEM_HEADERS), purchases=st.none() | csv_file(PURCHASE_HEADERS))
@example(items=b'item_id\na,a,a,a,a\na,a,a,",",a', purchases=None)  # found by this test
@example(items=b"item_id,image\na,x\x00y.jpg\n", purchases=None)
@example(items=b"item_id,upload_time\na,9999-12-31\n", purchases=b"user_id,item_id,time\nu,a,0")
def test_random_csv_files_load_or_raise_artrec_errors(items, purchases):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "items.csv").write_bytes(items)
        if purchases is not None:
            (root / "purchases.csv").write_bytes(purchases)
        loads_or_artrec_error(load_dataset, root)


def _npz(ids: list[str], dim: int) -> bytes:
    buffer = io.BytesIO()
    vectors = np.arange(len(ids) * dim, dtype=np.float32).reshape(len(ids), dim)
    np.savez(buffer, item_ids=np.array(ids, dtype=str), embeddings=vectors)
    return buffer.getvalue()


@st.composite
def npz_file(draw) -> bytes:
    """A valid file cut short, with a few bytes changed, or random bytes."""
    valid = _npz(
        draw(st.lists(st.text(min_size=1, max_size=4), max_size=4)), draw(st.integers(0, 3))
    )
    data = bytearray(valid[: draw(st.integers(0, len(valid)))])
    for position, value in draw(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)))):
        if data:
            data[position % len(data)] = value
    return draw(st.one_of(st.just(bytes(data)), st.binary(max_size=64)))


@FAST
@given(data=npz_file())
def test_random_embedding_files_load_or_raise_artrec_errors(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "e.npz"
        path.write_bytes(data)
        loads_or_artrec_error(load_embeddings, path)


LABELS = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=8)
IDS = LABELS.map(str.strip).filter(bool)


@FAST
@given(rows=st.dictionaries(IDS, st.tuples(LABELS, st.integers(0, 10**9)), min_size=1, max_size=6))
def test_what_the_converters_write_loads_back_unchanged(rows):
    items = pd.DataFrame(
        {
            "item_id": list(rows),
            "upload_time": [str(time) for _, time in rows.values()],
            "artist": [label for label, _ in rows.values()],
        }
    )
    with tempfile.TemporaryDirectory() as folder:
        report = write_dataset(Path(folder), items, None, ConversionReport("test", Path(folder)))
        dataset = load_dataset(report.out)
    assert dataset.items["item_id"].tolist() == list(rows)
    assert dataset.items["upload_time"].tolist() == [float(t) for _, t in rows.values()]
    labels = [label.strip() or None for label, _ in rows.values()]
    assert (
        dataset.items["artist"].astype(object).where(dataset.items["artist"].notna(), None).tolist()
        == labels
    )


@FAST
@given(
    ids=st.lists(IDS, min_size=1, max_size=5, unique=True),
    dim=st.integers(1, 4),
    half=st.booleans(),
)
def test_saved_embeddings_load_back_unchanged(ids, dim, half):
    dtype = np.float16 if half else np.float32
    vectors = np.arange(len(ids) * dim, dtype=dtype).reshape(len(ids), dim)
    table = EmbeddingTable(np.array(ids, dtype=str), vectors, {"backbone": ids[0]})
    with tempfile.TemporaryDirectory() as folder:
        loaded = load_embeddings(save_embeddings(table, Path(folder) / "e.npz"))
    assert loaded.item_ids.tolist() == ids and loaded.meta == {"backbone": ids[0]}
    np.testing.assert_array_equal(loaded.vectors, vectors)
    assert loaded.vectors.dtype == dtype
