"""The model's settings as typed dataclasses: the backbone (``BackboneSpec``), the training
tasks, the shared layer, the tuning mode (an enum), the optimiser and the augmentation.

They are the schemas of the ``backbone``, ``tasks``, ``model``, ``optim`` and ``augment``
config groups and of train.py's ``tuning`` key (registered by ``artrec.tasks.config_store``):
the defaults and types live here, the YAML files only choose and override. This module
imports neither torch nor timm, so ``--help`` stays fast.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from numbers import Real

from artrec.data.config import REQUIRED
from artrec.errors import ConfigError

log = logging.getLogger(__name__)

FEATURES = ("pooled", "pre_logits")
COLOR_HISTOGRAM = "color_histogram"  # the non-neural baseline's name (extraction computes it)


@dataclass
class BackboneSpec:
    """What backbone to build: a timm model name, its weights, and which layer embeds.

    ``preset`` / ``preset_model``: the preset's name and the model its ImageNet metadata
    (``imagenet_top1/5``, percent) describes; a ``name`` other than ``preset_model``
    (``backbone.name=<any timm name>``) drops that metadata. ``weights``: a timm-format
    .safetensors / .pth state dict, winning over ``pretrained``. ``feature``: pooled (global
    average of the last conv map) | pre_logits (a hidden layer before the classifier, e.g.
    VGG's fc7). ``input_size``: a square side overriding timm's (null: the model's own).
    ``bins`` / ``resize``: the colour-histogram baseline's cells per channel and image side.
    """

    name: str = REQUIRED
    pretrained: bool = True
    weights: str | None = None
    feature: str = "pooled"
    input_size: int | None = None
    imagenet_top1: float | None = None
    imagenet_top5: float | None = None
    preset: str | None = None
    preset_model: str | None = None
    bins: int | None = None
    resize: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.weights, os.PathLike):
            self.weights = os.fspath(self.weights)
        self.weights = self.weights or None
        for key, ok, want in _CHECKS:
            if not ok(getattr(self, key)):
                raise ConfigError(f"backbone.{key}={getattr(self, key)!r} is invalid: {want}.")
        if self.name != COLOR_HISTOGRAM and (self.bins, self.resize) != (None, None):
            raise ConfigError(
                f"backbone.bins / backbone.resize are the colour histogram's settings, not "
                f"{self.name!r}'s: use backbone=color_histogram or drop them."
            )
        if self.preset_model and self.name != self.preset_model:
            log.info(
                "backbone.name=%s overrides preset %s (%s): its ImageNet metadata is dropped.",
                self.name,
                self.preset,
                self.preset_model,
            )
            self.preset = self.preset_model = self.imagenet_top1 = self.imagenet_top5 = None

    @classmethod
    def from_config(cls, cfg: Mapping) -> BackboneSpec:
        """The spec from a plain mapping (a checkpoint's hyperparameters); unknown keys raise."""
        allowed = {f.name for f in fields(cls)}
        unknown = set(cfg) - allowed
        if unknown:
            raise ConfigError(
                f"backbone config has unknown keys {sorted(unknown)}; known: {sorted(allowed)}."
            )
        return cls(**dict(cfg))

    @property
    def label(self) -> str:
        """The preset's name, else the timm name."""
        return str(self.preset or self.name)


def _optional(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: value is None or check(value)


def _is_accuracy(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and 0 <= value <= 100


_CHECKS = (
    ("name", lambda v: isinstance(v, str) and bool(v), "a timm model name is required"),
    ("pretrained", lambda v: isinstance(v, bool), "use true or false"),
    ("weights", _optional(lambda v: isinstance(v, str)), "use a file path or null"),
    ("feature", lambda v: v in FEATURES, f"use one of {list(FEATURES)}"),
    (
        "input_size",
        _optional(lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 8),
        "use a square side in pixels (>= 8) or null for the model's own",
    ),
    ("imagenet_top1", _optional(_is_accuracy), "use a percentage or null"),
    ("imagenet_top5", _optional(_is_accuracy), "use a percentage or null"),
    ("preset", _optional(lambda v: isinstance(v, str)), "use a preset name or null"),
)


@dataclass
class TaskConfig:
    """One training task (``tasks.<name>``): the items.csv label ``column`` (null: the task's
    name), its ``kind`` (classification | regression) and its loss weight."""

    kind: str = REQUIRED
    column: str | None = None
    weight: float = 1.0


@dataclass
class ModelConfig:
    """The shared layer on top of the backbone (the item embedding). ``init_from``: another
    run's checkpoint whose backbone and shared layer the model starts from."""

    shared_dim: int = 1024
    activation: str = "relu"
    dropout: float = 0.2
    init_from: str | None = None


class Tuning(StrEnum):
    """Which layers learn (train.py's ``tuning`` key): deep (all; the paper's best) | shallow
    (the shared layer and heads, on cached backbone features) | frozen (none; train.py
    refuses it, extract.py computes such embeddings). artrec.models.tuning says what each
    trains."""

    frozen = "frozen"
    shallow = "shallow"
    deep = "deep"


@dataclass
class OptimConfig:
    """Adam's learning rate (the paper's: 1e-3 on OmniArt, 1e-4 on UGallery; conf/training/)
    and weight decay."""

    lr: float = 1.0e-4
    weight_decay: float = 0.0


@dataclass
class AugmentConfig:
    """Deep tuning's training transform: none | light | imagenet. ``scale`` (the area kept),
    ``ratio`` (the crop's aspect ratio) and ``hflip`` (a flip's probability) are light's."""

    name: str = "light"
    scale: list[float] = field(default_factory=lambda: [0.7, 1.0])
    ratio: list[float] = field(default_factory=lambda: [0.9, 1.111])
    hflip: float = 0.5
