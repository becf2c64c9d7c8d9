"""Loader batches of cached images through timm's evaluation transform without PIL
(artrec.data.batched_eval): bit for bit the tensors of the per-image PIL path, and the
per-image path for every transform or image the batched one does not cover."""

from __future__ import annotations

import random

import numpy as np
import pytest
import timm
import torch
from image_testkit import DATA_CONFIG, eval_transform, write_random_jpegs
from torch.utils.data import DataLoader, Subset
from torchvision import transforms as T

from artrec.data.batched_eval import BatchedEval
from artrec.data.datamodule import ArtDataModule
from artrec.data.image_cache import ImageCache, cache_resize, open_image_cache
from artrec.data.images import ItemImages
from artrec.models.augment import build_augmentation
from artrec.models.color_histogram import ColorHistogramTransform
from artrec.models.config import AugmentConfig

LIGHT = AugmentConfig(name="light", scale=[0.7, 1.0], ratio=[0.9, 1.1], hflip=0.5)
# wider, taller, square, smaller than the crop, odd sizes (the crop's offsets round)
SIZES = [(150, 97), (80, 200), (64, 64), (40, 30), (501, 333), (65, 91), (7, 3)]
MODES = {  # crop_pct > 1 resizes below the crop: CenterCrop then pads with zeros
    "center": {},
    "padded": {"crop_pct": 1.2},
    "squash": {"crop_mode": "squash"},
    "rectangle": {"input_size": (3, 48, 72), "crop_mode": "squash"},
}


@pytest.fixture()
def gallery(tmp_path):
    """JPEGs of several shapes with random pixels, plus an unreadable file and no image."""
    paths = write_random_jpegs(tmp_path, SIZES)
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    return [*paths, str(tmp_path / "bad.jpg"), None]


def loader_batches(images, batch_size: int = 4):
    """Every sample through a DataLoader (``__getitems__``), concatenated."""
    batches = list(DataLoader(images, batch_size=batch_size, generator=torch.Generator()))
    return [torch.cat([batch[k] for batch in batches]) for k in range(3)]


def one_by_one(images):
    """Every sample through ``__getitem__`` (the per-image PIL path), stacked."""
    samples = [images[k] for k in range(len(images))]
    return [
        torch.as_tensor(np.array(column)) if k else torch.stack(column)
        for k, column in enumerate(zip(*samples, strict=True))
    ]


@pytest.mark.parametrize("mode", MODES)
def test_batches_of_cached_images_equal_the_pil_path_bit_for_bit(gallery, tmp_path, mode):
    transform = eval_transform(**MODES[mode])
    assert BatchedEval.of(transform) is not None
    cache = open_image_cache(tmp_path / "c", gallery, cache_resize(transform), progress=False)
    images = ItemImages(gallery, transform, cache=cache)
    pixels, rows, ok = loader_batches(images)
    expected = one_by_one(images)
    assert torch.equal(pixels, expected[0])  # same dtype, shape and bits
    assert rows.tolist() == list(range(len(gallery)))
    assert ok.tolist() == [True] * len(SIZES) + [False, False]
    uncached = ItemImages(gallery, transform)  # and as decoding the files each time
    assert torch.equal(pixels, loader_batches(uncached)[0])


def test_cached_batches_do_not_go_through_pil(gallery, tmp_path, monkeypatch):
    transform = eval_transform()
    cache = open_image_cache(tmp_path / "c", gallery, cache_resize(transform), progress=False)
    expected = one_by_one(ItemImages(gallery, transform, cache=cache))[0]
    monkeypatch.setattr(ImageCache, "image", lambda *_: pytest.fail("PIL path taken"))
    images = Subset(ItemImages(gallery, transform, cache=cache), [4, 0, 0, 2])
    pixels = next(iter(DataLoader(images, batch_size=4)))[0]  # padded with a repeat
    assert torch.equal(pixels, expected[[4, 0, 0, 2]])


def test_images_the_resize_would_change_take_the_pil_path(gallery, tmp_path):
    transform = eval_transform()  # Resize(73); cached at 80: its Resize resizes again
    cache = open_image_cache(tmp_path / "c", gallery, T.Resize(80), progress=False)
    images = ItemImages(gallery, transform, cache=cache)
    assert images._batched.crop(cache.pixels(0)) is None
    assert torch.equal(loader_batches(images)[0], one_by_one(images)[0])


def test_only_timms_evaluation_transform_is_batched():
    mean, std = DATA_CONFIG["mean"], DATA_CONFIG["std"]
    steps = [T.Resize(73), T.CenterCrop(64), T.ToTensor(), T.Normalize(mean, std)]
    assert BatchedEval.of(T.Compose(steps)) is not None  # torchvision's own ToTensor too

    class OwnToTensor(T.ToTensor):
        """A subclass may convert otherwise."""

    others = [
        build_augmentation(LIGHT, DATA_CONFIG),
        build_augmentation(
            AugmentConfig(name="none"), DATA_CONFIG
        ),  # timm's eval transform: batched
        timm.data.create_transform(**{**DATA_CONFIG, "crop_mode": "border"}),
        ColorHistogramTransform(),
        T.Compose(steps[:3]),
        T.Compose([*steps, T.Lambda(lambda x: x)]),
        T.Compose([steps[0], T.RandomCrop(64), *steps[2:]]),
        T.Compose([*steps[:2], OwnToTensor(), steps[3]]),
        steps[0],
    ]
    assert [BatchedEval.of(t) is not None for t in others] == [False, True, *[False] * 7]


def test_training_augmentation_keeps_the_per_image_path(gallery, tmp_path):
    augment = build_augmentation(AugmentConfig(name="imagenet"), DATA_CONFIG)
    paths = gallery[: len(SIZES)]
    cache = open_image_cache(tmp_path / "c", paths, cache_resize(eval_transform()), progress=False)
    images = ItemImages(paths, augment, cache=cache)
    assert images._batched is None
    draws = []
    for batched in (True, False):  # the same random draws, image by image
        random.seed(0)
        torch.manual_seed(0)
        draws.append(loader_batches(images)[0] if batched else one_by_one(images)[0])
    assert torch.equal(*draws)


def test_validation_and_test_batches_take_the_batched_path(gallery, tmp_path, monkeypatch):
    transform = eval_transform()
    cache = open_image_cache(tmp_path / "c", gallery, cache_resize(transform), progress=False)
    splits = np.array(["train", "val", "val", "test", "val", "test", "val", "val", "test"])
    datamodule = ArtDataModule(
        targets=np.arange(len(gallery), dtype=np.float32)[:, None],
        splits=splits,
        image_paths=gallery,
        transforms={"train": build_augmentation(LIGHT, DATA_CONFIG), "eval": transform},
        usable=np.array([True] * len(SIZES) + [False, False]),  # the bad file, no image
        image_cache=cache,
        batch_size=2,
    )
    decoded = one_by_one(ItemImages(gallery, transform))[0]  # each file decoded, no cache
    monkeypatch.setattr(ImageCache, "image", lambda *_: pytest.fail("PIL path taken"))
    for split, loader in (
        ("val", datamodule.val_dataloader()),
        ("test", datamodule.test_dataloader()),
    ):
        rows = np.flatnonzero(splits[: len(SIZES)] == split)
        pixels, targets = (torch.cat(column) for column in zip(*loader, strict=True))
        assert torch.equal(pixels, decoded[rows])  # bit for bit the per-image path's
        assert targets[:, 0].tolist() == rows.tolist()
