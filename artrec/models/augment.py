"""Training-time image augmentation (the ``augment`` config group), built from timm.

Every transform starts from the backbone's timm data config (input size, interpolation,
mean / std, crop), so no preprocessing constant is copied by hand. ``none`` is the
evaluation transform; ``light`` keeps the palette and most of the picture, since artists are
recognised by both; ``imagenet`` is timm's ImageNet training transform (crops down to 8% of
the picture, colour jitter 0.4). Shallow tuning trains on cached, unaugmented features and
uses none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import timm

from artrec.errors import ConfigError
from artrec.models.config import AugmentConfig

Transform = Callable  # PIL image -> normalised tensor


def _none(data_config: Mapping, cfg: AugmentConfig) -> Transform:
    return timm.data.create_transform(**data_config, is_training=False)


def _light(data_config: Mapping, cfg: AugmentConfig) -> Transform:
    scale = cfg.scale
    if len(scale) != 2 or not 0 < scale[0] <= scale[1] <= 1:
        raise ConfigError(f"augment.scale={list(scale)} must be two fractions 0 < lo <= hi <= 1.")
    return timm.data.create_transform(
        **data_config,
        is_training=True,
        scale=tuple(scale),
        ratio=tuple(cfg.ratio),
        hflip=float(cfg.hflip),
        color_jitter=None,
    )


def _imagenet(data_config: Mapping, cfg: AugmentConfig) -> Transform:
    return timm.data.create_transform(**data_config, is_training=True)


AUGMENTATIONS: dict[str, Callable[..., Transform]] = {
    "none": _none,
    "light": _light,
    "imagenet": _imagenet,
}


def build_augmentation(cfg: AugmentConfig, data_config: Mapping) -> Transform:
    """The training transform ``cfg`` (the ``augment`` group) names, for a backbone with
    timm data config ``data_config``."""
    if cfg.name not in AUGMENTATIONS:
        raise ConfigError(
            f"augment.name={cfg.name!r} is unknown; use one of {list(AUGMENTATIONS)}."
        )
    return AUGMENTATIONS[cfg.name](data_config, cfg)
