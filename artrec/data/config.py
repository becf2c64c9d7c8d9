"""The data settings as typed dataclasses: which dataset (``DatasetConfig``, the ``dataset``
group) and how training reads it (``DataConfig``, the ``data`` node). Registered with Hydra
by ``artrec.tasks.config_store``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

#: A value the config must set (what OmegaConf calls MISSING; this module imports no Hydra).
REQUIRED = "???"


@dataclass
class DatasetConfig:
    """A dataset in the canonical layout (docs/data.md). ``root`` null: generated (the demo
    gallery: into ``cache_dir``, at ``scale`` default | ugallery, with ``seed`` and
    ``image_size``); ``allow_absolute_images``: accept absolute image paths outside root;
    ``image_errors``: skip | fail, what an unreadable image does."""

    name: str = REQUIRED
    root: str | None = REQUIRED
    allow_absolute_images: bool = False
    image_errors: str = "skip"
    cache_dir: str | None = None
    scale: str = "default"
    seed: int = 0
    image_size: int = 128

    @classmethod
    def recorded(cls, values: Mapping[str, Any]) -> DatasetConfig:
        """From a run's config.yaml, whatever artrec version wrote it: the keys this version
        knows (older files carry settings that moved elsewhere, e.g. ``lr``)."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


@dataclass
class DataConfig:
    """How training reads the dataset: images per training (and validation) step, loader
    workers, the image cache (each image decoded and resized once into
    $ARTREC_CACHE/images), and the split used when items.csv has no split column."""

    train_batch_size: int = 32
    num_workers: int = 2
    image_cache: bool = True  # decode + resize each image once (docs/data.md)
    split: list[float] = field(default_factory=lambda: [0.7, 0.2, 0.1])
    split_seed: int = 0
