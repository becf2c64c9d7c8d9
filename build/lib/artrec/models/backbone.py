"""ImageNet backbones from timm: what to build (BackboneSpec), and the built feature extractor.

Preprocessing (input size, resize / crop, mean / std, interpolation) always comes from timm's
data config for the model, so configs never copy it by hand; only the square input size can
be overridden. Where the weights come from is decided in ``artrec.models.weights``.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Real

import timm
import torch
from torch import nn

from artrec.errors import ConfigError
from artrec.models.weights import LoadReport, create_model

log = logging.getLogger(__name__)

FEATURES = ("pooled", "pre_logits")
# Names that select a non-neural baseline, computed by the extraction code instead.
NON_NEURAL = {
    "color_histogram": "artrec.models.color_histogram (extraction routes it there)",
}
NON_NEURAL_KEYS = frozenset({"bins", "resize"})
# Config keys besides BackboneSpec's fields: the model the preset's metadata describes.
EXTRA_KEYS = frozenset({"preset_model"})
# Dimensions averaged by the ``pooled`` feature, by the layout of forward_features' output.
POOL_DIMS = {"NCHW": (2, 3), "NHWC": (1, 2), "NLC": (1,)}


@dataclass(frozen=True)
class BackboneSpec:
    """What backbone to build: a timm model name, its weights, and which layer embeds."""

    name: str
    pretrained: bool = True
    weights: str | None = None
    feature: str = "pooled"
    input_size: int | None = None
    imagenet_top1: float | None = None
    imagenet_top5: float | None = None
    preset: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.weights, os.PathLike):
            object.__setattr__(self, "weights", os.fspath(self.weights))
        for key, ok, want in _CHECKS:
            if not ok(getattr(self, key)):
                raise ConfigError(f"backbone.{key}={getattr(self, key)!r} is invalid: {want}.")

    @classmethod
    def from_config(cls, cfg: Mapping) -> BackboneSpec:
        """The spec from a ``conf/backbone/*.yaml`` node (a dict or an OmegaConf DictConfig).

        When ``name`` differs from the preset's ``preset_model`` (``backbone.name=`` was
        overridden), the preset's name and ImageNet accuracy no longer describe the model
        and are dropped.
        """
        name = cfg.get("name")
        allowed = {f.name for f in dataclasses.fields(cls)} | EXTRA_KEYS
        unknown = set(cfg) - allowed - (NON_NEURAL_KEYS if name in NON_NEURAL else set())
        if unknown:
            raise ConfigError(
                f"backbone config has unknown keys {sorted(unknown)}; known: {sorted(allowed)}."
            )
        values = {k: cfg[k] for k in allowed - EXTRA_KEYS if k in cfg}
        values["weights"] = values.get("weights") or None
        preset_model = cfg.get("preset_model")
        if preset_model and name != preset_model:
            log.info(
                "backbone.name=%s overrides preset %s (%s): its ImageNet metadata is dropped.",
                name,
                cfg.get("preset"),
                preset_model,
            )
            values.update(preset=None, imagenet_top1=None, imagenet_top5=None)
        return cls(**values)


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


def check_model_name(name: str) -> None:
    """ConfigError, with the closest valid names, unless timm knows ``name`` (and its tag)."""
    arch, _, tag = name.partition(".")
    if not timm.is_model(arch):
        close = difflib.get_close_matches(arch, timm.list_models(), n=5)
        raise ConfigError(
            f"backbone.name={name!r} is not a timm model. Closest timm names: "
            f"{close or 'none'}. Any name of timm.list_models() works, or a preset from "
            f"conf/backbone/ (e.g. backbone=resnet50)."
        )
    tags = timm.list_pretrained(f"{arch}.*")
    if tag and name not in tags:
        close = difflib.get_close_matches(name, tags, n=5) or tags[:5]
        raise ConfigError(
            f"backbone.name={name!r}: timm has no weights tagged {tag!r} for {arch!r}. "
            f"Closest: {close or 'none (this model has no pretrained weights)'}."
        )


def resolve_data_config(model: nn.Module, input_size: int | None = None) -> dict:
    """timm's data config for ``model``, with the square input size overridden when given."""
    config = dict(timm.data.resolve_model_data_config(model))
    if input_size is not None:
        config["input_size"] = (config["input_size"][0], input_size, input_size)
    return config


class Backbone(nn.Module):
    """A timm model returning embedding features, with its preprocessing and provenance."""

    def __init__(
        self,
        spec: BackboneSpec,
        model: nn.Module,
        weights_source: str,
        load_report: LoadReport | None = None,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.model = model
        self.weights_source = weights_source
        self.load_report = load_report
        self.data_config = resolve_data_config(model, spec.input_size)
        hidden = getattr(model, "head_hidden_size", None) or model.num_features
        self._own_pooling = hidden == model.num_features or spec.feature == "pre_logits"
        self._pool_dims = POOL_DIMS.get(getattr(model, "output_fmt", "NCHW"))
        if spec.feature == "pre_logits" and hidden == model.num_features:
            raise ConfigError(
                f"backbone.feature=pre_logits: {spec.name!r} has no hidden pre-logits layer "
                f"(its pre-logits features are its {hidden}-d pooled features); "
                f"use backbone.feature=pooled."
            )
        if not self._own_pooling and self._pool_dims is None:
            raise ConfigError(
                f"backbone.feature=pooled is not supported for {spec.name!r} (feature layout "
                f"{model.output_fmt}); use backbone.feature=pre_logits."
            )
        self.feature_dim = int(hidden if spec.feature == "pre_logits" else model.num_features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` preprocessed images -> ``[B, feature_dim]`` features.

        ``pre_logits`` and models without a hidden head use timm's own head up to the
        classifier; ``pooled`` on a model with a hidden head (VGG's fc6/fc7) averages the
        last feature map instead.
        """
        features = self.model.forward_features(images)
        if self._own_pooling:
            return self.model.forward_head(features, pre_logits=True)
        return features.mean(dim=self._pool_dims)

    def transform(self, training: bool = False) -> Callable:
        """timm's preprocessing for this model (PIL image -> normalised tensor)."""
        return timm.data.create_transform(**self.data_config, is_training=training)

    def meta(self) -> dict:
        """JSON-ready provenance, for the embeddings' meta."""
        config = self.data_config
        return {
            "name": self.spec.name,
            "preset": self.spec.preset,
            "feature": self.spec.feature,
            "feature_dim": self.feature_dim,
            "input_size": list(config["input_size"]),
            "weights_source": self.weights_source,
            "load_report": self.load_report.as_dict() if self.load_report else None,
            "imagenet_top1": self.spec.imagenet_top1,
            "imagenet_top5": self.spec.imagenet_top5,
            "preprocessing": {
                "interpolation": config["interpolation"],
                "mean": list(config["mean"]),
                "std": list(config["std"]),
                "crop_pct": config["crop_pct"],
                "crop_mode": config["crop_mode"],
            },
            "timm_version": timm.__version__,
        }


def _size_kwargs(spec: BackboneSpec) -> dict:
    """``img_size`` for models built for one input size (ViTs), so the override fits them."""
    if spec.input_size is None:
        return {}
    cfg = timm.models.get_pretrained_cfg(spec.name)
    return {"img_size": spec.input_size} if cfg is not None and cfg.fixed_input_size else {}


def build_backbone(spec: BackboneSpec, num_classes: int = 0) -> Backbone:
    """The timm model of ``spec`` with its weights, in eval mode.

    ``num_classes=0`` (the default) builds no classifier; forward() returns features either way.
    """
    if spec.name in NON_NEURAL:
        raise ConfigError(
            f"backbone.name={spec.name!r} is a non-neural baseline, not a timm network: it is "
            f"computed by {NON_NEURAL[spec.name]}, not by build_backbone."
        )
    check_model_name(spec.name)
    model, source, report = create_model(
        spec.name,
        pretrained=spec.pretrained,
        weights=spec.weights,
        num_classes=num_classes,
        **_size_kwargs(spec),
    )
    log.info("Backbone %s (%s), weights: %s", spec.name, spec.feature, source)
    return Backbone(spec, model, source, report).eval()
