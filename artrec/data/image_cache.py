"""A pre-resized image cache: every image of a data set decoded and resized once, kept as
uint8 pixels in one memory-mapped file, so later epochs and runs skip decoding full images.

The size is the one timm's preprocessing resizes to before its crop (the first ``Resize`` of
the evaluation transform: the short side ``input_size / crop_pct``, with its interpolation),
done with that very ``Resize``; the transform then runs unchanged on the cached picture,
where its resize changes nothing. A cache lives in ``<root>/<key>/`` (``pixels.u8``: the
images' RGB rows one after another; ``index.npy``: offset, height, width per image, height 0
for an image unreadable at build time) and is keyed by the images' fingerprint
(``image_set_digest``: paths, sizes, bytes or modification times) and that resize. It is
built in a temporary folder renamed into place when complete, so a killed build leaves no
folder that reads as a cache, by one process at a time: the others asking for it (DDP
ranks, parallel jobs) wait on its lock, ``.<key>.lock`` beside it, then read it
(docs/data.md).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from torchvision import transforms as T

from artrec.data.image_check import DECODE_ERRORS, read_rgb
from artrec.errors import ConfigError
from artrec.faults import fault_point
from artrec.io import cache_root, stable_hash
from artrec.progress import track
from artrec.rundir import LOCK_FILE, FileLock, image_set_digest

log = logging.getLogger("artrec")
CACHE_VERSION = 1  # bump when decoding or the layout changes: older caches are then unused
PIXELS_FILE, INDEX_FILE = "pixels.u8", "index.npy"


def cache_resize(transform: Callable) -> T.Resize | None:
    """The ``Resize`` a timm transform starts with (its size before the crop), or None
    when it starts otherwise (colour histograms, timm's ``border`` crop mode): no cache."""
    steps = getattr(transform, "transforms", None)
    first = steps[0] if steps else None
    return first if type(first) is T.Resize else None


def cache_key(paths: Sequence[str | None], resize: T.Resize, digest: str | None = None) -> str:
    """The cache's folder name: the images' fingerprint (``digest``, the caller's
    ``image_set_digest(paths)`` when it has one: the run's recorded inputs; else taken
    now), the resize and the layout version."""
    size = resize.size if isinstance(resize.size, int) else list(resize.size)
    spec = [size, resize.interpolation.value, resize.max_size, resize.antialias]
    fingerprint = image_set_digest(list(paths)) if digest is None else digest
    return stable_hash(fingerprint, spec, CACHE_VERSION)


class ImageCache:
    """The cached images, read through a memory map opened on first use (in each worker)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.index = np.load(folder / INDEX_FILE)
        if self.index.ndim != 2 or self.index.shape[1] != 3:
            raise ValueError(f"{folder / INDEX_FILE} has shape {self.index.shape}, not (N, 3)")
        expected = int((self.index[:, 1] * self.index[:, 2] * 3).sum())
        found = (folder / PIXELS_FILE).stat().st_size
        if found != expected:
            raise ValueError(f"{folder / PIXELS_FILE} has {found} bytes, its index {expected}")
        self._pixels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.index)

    def pixels(self, index: int) -> np.ndarray | None:
        """Image ``index`` as resized at build time (a ``[H, W, 3]`` uint8 copy), or None
        when it was unreadable then."""
        offset, height, width = (int(v) for v in self.index[index])
        if height == 0:
            return None
        if self._pixels is None:
            self._pixels = np.memmap(self.folder / PIXELS_FILE, dtype=np.uint8, mode="r")
        rows = self._pixels[offset : offset + height * width * 3].reshape(height, width, 3)
        return np.array(rows)

    def image(self, index: int) -> Image.Image | None:
        """Image ``index`` as resized at build time, or None when it was unreadable then."""
        pixels = self.pixels(index)
        return None if pixels is None else Image.fromarray(pixels, "RGB")

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_pixels": None}  # workers map the file themselves


class _Resized(TorchDataset):
    """Each image decoded and resized (uint8 ``[H, W, 3]``; empty when unreadable)."""

    def __init__(self, paths: Sequence[str | None], resize: T.Resize) -> None:
        self.paths, self.resize = list(paths), resize

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:
        try:
            path = self.paths[index]
            if path is None:
                raise FileNotFoundError("item has no image")
            return np.array(self.resize(read_rgb(path)), dtype=np.uint8)
        except DECODE_ERRORS:
            return np.zeros((0, 0, 3), dtype=np.uint8)  # read (and reported) later, uncached


def open_image_cache(
    root: Path,
    paths: Sequence[str | None],
    resize: T.Resize,
    *,
    num_workers: int = 0,
    progress: bool = True,
    digest: str | None = None,
) -> ImageCache:
    """The cache of ``paths`` at ``resize`` under ``root`` (``digest``: as ``cache_key``):
    built on first use by one process while any other that asks for it waits, rebuilt
    (with a warning) when its files are damaged."""
    folder = root / cache_key(paths, resize, digest)
    cache = _complete(folder, repair=False)
    if cache is not None:
        return cache
    with _one_builder(folder):
        cache = _complete(folder, repair=True)  # built by another process while this one waited
        if cache is None:
            _build(folder, paths, resize, num_workers=num_workers, progress=progress)
            cache = ImageCache(folder)
    return cache


def _complete(folder: Path, *, repair: bool) -> ImageCache | None:
    """The cache in ``folder``; None when there is none or it is damaged, which ``repair``
    removes with a warning (only under the lock: no other process is building it then)."""
    if not folder.is_dir():
        return None
    try:
        return ImageCache(folder)
    except (OSError, ValueError, EOFError) as exc:
        if repair:
            log.warning("Image cache %s is damaged (%s); building it again.", folder, exc)
            shutil.rmtree(folder, ignore_errors=True)
        return None


@contextmanager
def _one_builder(folder: Path) -> Iterator[None]:
    """Hold the lock of ``folder``'s build, ``.<key>.lock`` beside it (waiting while another
    process holds it): one process builds a cache, the others then read it."""
    lock = FileLock(folder.parent / f".{folder.name}{LOCK_FILE}", partial(_wait_for, folder))
    with ExitStack() as held:
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            held.enter_context(lock)
        except OSError as exc:
            raise _unwritable(folder.parent, exc) from exc
        yield


def _wait_for(folder: Path, holder: str) -> None:
    """Say that this process waits for another one's build (fault point ``image_cache_wait``)."""
    log.info(
        "Waiting for another process (%s) to finish building the image cache %s", holder, folder
    )
    fault_point("image_cache_wait")


