"""The colour-histogram baseline: exact cell counts on hand-made images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from artrec.models.color_histogram import ColorHistogramTransform, color_histogram


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


def test_transform_on_pil_images():
    transform = ColorHistogramTransform(bins=2, resize=4)
    red = transform(Image.new("RGB", (10, 10), (250, 10, 10)))
    grey = transform(Image.new("L", (3, 3), 200))
    np.testing.assert_allclose(red.numpy(), [0, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_allclose(grey.numpy(), [0, 0, 0, 0, 0, 0, 0, 1])
    assert transform.meta()["feature_dim"] == 8
