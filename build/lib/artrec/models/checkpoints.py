"""Reading train.py's checkpoints safely: ``weights_only=True``, one-line errors.

``torch.load(weights_only=True)`` refuses any pickled object other than tensors and plain
containers, so nothing in a crafted file runs; a truncated, foreign or unsafe file gives a
:class:`~artrec.errors.CheckpointError` naming it.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from artrec.errors import CheckpointError

UNREADABLE = (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile)


def read_checkpoint(path: str | Path, *, what: str = "checkpoint") -> dict[str, Any]:
    """The contents of a Lightning checkpoint written by train.py (on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} {path}: no such file.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{what} {path} was refused: it holds pickled objects other than tensors and plain "
            f"values, which are never loaded ({reason[:200]})."
        ) from None
    except UNREADABLE as err:
        raise CheckpointError(
            f"{what} {path} cannot be read ({type(err).__name__}): truncated or not a PyTorch "
            "file. Delete it, or point to another checkpoint."
        ) from None
    if not isinstance(checkpoint, Mapping) or not isinstance(checkpoint.get("state_dict"), Mapping):
        raise CheckpointError(
            f"{what} {path} has no state_dict: not a checkpoint written by artrec's train.py."
        )
    return dict(checkpoint)
