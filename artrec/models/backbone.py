"""ImageNet backbones from timm: what to build (BackboneSpec), and the built feature extractor.

Preprocessing (input size, resize / crop, mean / std, interpolation) always comes from timm's
data config for the model, so configs never copy it by hand; only the square input size can
be overridden. Where the weights come from is decided in ``artrec.models.weights``.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable

import timm
import torch
from torch import nn

from artrec.errors import ConfigError
from artrec.models.config import BackboneSpec
from artrec.models.weights import LoadReport, create_model

log = logging.getLogger(__name__)

# Names that select a non-neural baseline, computed by the extraction code instead.
NON_NEURAL = {
    "color_histogram": "artrec.models.color_histogram (extraction routes it there)",
}
# Dimensions averaged by the ``pooled`` feature, by the layout of forward_features' output.
POOL_DIMS = {"NCHW": (2, 3), "NHWC": (1, 2), "NLC": (1,)}


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
    data_config = dict(timm.data.resolve_model_data_config(model))
    if input_size is not None:
        data_config["input_size"] = (data_config["input_size"][0], input_size, input_size)
    return data_config


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
        data_config = self.data_config
        return {
            "name": self.spec.name,
            "preset": self.spec.preset,
            "feature": self.spec.feature,
            "feature_dim": self.feature_dim,
            "input_size": list(data_config["input_size"]),
            "weights_source": self.weights_source,
            "load_report": self.load_report.as_dict() if self.load_report else None,
            "imagenet_top1": self.spec.imagenet_top1,
            "imagenet_top5": self.spec.imagenet_top5,
            "preprocessing": {
                "interpolation": data_config["interpolation"],
                "mean": list(data_config["mean"]),
                "std": list(data_config["std"]),
                "crop_pct": data_config["crop_pct"],
                "crop_mode": data_config["crop_mode"],
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
