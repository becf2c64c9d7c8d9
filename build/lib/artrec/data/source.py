"""From a ``dataset`` config (plain dict) to a loaded :class:`Dataset`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from artrec.data.dataset import Dataset, load_dataset
from artrec.errors import ConfigError


def _demo_root(cfg: Mapping[str, Any]) -> Path:
    from artrec.data.gallery import ensure_gallery

    return ensure_gallery(
        cfg.get("cache_dir"),
        scale=cfg.get("scale", "default"),
        seed=int(cfg.get("seed", 0)),
        image_size=int(cfg.get("image_size", 128)),
    )


GENERATED_ROOTS: dict[str, Callable[[Mapping[str, Any]], Path]] = {"demo": _demo_root}


def dataset_root(cfg: Mapping[str, Any]) -> Path:
    """The dataset directory: ``root`` when given, else generated (the demo gallery)."""
    if cfg.get("root"):
        return Path(cfg["root"]).expanduser()
    name = cfg.get("name")
    if name in GENERATED_ROOTS:
        return GENERATED_ROOTS[name](cfg)
    raise ConfigError(
        f"dataset '{name}' has no root: set dataset.root=PATH to a directory in the canonical "
        "layout (items.csv, purchases.csv, images/), e.g. one written by artrec.data.convert."
    )


def load_configured_dataset(cfg: Mapping[str, Any], *, require_purchases: bool = False) -> Dataset:
    """Load the dataset a config names, with its image-path policy."""
    return load_dataset(
        dataset_root(cfg),
        allow_absolute_images=bool(cfg.get("allow_absolute_images", False)),
        require_purchases=require_purchases,
    )
