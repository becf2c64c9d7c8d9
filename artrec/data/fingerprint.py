"""The fingerprints of a dataset's files: what a run read, recorded in its run.json.

A completed run is reused only when every input it read is unchanged (``artrec.rundir``).
The run itself then works on what was fingerprinted (``RunInputs``): each dataset is loaded
once and its images hashed once per run, the image cache's key included.
"""

from __future__ import annotations

from collections.abc import Callable

from artrec.data.dataset import ITEMS_FILE, PURCHASES_FILE, Dataset
from artrec.rundir import file_digest, image_set_digest

IMAGES = "images"  # ``{prefix}/images``: the fingerprint of a dataset's image files


def dataset_inputs(dataset: Dataset, *, prefix: str = "dataset", images: bool) -> dict[str, str]:
    """``{prefix}/items.csv`` and ``{prefix}/purchases.csv`` by content and, with ``images``,
    ``{prefix}/images``: the image files items.csv names (paths, sizes, bytes or mtimes)."""
    inputs = {f"{prefix}/{ITEMS_FILE}": file_digest(dataset.root / ITEMS_FILE)}
    purchases = dataset.root / PURCHASES_FILE
    inputs[f"{prefix}/{PURCHASES_FILE}"] = file_digest(purchases) if purchases.is_file() else "-"
    if images and "image" in dataset.items.columns:
        inputs[f"{prefix}/{IMAGES}"] = image_set_digest(dataset.items["image"].tolist())
    return inputs


class RunInputs(dict[str, str]):
    """A run's input fingerprints, ``{name: fingerprint}`` (what run.json records and the
    next run compares), and the datasets loaded to take them, which the run then uses
    rather than loading the files and hashing the images again."""

    def __init__(self) -> None:
        super().__init__()
        self.datasets: dict[str, Dataset] = {}

    def add_dataset(self, dataset: Dataset, *, prefix: str = "dataset", images: bool) -> None:
        """Fingerprint ``dataset``'s files under ``prefix`` (``dataset_inputs``); keep it."""
        self.update(dataset_inputs(dataset, prefix=prefix, images=images))
        self.datasets[prefix] = dataset

    def dataset(self, prefix: str, load: Callable[[], Dataset]) -> Dataset:
        """The dataset fingerprinted under ``prefix``; else ``load()`` (a run whose inputs
        were taken by another process: a non-zero DDP rank)."""
        return self.datasets[prefix] if prefix in self.datasets else load()

    def images_digest(self, prefix: str) -> str | None:
        """``image_set_digest`` of the images of the dataset under ``prefix``, when taken."""
        return self.get(f"{prefix}/{IMAGES}")
