"""Canonical datasets (docs/data.md): loading, validation, adapters, the demo gallery.

``Dataset`` and ``load_dataset`` are imported on first use (PEP 562): the typed settings in
``artrec.data.config``, which every ``--help`` reads, load no pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from artrec.data.dataset import Dataset, load_dataset

__all__ = ["Dataset", "load_dataset"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("artrec.data.dataset"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
