"""Tuning modes: which layers learn (the paper's frozen / shallow / deep fine-tuning). Their
names are the ``Tuning`` enum (artrec.models.config, train.py's ``tuning`` key).

- ``frozen``: nothing learns; the backbone's pooled features are the embedding
  (``extract.py``, the paper's Table 1).
- ``shallow``: the backbone is frozen, only the shared layer and the heads learn. The
  backbone also stays in eval mode, so its batch-norm statistics never move, and its
  features can be computed once and cached.
- ``deep``: every layer learns, batch-norm statistics included.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from torch import nn

from artrec.errors import ConfigError
from artrec.models.config import Tuning


@dataclass(frozen=True)
class TuningMode:
    """Which parts of the model learn."""

    name: Tuning
    train_backbone: bool
    train_head: bool

    @property
    def trains(self) -> bool:
        """True when some parameter learns."""
        return self.train_backbone or self.train_head

    @property
    def feature_cache(self) -> bool:
        """True when only layers after a fixed backbone learn: its features can be cached."""
        return self.train_head and not self.train_backbone


TUNING_MODES: dict[Tuning, TuningMode] = {
    Tuning.frozen: TuningMode(Tuning.frozen, train_backbone=False, train_head=False),
    Tuning.shallow: TuningMode(Tuning.shallow, train_backbone=False, train_head=True),
    Tuning.deep: TuningMode(Tuning.deep, train_backbone=True, train_head=True),
}


def get_tuning_mode(name: str) -> TuningMode:
    """The mode called ``name`` (a ``Tuning`` or its value); ConfigError listing the modes
    otherwise."""
    try:
        return TUNING_MODES[Tuning(name)]
    except ValueError:
        names = sorted(mode.value for mode in Tuning)
        raise ConfigError(f"tuning mode {name!r} is unknown; use one of {names}.") from None


def require_trainable(name: str) -> TuningMode:
    """The mode called ``name`` if it trains anything; ConfigError pointing to extract.py if not."""
    mode = get_tuning_mode(name)
    if not mode.trains:
        raise ConfigError(
            f"tuning={name} trains nothing: the frozen backbone's pooled features are the "
            f"embedding. Compute and evaluate them with `python extract.py backbone=...`, or "
            f"train with tuning=shallow or tuning=deep."
        )
    return mode


def uses_feature_cache(mode: str) -> bool:
    """True for modes whose backbone never changes (shallow): compute its features once."""
    return get_tuning_mode(mode).feature_cache


def apply_tuning(mode: TuningMode, backbone: nn.Module, head: Iterable[nn.Module]) -> None:
    """Set ``requires_grad`` on the backbone and the layers after it, and the backbone's mode."""
    backbone.requires_grad_(mode.train_backbone)
    for module in head:
        module.requires_grad_(mode.train_head)
    settle_backbone(mode, backbone)


def settle_backbone(mode: TuningMode, backbone: nn.Module) -> None:
    """Keep a frozen backbone in eval mode (after any ``.train()``): batch norm stays fixed."""
    if not mode.train_backbone:
        backbone.eval()
