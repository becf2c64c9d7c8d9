"""Item images as a torch ``Dataset``: decode in workers, optional pre-resize cache.

Paintings can be several thousand pixels wide; with ``cache_dir`` set, an image larger than
``max_side`` is shrunk once and the small copy is reused by every later epoch and run.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset as TorchDataset

from artrec.data.image_check import DECODE_ERRORS, read_rgb
from artrec.errors import ConfigError, CorruptImageError
from artrec.io import atomic_path

IMAGE_ERRORS = ("skip", "fail")
CACHE_VERSION = 2  # bump when decoding changes: cached small copies are then redone


class ItemImages(TorchDataset):
    """``(image tensor, item row, ok)`` for each path; ``ok`` is False for an unreadable
    image (a zero tensor stands in) when ``on_error='skip'``."""

    def __init__(
        self,
        paths: Sequence[str | None],
        transform: Callable[[Image.Image], torch.Tensor],
        *,
        rows: Sequence[int] | None = None,
        on_error: str = "skip",
        cache_dir: str | Path | None = None,
        max_side: int = 512,
    ) -> None:
        if on_error not in IMAGE_ERRORS:
            raise ConfigError(f"image_errors={on_error!r}: use one of {IMAGE_ERRORS}.")
        self.paths = list(paths)
        self.rows = list(range(len(self.paths))) if rows is None else list(rows)
        self.transform = transform
        self.on_error = on_error
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.max_side = max_side
        self._blank: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, bool]:
        path = self.paths[index]
        try:
            if path is None:
                raise FileNotFoundError("item has no image")
            tensor = self.transform(self._open(path))
        except DECODE_ERRORS as exc:
            if self.on_error == "fail":
                raise CorruptImageError(
                    f"image {path} (item row {self.rows[index]}): {type(exc).__name__}: {exc}. "
                    "Fix or remove it, or set dataset.image_errors=skip."
                ) from exc
            return self._placeholder(), self.rows[index], False
        return tensor, self.rows[index], True

    def _placeholder(self) -> torch.Tensor:
        if self._blank is None:
            self._blank = torch.zeros_like(self.transform(Image.new("RGB", (64, 64))))
        return self._blank

    def _open(self, path: str) -> Image.Image:
        if self.cache_dir is None:
            return read_rgb(path)
        return _cached_small_copy(Path(path), self.cache_dir, self.max_side)


def _cached_small_copy(path: Path, cache_dir: Path, max_side: int) -> Image.Image:
    """The image, shrunk to ``max_side`` (longest side) through an on-disk cache."""
    stat = path.stat()
    key = hashlib.sha1(
        f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}|{max_side}|{CACHE_VERSION}".encode()
    )
    cached = cache_dir / f"{key.hexdigest()}.png"
    if cached.is_file():
        with Image.open(cached) as image:
            return image.convert("RGB")
    image = read_rgb(path)
    if max(image.size) <= max_side:
        return image
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    os.makedirs(cache_dir, exist_ok=True)
    with atomic_path(cached) as tmp:
        image.save(tmp, format="PNG")
    return image
