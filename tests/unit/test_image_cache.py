"""The pre-resized image cache: same tensors as decoding the files, keyed so that a changed
image is never served from an old cache, atomic builds, damaged caches rebuilt."""

from __future__ import annotations

import logging
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from image_testkit import DATA_CONFIG, eval_transform, write_random_jpegs
from PIL import Image
from torchvision import transforms as T

from artrec.data import image_cache
from artrec.data.datamodule import ArtDataModule
from artrec.data.image_cache import (
    INDEX_FILE,
    PIXELS_FILE,
    cache_key,
    cache_resize,
    image_cache_for,
    open_image_cache,
)
from artrec.data.images import ItemImages
from artrec.errors import ConfigError, CorruptImageError
from artrec.models.augment import build_augmentation
from artrec.models.color_histogram import ColorHistogramTransform
from artrec.models.config import AugmentConfig

SIZES = [(150, 97), (80, 200), (64, 64), (40, 30), (501, 333)]  # wider, taller, smaller


@pytest.fixture()
def gallery(tmp_path):
    """JPEGs of several shapes (some smaller than the cached size) with random pixels."""
    return write_random_jpegs(tmp_path, SIZES)


def test_cached_images_give_the_same_tensors_as_the_files(gallery, tmp_path):
    transform = eval_transform()
    assert cache_resize(transform).size == 73  # int(64 / 0.875): timm's size before the crop
    cache = open_image_cache(tmp_path / "c", gallery, cache_resize(transform), progress=False)
    assert [tuple(cache.index[k, 1:]) for k in range(2)] == [(73, 112), (182, 73)]
    plain, cached = ItemImages(gallery, transform), ItemImages(gallery, transform, cache=cache)
    for k in range(len(gallery)):
        assert torch.equal(cached[k][0], plain[k][0])  # bit for bit: the same Resize, uint8


def test_extraction_embeddings_are_identical_with_and_without_the_cache(gallery):
    model = timm.create_model("test_efficientnet", pretrained=False, num_classes=0).eval()
    transform = eval_transform()
    cache = image_cache_for(gallery, transform, enabled=True, progress=False)
    with torch.no_grad():
        batches = [
            torch.stack([images[k][0] for k in range(len(gallery))])
            for images in (
                ItemImages(gallery, transform),
                ItemImages(gallery, transform, cache=cache),
            )
        ]
        assert torch.equal(model(batches[0]), model(batches[1]))


@pytest.mark.parametrize("name", ["none", "light", "imagenet"])
def test_training_augmentations_run_on_cached_images(gallery, tmp_path, name):
    augment = build_augmentation(AugmentConfig(name=name), DATA_CONFIG)  # light's defaults
    cache = open_image_cache(
        tmp_path / "c", gallery, cache_resize(eval_transform()), progress=False
    )
    images = ItemImages(gallery, augment, cache=cache)
    for k in range(len(gallery)):
        tensor, _, ok = images[k]
        assert ok and tensor.shape == (3, 64, 64)
    if name == "none":  # the evaluation transform: identical to the uncached images
        assert torch.equal(images[0][0], ItemImages(gallery, augment)[0][0])


def test_transforms_without_a_leading_resize_get_no_cache(gallery):
    border = timm.data.create_transform(**{**DATA_CONFIG, "crop_mode": "border"})
    assert cache_resize(border) is None and cache_resize(ColorHistogramTransform()) is None
    assert image_cache_for(gallery, border, enabled=True) is None
    assert image_cache_for(gallery, eval_transform(), enabled=False) is None


def _rewrite(path: str, colour: tuple[int, int, int]) -> np.ndarray:
    """Replace the image at ``path`` by a plain one of the same size; its expected pixels."""
    size = Image.open(path).size
    Image.new("RGB", size, colour).save(path, format="PNG")
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("by_content", [True, False])
def test_a_changed_image_is_never_served_from_the_old_cache(gallery, monkeypatch, by_content):
    if not by_content:  # large sets are fingerprinted by size and mtime, not bytes
        monkeypatch.setattr("artrec.rundir.CONTENT_HASH_LIMIT", 0)
    old = image_cache_for(gallery, eval_transform(), enabled=True, progress=False)
    _rewrite(gallery[2], (200, 10, 10))  # 64 x 64: cached unresized
    os.utime(gallery[2], ns=(1, 1))
    new = image_cache_for(gallery, eval_transform(), enabled=True, progress=False)
    assert new.folder != old.folder
    assert (np.asarray(new.image(2)) == (200, 10, 10)).all()
    assert not (np.asarray(old.image(2)) == (200, 10, 10)).all()


def test_a_damaged_cache_is_rebuilt_with_a_warning(gallery, tmp_path, caplog):
    resize = cache_resize(eval_transform())
    cache = open_image_cache(tmp_path / "c", gallery, resize, progress=False)
    expected = [np.asarray(cache.image(k)) for k in range(len(gallery))]
    for name, damage in ((PIXELS_FILE, b"\0" * 10), (INDEX_FILE, b"junk")):
        (cache.folder / name).write_bytes(damage)
        with caplog.at_level(logging.WARNING, logger="artrec"):
            again = open_image_cache(tmp_path / "c", gallery, resize, progress=False)
        assert "is damaged" in caplog.text and str(cache.folder) in caplog.text
        assert all(np.array_equal(again.image(k), expected[k]) for k in range(len(gallery)))
        caplog.clear()


