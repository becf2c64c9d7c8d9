"""Check that every item's image can be decoded (docs/data.md: counted, then skipped or fatal)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from rich.progress import track

from artrec.data.dataset import Dataset
from artrec.errors import ConfigError, CorruptImageError, preview

ON_ERROR = ("skip", "fail")
DECODE_ERRORS = (
    FileNotFoundError,
    UnidentifiedImageError,
    Image.DecompressionBombError,
    OSError,
    SyntaxError,
    ValueError,
)
_WIDE_GREY = ("I", "I;16", "I;16B", "I;16L", "I;16N")  # 16-bit (or wider) grey levels
_ALPHA = ("RGBA", "RGBa", "LA", "La", "PA")


def to_rgb(image: Image.Image) -> Image.Image:
    """The decoded image as 8-bit RGB: 16-bit grey levels scaled to 8 bits (Pillow would
    clip them to white), transparent pixels composited on a white background."""
    if image.mode in _WIDE_GREY:
        levels = np.asarray(image, dtype=np.float64) / 257.0
        image = Image.fromarray(np.clip(np.rint(levels), 0, 255).astype(np.uint8), "L")
    if image.mode in _ALPHA or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def read_rgb(path: str | Path) -> Image.Image:
    """Decode the whole image file at ``path`` into 8-bit RGB (see :func:`to_rgb`)."""
    with Image.open(path) as image:
        return to_rgb(image)


@dataclass
class ImageReport:
    """What a check of a dataset's images found."""

    n_checked: int = 0
    n_without_image: int = 0
    bad: dict[str, str] = field(default_factory=dict)  # item_id -> reason

    @property
    def n_bad(self) -> int:
        return len(self.bad)

    def summary(self) -> str:
        text = f"{self.n_checked} images checked, {self.n_bad} unreadable"
        if self.n_without_image:
            text += f", {self.n_without_image} items without an image"
        if self.bad:
            text += f"; first: {preview(self.bad)}"
        return text


def image_problem(path: str) -> str | None:
    """Why the image at ``path`` cannot be used, or ``None`` if it decodes fully (a
    truncated file passes a header check, not a full decode)."""
    try:
        read_rgb(path)
    except FileNotFoundError:
        return "file not found"
    except DECODE_ERRORS as exc:
        return f"not a decodable image ({type(exc).__name__}: {exc})"
    return None


def check_images(dataset: Dataset, on_error: str = "skip", progress: bool = False) -> ImageReport:
    """Decode-check every item's image; with ``on_error='fail'`` the first bad one raises."""
    if on_error not in ON_ERROR:
        raise ConfigError(f"on_error={on_error!r}: use one of {ON_ERROR}.")
    report = ImageReport()
    if "image" not in dataset.items.columns:
        report.n_without_image = len(dataset.items)
        return report
    rows = zip(dataset.items["item_id"], dataset.items["image"], strict=True)
    if progress:
        rows = track(rows, total=len(dataset.items), description="Checking images")
    for item_id, path in rows:
        if path is None:
            report.n_without_image += 1
            continue
        report.n_checked += 1
        problem = image_problem(path)
        if problem is None:
            continue
        if on_error == "fail":
            raise CorruptImageError(
                f"{dataset.root / 'items.csv'}: item {item_id!r}: image {path}: {problem}. "
                "Fix or remove the file, or set image_errors=skip to skip such items."
            )
        report.bad[item_id] = problem
    return report
