"""Images that cannot be used (a decompression bomb, a truncated JPEG, a zero-byte file) are
counted and skipped, never a traceback; 16-bit and transparent images decode to proper RGB."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from artrec.data import load_dataset
from artrec.data.image_check import check_images
from artrec.data.images import ItemImages
from artrec.data.summary import main as summary_main
from artrec.errors import CorruptImageError
from tests.fixtures import spoil_images, write_image_dataset

SPOILED = {"000": "bomb", "001": "truncated", "002": "empty"}


def to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.int64)).permute(2, 0, 1)


@pytest.fixture()
def spoiled(tmp_path):
    root = write_image_dataset(tmp_path, n_items=4, size=32)
    spoil_images(root, SPOILED)
    with Image.open(root / "images/001.jpg") as truncated:
        truncated.verify()  # a header check passes it: only a full decode finds it
    return root


def test_check_images_decodes_fully_and_counts_every_bad_image(spoiled):
    report = check_images(load_dataset(spoiled), on_error="skip")
    assert report.n_checked == 4
    assert list(report.bad) == ["000", "001", "002"]
    assert "DecompressionBombError" in report.bad["000"]
    assert "image file is truncated" in report.bad["001"]
    assert "cannot identify image file" in report.bad["002"]
    assert report.summary().startswith("4 images checked, 3 unreadable; first: ['000', '001'")
    with pytest.raises(CorruptImageError, match=r"item '000'.*DecompressionBombError"):
        check_images(load_dataset(spoiled), on_error="fail")


def test_summary_check_images_names_the_bad_images(spoiled, capsys):
    assert summary_main([str(spoiled), "--check-images"]) == 0
    out = capsys.readouterr().out
    assert "4 images checked, 3 unreadable" in out and "'002'" in out


def test_item_images_skip_every_bad_image(spoiled):
    paths = [str(spoiled / f"images/{i:03d}.jpg") for i in range(4)]
    images = ItemImages(paths, to_tensor)
    assert [images[i][2] for i in range(4)] == [False, False, False, True]
    with pytest.raises(CorruptImageError, match=r"000\.jpg.*DecompressionBombError"):
        ItemImages(paths, to_tensor, on_error="fail")[0]


def test_16_bit_grey_levels_are_scaled_to_8_bits(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[0, 257 * 100, 65535]], dtype=np.uint16)).save(path)
    with Image.open(path) as image:
        assert image.mode.startswith("I")
    pixels, _, ok = ItemImages([str(path)], to_tensor)[0]
    assert ok
    assert pixels[:, 0].tolist() == [[0, 100, 255]] * 3


def test_transparency_is_composited_on_white(tmp_path):
    path = tmp_path / "alpha.png"
    rgba = np.array([[[255, 0, 0, 0], [0, 0, 0, 128], [10, 20, 30, 255]]], dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(path)
    pixels, _, ok = ItemImages([str(path)], to_tensor)[0]
    assert ok
    # out = colour * a + 255 * (1 - a): transparent -> white, half -> 127, opaque -> itself
    assert pixels[:, 0].T.tolist() == [[255, 255, 255], [127, 127, 127], [10, 20, 30]]
