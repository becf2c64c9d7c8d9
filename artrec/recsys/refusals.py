"""Why ``evaluate()`` refuses to run: a device that is not there, a dataset holding a header
only, a timeline without a single test case. Each is one line naming what is missing and
the fix (docs/bad-input.md)."""

from __future__ import annotations

import numpy as np
import torch

from artrec.data import Dataset
from artrec.data.dataset import ITEMS_FILE, PURCHASES_FILE
from artrec.embeddings import EmbeddingTable
from artrec.errors import ArtrecError, ConfigError, DatasetError, EmbeddingsError, preview
from artrec.recsys.protocol import Timeline

NO_CASE = "so no test case exists and no metric can be computed"


def checked_device(name: str) -> str:
    """``protocol.device``, refused when it is CUDA and CUDA is not available."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "protocol.device=cuda, but CUDA is not available; use protocol.device=cpu."
        )
    return name


def require_rows(dataset: Dataset) -> None:
    """Refuse a dataset whose items.csv or purchases.csv holds a header only."""
    if dataset.items.empty:
        raise DatasetError(
            f"{dataset.root / ITEMS_FILE}: no items (a header only), {NO_CASE}; add the items."
        )
    if dataset.purchases.empty:
        raise DatasetError(
            f"{dataset.root / PURCHASES_FILE}: no purchases (a header only), {NO_CASE}; add "
            "rows user_id,item_id,time."
        )


def no_test_case(
    dataset: Dataset,
    embeddings: EmbeddingTable,
    present: np.ndarray,
    timeline: Timeline,
    min_profile: int,
) -> ArtrecError:
    """Why the protocol found no test case, naming what is empty."""
    if not present.any():
        held = f"none of its {len(embeddings)} item id(s) {preview(embeddings.item_ids)}"
        return EmbeddingsError(
            f"{embeddings.source}: {held if len(embeddings) else 'no item id at all'} matches "
            f"an item_id of {dataset.root / ITEMS_FILE} {preview(dataset.item_ids)}: every "
            f"item is dropped, {NO_CASE}; embed this dataset's items."
        )
    purchases = dataset.root / PURCHASES_FILE
    if timeline.n_skipped:
        return DatasetError(
            f"{purchases}: all {timeline.n_skipped} possible test case(s) were skipped, none "
            f"keeps both a profile and a ground truth in stock ({timeline.n_dropped_items} "
            f"item(s) dropped for lack of an embedding), {NO_CASE}."
        )
    return DatasetError(
        f"{purchases}: no user has a transaction after earlier ones holding at least "
        f"protocol.min_profile={min_profile} item(s), {NO_CASE}; the protocol needs users who "
        "buy more than once."
    )
