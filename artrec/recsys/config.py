"""The protocol settings of docs/protocol.md (the ``protocol`` config group) and the paired
comparison's (``compare``), validated.

The dataclasses are the groups' schemas (registered by ``artrec.tasks.config_store``): the
defaults live here once. The allowed values come from the registries that implement them,
imported when a config is checked, so that ``--help`` imports no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from artrec.errors import ConfigError

DEVICES = ("cpu", "cuda")
SPLITS = ("none", "time")
#: The settings of ``split=time``; left out of metrics.json's ``protocol`` when
#: ``split=none``, so that such a run's files stay as they were before the split existed.
SPLIT_SETTINGS = ("split", "val_fraction", "test_fraction")
#: Share settings: numbers strictly between 0 and 1.
FRACTIONS = ("val_fraction", "test_fraction")
#: Integer setting -> its smallest allowed value.
MINIMUM: dict[str, int] = {"k": 1, "min_profile": 1, "topk": 1, "chunk_size": 1, "random_seed": 0}


def choices() -> dict[str, tuple[str, ...]]:
    """Setting -> its allowed values (from the registries that implement them)."""
    from artrec.embeddings import MISSING_POLICIES
    from artrec.recsys.aggregations import AGGREGATIONS
    from artrec.recsys.metrics import VARIANTS
    from artrec.recsys.protocol import GROUND_TRUTHS, UNIQUE_RULES

    return {
        "unique_items": tuple(UNIQUE_RULES),
        "aggregation": tuple(AGGREGATIONS),
        "ground_truth": GROUND_TRUTHS,
        "variant": tuple(VARIANTS),
        "missing_embeddings": MISSING_POLICIES,
        "device": DEVICES,
        "split": SPLITS,
    }


def __getattr__(name: str) -> Any:
    """``CHOICES``: :func:`choices`, computed on first use (PEP 562)."""
    if name == "CHOICES":
        return choices()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class ProtocolConfig:
    """Every protocol setting, with docs/protocol.md's defaults.

    ``chunk_size`` bounds the test cases and the profile items scored per chunk; memory
    grows like (3 + topk) * chunk_size * n_items * 4 bytes. ``random_seed`` seeds the
    sampled random ranking used for paired significance tests. ``split=time`` evaluates a
    validation and a test period (the last ``val_fraction`` + ``test_fraction`` of the test
    cases in time, docs/protocol.md), so that sweeps choose on validation.
    """

    k: int = 20
    min_profile: int = 1
    unique_items: str = "auto"
    exclude_consumed: bool = True
    aggregation: str = "max"
    topk: int = 3
    ground_truth: str = "next"
    variant: str = "standard"
    missing_embeddings: str = "error"
    device: str = "cpu"
    chunk_size: int = 512
    random_seed: int = 0
    split: str = "none"
    val_fraction: float = 0.2
    test_fraction: float = 0.2

    def __post_init__(self) -> None:
        for name, allowed in choices().items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"protocol.{name}={value!r}: use one of {list(allowed)}.")
        for name, smallest in MINIMUM.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
                raise ConfigError(f"protocol.{name}={value!r}: must be an integer >= {smallest}.")
        if not isinstance(self.exclude_consumed, bool):
            raise ConfigError(
                f"protocol.exclude_consumed={self.exclude_consumed!r}: must be true or false."
            )
        self._check_fractions()

    def _check_fractions(self) -> None:
        for name in FRACTIONS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
                raise ConfigError(f"protocol.{name}={value!r}: must be a number in (0, 1).")
        if self.val_fraction + self.test_fraction > 1:
            raise ConfigError(
                f"protocol.val_fraction={self.val_fraction} + protocol.test_fraction="
                f"{self.test_fraction} exceed 1: lower one of them."
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ProtocolConfig:
        """Build from a plain mapping (e.g. the Hydra ``protocol`` node); unknown keys raise
        :class:`ConfigError` listing the valid ones."""
        valid = [f.name for f in fields(cls)]
        unknown = [key for key in values if key not in valid]
        if unknown:
            raise ConfigError(f"unknown protocol setting(s) {unknown}; valid settings are {valid}.")
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """Every setting, as written to metrics.json (the split's only with ``split=time``)."""
        values = asdict(self)
        if self.split == "none":
            for name in SPLIT_SETTINGS:
                del values[name]
        return values


@dataclass
class CompareConfig:
    """The paired comparison of several systems on the same test cases (the ``compare``
    node; also the report's defaults): the significance level of the Holm-corrected
    Wilcoxon tests and of the ``1 - alpha`` bootstrap intervals, the number of paired
    bootstrap resamples, and their seed."""

    alpha: float = 0.05
    n_bootstrap: int = 1000
    seed: int = 0