def test_unreadable_images_fall_back_to_the_file_and_its_error(gallery, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    paths = [gallery[0], str(bad), None]
    transform = eval_transform()
    cache = open_image_cache(tmp_path / "c", paths, cache_resize(transform), progress=False)
    assert cache.image(1) is None and cache.image(2) is None
    assert [ok for _, _, ok in ItemImages(paths, transform, cache=cache)] == [True, False, False]
    with pytest.raises(CorruptImageError, match=r"bad\.jpg"):
        ItemImages(paths, transform, cache=cache, on_error="fail")[1]


def test_a_killed_build_leaves_no_cache_that_reads_as_complete(gallery, tmp_path):
    root = tmp_path / "c"
    script = (
        "import sys, timm; from pathlib import Path;"
        "from artrec.data.image_cache import cache_resize, open_image_cache;"
        f"t = timm.data.create_transform(**{DATA_CONFIG!r});"
        "open_image_cache(Path(sys.argv[1]), sys.argv[2:], cache_resize(t), progress=False)"
    )
    env = {**os.environ, "ARTREC_FAULT": "image_cache_written"}
    killed = subprocess.run([sys.executable, "-c", script, str(root), *gallery], env=env)
    assert killed.returncode == -9
    (tmp,) = [p for p in root.iterdir() if p.is_dir()]  # only the temporary folder
    (lock,) = [p for p in root.iterdir() if p.is_file()]  # and the lock the build held
    assert tmp.name.startswith(".") and lock.name.startswith(".") and lock.suffix == ".lock"
    cache = open_image_cache(root, gallery, cache_resize(eval_transform()), progress=False)
    plain = ItemImages(gallery, eval_transform())
    assert torch.equal(ItemImages(gallery, eval_transform(), cache=cache)[4][0], plain[4][0])
    assert set(root.iterdir()) == {tmp, cache.folder}  # the lock taken over, then removed


def test_the_datamodule_reads_every_split_from_the_cache(gallery, tmp_path):
    transform = eval_transform()
    cache = open_image_cache(tmp_path / "c", gallery, cache_resize(transform), progress=False)
    for path in gallery:
        os.remove(path)  # from here on, only the cache has the pictures
    dm = ArtDataModule(
        targets=np.arange(len(gallery), dtype=np.float32)[:, None],
        splits=np.array(["train", "train", "val", "val", "test"]),
        image_paths=gallery,
        transforms={"train": transform, "eval": transform},
        image_cache=cache,
        batch_size=8,
    )
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        pixels, targets = next(iter(loader))
        assert pixels.shape[1:] == (3, 64, 64) and len(pixels) == len(targets)


def test_an_unwritable_cache_folder_is_a_one_line_error(gallery, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"cannot write the image cache in .*file.*ARTREC_CACHE"):
        open_image_cache(tmp_path / "file" / "c", gallery, cache_resize(eval_transform()))


def _open_counted(point: str, mark: Path, builds: Path, root: Path, paths: list[str]) -> None:
    """In a forked process: open the cache of ``paths``, holding at the fault point
    ``point`` until ``mark`` is deleted; each build is a line in ``builds``."""
    os.environ |= {"ARTREC_FAULT": f"{point}:hold", "ARTREC_FAULT_MARK": str(mark)}
    build = image_cache._build

    def counted(*args, **kwargs):
        with open(builds, "a") as log:
            log.write("built\n")
        build(*args, **kwargs)

    image_cache._build = counted
    image_cache.open_image_cache(root, paths, T.Resize(73), progress=False)


def held_at(point: str, mark: Path, *args) -> multiprocessing.Process:
    """``_open_counted`` in a forked process (no import to wait for), once it holds."""
    process = multiprocessing.get_context("fork").Process(
        target=_open_counted, args=(point, mark, *args)
    )
    process.start()
    while not mark.exists():
        process.join(timeout=0.01)
        assert process.exitcode is None, f"it ended before {point} (exit {process.exitcode})"
    return process


def test_one_process_builds_a_cache_the_others_wait_for(gallery, tmp_path):
    builds, root = tmp_path / "builds.log", tmp_path / "c"
    building, waiting = tmp_path / "building", tmp_path / "waiting"
    processes = [held_at("image_cache_written", building, builds, root, gallery)]  # has the lock
    try:  # the second finds the lock held and waits (on old code it built its own cache)
        processes.append(held_at("image_cache_wait", waiting, builds, root, gallery))
        waiting.unlink()  # it goes on waiting for the lock
        building.unlink()  # the first renames its cache into place and lets go
        for process in processes:
            process.join(timeout=120)
    finally:
        for process in processes:
            process.kill()
    assert [process.exitcode for process in processes] == [0, 0]
    assert builds.read_text() == "built\n"  # built once
    assert [p.name for p in root.iterdir()] == [cache_key(gallery, T.Resize(73))]
