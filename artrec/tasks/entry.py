"""The one bridge between a Hydra entry script and a task's ``run(cfg)``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from artrec.errors import ArtrecError

log = logging.getLogger("artrec")


def run_task(task: Callable[[dict[str, Any]], Any], cfg: DictConfig) -> Any:
    """Resolve ``cfg`` (``${hydra:...}`` included) to plain values and run ``task``.

    A user error ends the run with its message and exit status 1, not a traceback.
    """
    try:
        plain = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        return task(plain)
    except MissingMandatoryValue as exc:
        log.error(
            "missing config value '%s': set it on the command line, e.g. %s=...",
            exc.full_key,
            exc.full_key,
        )
    except ArtrecError as exc:
        log.error("%s", exc)
    raise SystemExit(1)
