"""Lightning loggers from the ``logger`` config group (a registry, one builder per name)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytorch_lightning.loggers import CSVLogger, Logger

from artrec.errors import ConfigError


def _csv(cfg: dict[str, Any], out: Path, run_name: str) -> list[Logger]:
    return [CSVLogger(save_dir=out, name="logs", version="")]


def _wandb(cfg: dict[str, Any], out: Path, run_name: str) -> list[Logger]:
    from pytorch_lightning.loggers import WandbLogger

    return [
        WandbLogger(
            project=cfg.get("project") or "artrec",
            entity=cfg.get("entity"),
            name=run_name,
            save_dir=str(out),
        )
    ]


LOGGERS: dict[str, Callable[[dict[str, Any], Path, str], list[Logger]]] = {
    "csv": _csv,
    "wandb": _wandb,
    "none": lambda cfg, out, run_name: [],
}


def build_loggers(cfg: dict[str, Any], out: Path, run_name: str) -> list[Logger]:
    """The loggers ``cfg['name']`` selects, writing under the run directory ``out``."""
    name = cfg.get("name", "csv")
    if name not in LOGGERS:
        raise ConfigError(f"logger={name!r}: use one of {sorted(LOGGERS)}.")
    return LOGGERS[name](cfg, out, run_name)