def _unwritable(root: Path, exc: OSError) -> ConfigError:
    return ConfigError(
        f"cannot write the image cache in {root} ({exc.strerror}): set ARTREC_CACHE to a "
        "writable folder, or switch the cache off (data.image_cache=false, extract.py's "
        "image_cache=false)."
    )


def _build(
    folder: Path, paths: Sequence[str | None], resize: T.Resize, *, num_workers: int, progress: bool
) -> None:
    """Resize every image into a temporary folder, then rename it to ``folder``."""
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError as exc:
        raise _unwritable(folder.parent, exc) from exc
    try:
        loader = DataLoader(
            _Resized(paths, resize), batch_size=None, num_workers=num_workers, shuffle=False
        )
        arrays = track(loader, "Image cache", total=len(paths)) if progress else loader
        index = np.zeros((len(paths), 3), dtype=np.int64)
        offset = 0
        with open(tmp / PIXELS_FILE, "wb") as out:
            for row, pixels in enumerate(arrays):
                array = np.ascontiguousarray(pixels.numpy())
                out.write(array.tobytes())
                index[row] = (offset, array.shape[0], array.shape[1])
                offset += array.size
            out.flush()
            os.fsync(out.fileno())
        np.save(tmp / INDEX_FILE, index)
        fault_point("image_cache_written")
        os.rename(tmp, folder)  # atomic; fails when another process finished first
    except OSError:
        if not folder.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def image_cache_for(
    paths: Sequence[str | None],
    transform: Callable,
    *,
    enabled: bool,
    num_workers: int = 0,
    progress: bool = True,
    digest: str | None = None,
) -> ImageCache | None:
    """The cache of ``paths`` for ``transform`` under ``$ARTREC_CACHE/images`` (``digest``:
    as ``cache_key``); None when switched off or when the transform does not start with a
    resize."""
    resize = cache_resize(transform) if enabled else None
    if resize is None:
        return None
    root = cache_root() / "images"
    return open_image_cache(
        root, paths, resize, num_workers=num_workers, progress=progress, digest=digest
    )
