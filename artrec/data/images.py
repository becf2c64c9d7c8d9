"""Item images as a torch ``Dataset``: decode in workers, or read the pre-resized image
cache (``artrec.data.image_cache``) so that no epoch decodes full-size images again; with
timm's evaluation transform, a loader's batches of cached images skip PIL
(``artrec.data.batched_eval``: the same tensors).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from PIL import Image
from torch.utils.data import Dataset as TorchDataset

from artrec.data.batched_eval import BatchedEval
from artrec.data.image_cache import ImageCache
from artrec.data.image_check import DECODE_ERRORS, read_rgb
from artrec.errors import ConfigError, CorruptImageError

IMAGE_ERRORS = ("skip", "fail")


class ItemImages(TorchDataset):
    """``(image tensor, item row, ok)`` for each path; ``ok`` is False for an unreadable
    image (a zero tensor stands in) when ``on_error='skip'``. With ``cache`` (built over the
    same ``paths``), images come from it; one it could not read comes from its file, which
    reports the error."""

    def __init__(
        self,
        paths: Sequence[str | None],
        transform: Callable[[Image.Image], torch.Tensor],
        *,
        rows: Sequence[int] | None = None,
        on_error: str = "skip",
        cache: ImageCache | None = None,
    ) -> None:
        if on_error not in IMAGE_ERRORS:
            raise ConfigError(f"image_errors={on_error!r}: use one of {IMAGE_ERRORS}.")
        self.paths = list(paths)
        self.rows = list(range(len(self.paths))) if rows is None else list(rows)
        self.transform = transform
        self.on_error = on_error
        if cache is not None and len(cache) != len(self.paths):
            raise ValueError(f"an image cache of {len(cache)} images for {len(self.paths)} paths")
        self.cache = cache
        self._batched = BatchedEval.of(transform) if cache is not None else None
        self._blank: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, bool]:
        path = self.paths[index]
        try:
            if path is None:
                raise FileNotFoundError("item has no image")
            tensor = self.transform(self._open(index, path))
        except DECODE_ERRORS as exc:
            if self.on_error == "fail":
                raise CorruptImageError(
                    f"image {path} (item row {self.rows[index]}): {type(exc).__name__}: {exc}. "
                    "Fix or remove it, or set dataset.image_errors=skip."
                ) from exc
            return self._placeholder(), self.rows[index], False
        return tensor, self.rows[index], True

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, int, bool]]:
        """A loader's batch: its cached images through ``BatchedEval`` at once (when the
        transform is timm's evaluation one), the others one by one as ``__getitem__``."""
        crops = self._cached_crops(indices)
        if not crops:
            return [self[index] for index in indices]
        batch = self._batched.to_tensors(list(crops.values()))
        tensors = dict(zip(crops, batch.unbind(), strict=True))
        return [
            (tensors[index], self.rows[index], True) if index in tensors else self[index]
            for index in indices
        ]

    def _cached_crops(self, indices: list[int]) -> dict[int, torch.Tensor]:
        """The batched path's uint8 crops of the cached images among ``indices``."""
        if self._batched is None:
            return {}
        crops = {}
        for index in indices:
            pixels = self.cache.pixels(index)
            crop = self._batched.crop(pixels) if pixels is not None else None
            if crop is not None:
                crops[index] = crop
        return crops

    def _placeholder(self) -> torch.Tensor:
        if self._blank is None:
            self._blank = torch.zeros_like(self.transform(Image.new("RGB", (64, 64))))
        return self._blank

    def _open(self, index: int, path: str) -> Image.Image:
        cached = self.cache.image(index) if self.cache is not None else None
        return cached if cached is not None else read_rgb(path)
