"""The ``logger`` group's schema: where a run's metrics go, and its W&B settings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LoggerConfig:
    """Where metrics go: csv (logs/metrics.csv) | wandb | none. The other keys are W&B's:
    project, entity, mode (online | offline | disabled; null: WANDB_MODE, else online with
    a key, else offline), extra tags, recommendation galleries logged as images (0: none),
    and W&B's copy of the terminal output (off | wrap | redirect)."""

    name: str = "csv"
    project: str = "${oc.env:WANDB_PROJECT,artrec}"
    entity: str | None = "${oc.env:WANDB_ENTITY,null}"
    mode: str | None = None
    tags: list[str] = field(default_factory=list)
    galleries: int = 4
    console: str = "off"
