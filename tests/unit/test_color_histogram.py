"""The colour-histogram baseline: exact cell counts on hand-made images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from artrec.data import load_dataset
from artrec.models.color_histogram import color_histogram, color_histogram_embeddings


def test_histogram_counts_cells_exactly():
    pixels = np.array([[[0, 0, 0], [255, 255, 255]], [[255, 0, 0], [255, 0, 0]]], np.uint8)
    hist = color_histogram(pixels, bins=2)
    # cell = r*4 + g*2 + b with each channel 0 (<128) or 1
    np.testing.assert_allclose(hist, [0.25, 0, 0, 0, 0.5, 0, 0, 0.25])
    assert hist.sum() == pytest.approx(1.0)


def test_bin_edges():
    pixels = np.array([[[31, 32, 255]]], np.uint8)
    hist = color_histogram(pixels, bins=8)
    assert np.flatnonzero(hist).tolist() == [(0 * 8 + 1) * 8 + 7]


def test_embeddings_of_a_dataset(tmp_path):
    (tmp_path / "img").mkdir()
    Image.new("RGB", (10, 10), (250, 10, 10)).save(tmp_path / "img/red.png")
    Image.new("RGB", (10, 10), (10, 10, 250)).save(tmp_path / "img/blue.png")
    (tmp_path / "items.csv").write_text("item_id,image\nr,img/red.png\nb,img/blue.png\nn,\n")
    table = color_histogram_embeddings(load_dataset(tmp_path), bins=2, size=None)
    assert table.item_ids.tolist() == ["r", "b"]
    np.testing.assert_allclose(table.vectors, [[0, 0, 0, 0, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0]])
    assert table.meta["backbone"] == "color_histogram"
