"""Item images for the networks: decoding, the corrupt-image policy, the pre-resize cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from artrec.data.images import ItemImages
from artrec.errors import CorruptImageError


def to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)


@pytest.fixture()
def paths(tmp_path):
    Image.new("RGB", (6, 4), (10, 20, 30)).save(tmp_path / "ok.png")
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    return [str(tmp_path / "ok.png"), str(tmp_path / "bad.jpg"), None]


def test_skip_policy_marks_bad_images(paths):
    images = ItemImages(paths, to_tensor, rows=[5, 6, 7])
    tensor, row, ok = images[0]
    assert (row, ok) == (5, True)
    assert tensor[:, 0, 0].tolist() == [10.0, 20.0, 30.0]
    for index, row in ((1, 6), (2, 7)):
        blank, got_row, ok = images[index]
        assert (got_row, ok) == (row, False)
        assert blank.abs().sum() == 0


def test_fail_policy_names_the_image(paths):
    images = ItemImages(paths, to_tensor, on_error="fail")
    with pytest.raises(CorruptImageError, match=r"bad\.jpg.*image_errors=skip"):
        images[1]


def test_large_images_are_shrunk_once_into_the_cache(tmp_path):
    big = tmp_path / "big.png"
    Image.new("RGB", (400, 200), (200, 100, 0)).save(big)
    cache = tmp_path / "cache"
    images = ItemImages([str(big)], to_tensor, cache_dir=cache, max_side=100)
    tensor, _, ok = images[0]
    assert ok and tuple(tensor.shape) == (3, 50, 100)
    cached = list(cache.iterdir())
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    again, _, _ = images[0]
    assert torch.equal(again, tensor) and cached[0].stat().st_mtime_ns == stamp
    small = tmp_path / "small.png"
    Image.new("RGB", (20, 10)).save(small)
    ItemImages([str(small)], to_tensor, cache_dir=cache, max_side=100)[0]
    assert len(list(cache.iterdir())) == 1  # small images need no copy
