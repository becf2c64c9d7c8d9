"""Item images for the networks: decoding and the corrupt-image policy (the image cache:
test_image_cache.py)."""

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
