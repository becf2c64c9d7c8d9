"""The fingerprints of a dataset's files: what a run read, recorded in its run.json.

A completed run is reused only when every input it read is unchanged (``artrec.rundir``).
"""

from __future__ import annotations

from artrec.data.dataset import ITEMS_FILE, PURCHASES_FILE, Dataset
from artrec.rundir import file_digest, image_set_digest


def dataset_inputs(dataset: Dataset, *, prefix: str = "dataset", images: bool) -> dict[str, str]:
    """``{prefix}/items.csv`` and ``{prefix}/purchases.csv`` by content and, with ``images``,
    ``{prefix}/images``: the image files items.csv names (paths, sizes, bytes or mtimes)."""
    inputs = {f"{prefix}/{ITEMS_FILE}": file_digest(dataset.root / ITEMS_FILE)}
    purchases = dataset.root / PURCHASES_FILE
    inputs[f"{prefix}/{PURCHASES_FILE}"] = file_digest(purchases) if purchases.is_file() else "-"
    if images and "image" in dataset.items.columns:
        inputs[f"{prefix}/images"] = image_set_digest(dataset.items["image"].tolist())
    return inputs
