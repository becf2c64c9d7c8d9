"""Canonical datasets (docs/data.md): loading, validation, adapters, the demo gallery."""

from artrec.data.dataset import Dataset, load_dataset

__all__ = ["Dataset", "load_dataset"]
