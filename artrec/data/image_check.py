"""Check that every item's image can be decoded (SPEC section 1: counted, then skipped or fatal)."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image, UnidentifiedImageError
from rich.progress import track

from artrec.data.dataset import Dataset
from artrec.errors import ConfigError, CorruptImageError, preview

ON_ERROR = ("skip", "fail")


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
    """Why the image at ``path`` cannot be used, or ``None`` if it decodes."""
    try:
        with Image.open(path) as image:
            image.verify()
    except FileNotFoundError:
        return "file not found"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
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
