"""From a ``dataset`` config (:class:`DatasetConfig`) to a loaded :class:`Dataset`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from artrec.data.config import DatasetConfig
from artrec.data.dataset import Dataset, load_dataset
from artrec.errors import ConfigError


def _demo_root(cfg: DatasetConfig) -> Path:
    from artrec.data.gallery import ensure_gallery

    return ensure_gallery(cfg.cache_dir, scale=cfg.scale, seed=cfg.seed, image_size=cfg.image_size)


GENERATED_ROOTS: dict[str, Callable[[DatasetConfig], Path]] = {"demo": _demo_root}


def dataset_root(cfg: DatasetConfig) -> Path:
    """The dataset directory: ``root`` when given, else generated (the demo gallery)."""
    if cfg.root:
        return Path(cfg.root).expanduser()
    name = cfg.name
    if name in GENERATED_ROOTS:
        return GENERATED_ROOTS[name](cfg)
    raise ConfigError(
        f"dataset '{name}' has no root: set dataset.root=PATH to a directory in the canonical "
        "layout (items.csv, purchases.csv, images/), e.g. one written by artrec.data.convert."
    )


def load_configured_dataset(cfg: DatasetConfig, *, require_purchases: bool = False) -> Dataset:
    """Load the dataset a config names, with its image-path policy."""
    return load_dataset(
        dataset_root(cfg),
        allow_absolute_images=cfg.allow_absolute_images,
        require_purchases=require_purchases,
    )
