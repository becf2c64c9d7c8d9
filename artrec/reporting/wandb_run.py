"""Weights & Biases runs for train.py and extract.py (``logger=wandb``).

One W&B run per task run: named, grouped and tagged from the config, with the whole
resolved config as the run config and its files under the run directory. It never
prompts: without an API key (and no ``WANDB_MODE``) it logs offline, to upload later with
``wandb sync``. After the task, the run directory's results go to the run (``rec/*`` in the
summary, per-case and comparison tables, recommendation galleries), and the run always
finishes, with exit code 1 after a failure, so the next job of a sweep gets a fresh run.
"""

from __future__ import annotations

import json
import logging
import netrc
import os
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd
import wandb
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from artrec.data.dataset import Dataset
from artrec.embeddings import EmbeddingTable
from artrec.errors import ConfigError
from artrec.models.config import BackboneSpec
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.periods import flat_metrics
from artrec.reporting.config import LoggerConfig
from artrec.reporting.galleries import render_galleries
from artrec.rundir import (
    METRICS_FILE,
    PER_CASE_FILE,
    REC_BY_USER,
    REC_FINAL,
    REC_RANDOM,
    REC_START,
    START_DIR,
)

log = logging.getLogger("artrec")
DEFAULT_HOST = "https://api.wandb.ai"
MAX_TAG_LENGTH = 64  # W&B refuses longer tags


def has_api_key() -> bool:
    """Whether W&B can log in without asking: ``WANDB_API_KEY`` (or an identity token file),
    or a netrc entry for its host (``wandb login`` writes ``~/.netrc``; ``NETRC`` names
    another file)."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL") or DEFAULT_HOST).hostname
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    try:
        return path.is_file() and netrc.netrc(path).authenticators(host) is not None
    except (netrc.NetrcParseError, OSError):
        return False


def resolve_mode(configured: str | None, out: Path) -> str | None:
    """``logger.mode`` if set; else None when ``WANDB_MODE`` is set (wandb reads it); else
    online with an API key, offline without one (said once, with how to upload later).
    Online mode without a key is refused here, where wandb would ask for one."""
    chosen = configured or os.environ.get("WANDB_MODE")
    if chosen == "online" and not has_api_key():
        raise ConfigError(
            "logger=wandb online needs an API key: run `wandb login` (or set WANDB_API_KEY), "
            "or log offline with WANDB_MODE=offline and upload later with `wandb sync`."
        )
    if chosen:
        return configured
    if has_api_key():
        return "online"
    if rank_zero_only.rank == 0:
        log.warning(
            "No W&B API key (WANDB_API_KEY or `wandb login`): logging offline to %s; "
            "upload later with `wandb sync %s`.",
            out / "wandb",
            out / "wandb" / "offline-run-*",
        )
    return "offline"


@dataclass(frozen=True)
class RunIdentity:
    """How a run is named, grouped and tagged on W&B (the dashboard's filters): its
    ``tuning`` (frozen | shallow | deep | checkpoint), ``backbone`` (None for a checkpoint's
    embedding: the checkpoint, not the config, holds it), tasks and ``logger.tags``."""

    name: str
    group: str | None
    dataset: str
    tuning: str
    backbone: BackboneSpec | None = None
    tasks: tuple[str, ...] = ()
    extra_tags: tuple[str, ...] = ()

    @property
    def tags(self) -> list[str]:
        """``backbone:``, ``tuning:``, ``task:`` (one per task), ``dataset:``, then the
        extra tags, each cut to W&B's length."""
        tags = [f"backbone:{self.backbone.label}"] if self.backbone is not None else []
        tags += [f"tuning:{self.tuning}", *(f"task:{name}" for name in self.tasks)]
        tags += [f"dataset:{self.dataset}", *self.extra_tags]
        return [str(tag)[:MAX_TAG_LENGTH] for tag in tags]


def wandb_logger(
    settings: LoggerConfig,
    identity: RunIdentity,
    *,
    out: Path,
    task: str,
    seed: int,
    config: dict[str, Any],
) -> ArtrecWandbLogger:
    """The run's W&B logger, its run started now (on rank zero) so that a failure before
    training is recorded too, and ``ddp_spawn`` workers attach to this run. ``config``:
    the whole resolved config, which W&B records as the run's config."""
    logger = ArtrecWandbLogger(
        galleries=settings.galleries,
        seed=seed,
        name=identity.name,
        save_dir=str(out),
        project=settings.project or "artrec",
        entity=settings.entity,
        group=identity.group,
        job_type=task,
        tags=identity.tags,
        config=config,
        mode=resolve_mode(settings.mode, out),
        # quiet: no run history, summary or sync hints printed (they are in the run's files)
        settings=wandb.Settings(console=settings.console, quiet=True),
    )
    try:
        _ = logger.experiment
    except wandb.Error as exc:
        raise ConfigError(
            f"logger=wandb: W&B could not start a run ({exc}). Check `wandb login`, or log "
            "offline with WANDB_MODE=offline (or logger.mode=offline) and `wandb sync` later."
        ) from exc
    return logger


class ArtrecWandbLogger(WandbLogger):
    """Lightning's W&B logger that keeps the resolved config at the top of the run config
    (the module's hyperparameters, which Lightning logs at fit start, go under ``module``),
    logs a run directory's results, and finishes its run."""

    def __init__(self, *, galleries: int = 4, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._wandb_init.pop("anonymous", None)  # wandb >= 0.19 warns about it on every run
        self.galleries, self.seed = galleries, seed

    def log_hyperparams(self, params: dict[str, Any] | Namespace) -> None:
        params = vars(params) if isinstance(params, Namespace) else dict(params)
        super().log_hyperparams({"module": params})

    @rank_zero_only
    def log_results(
        self, out: Path, dataset: Dataset, table: EmbeddingTable, protocol: ProtocolConfig
    ) -> None:
        """``out``'s metrics.json (and train's start/) as summary values, per_case.csv and
        the comparison as tables, and a few recommendation galleries as images."""
        final = _read_json(out / METRICS_FILE)
        start = _read_json(out / START_DIR / METRICS_FILE)
        columns, rows = comparison_rows(final, start)
        media: dict[str, Any] = {
            "tables/per_case": wandb.Table(dataframe=_read_per_case(out / PER_CASE_FILE)),
            "tables/comparison": wandb.Table(columns=columns, data=rows),
        }
        if start is not None:
            per_case = _read_per_case(out / START_DIR / PER_CASE_FILE)
            media["tables/per_case_start"] = wandb.Table(dataframe=per_case)
        if self.galleries:
            media.update(self._gallery_images(dataset, table, protocol))
        self.experiment.log(media)
        self.experiment.summary.update(summary_values(final, start))

    def _gallery_images(
        self, dataset: Dataset, table: EmbeddingTable, protocol: ProtocolConfig
    ) -> dict[str, wandb.Image]:
        """``galleries/<n>``: a key per gallery, as their sizes differ."""
        pictures = render_galleries(
            dataset, table, protocol, n_cases=self.galleries, seed=self.seed
        )
        return {
            f"galleries/{n}": wandb.Image(picture, caption=caption)
            for n, (caption, picture) in enumerate(pictures, 1)
        }

    def finish_run(self, failed: bool) -> None:
        """Finish the run (exit code 1 after a failure); the next logger starts a new one."""
        if self._experiment is not None:
            self._experiment.finish(exit_code=int(failed))
            self._experiment = None


def comparison_rows(
    final: dict[str, Any], start: dict[str, Any] | None
) -> tuple[list[str], list[list[Any]]]:
    """metric / before / after / Random (train), or metric / value / Random (extract); with
    ``split=time`` a row per period and metric (``val/recall@20``, ``test/recall@20``)."""
    metrics, random = flat_metrics(final), flat_metrics(final, "random")
    if start is None:
        return ["metric", "value", "random"], [[m, v, random[m]] for m, v in metrics.items()]
    before = flat_metrics(start)
    rows = [[m, before.get(m), v, random[m]] for m, v in metrics.items()]
    return ["metric", "before", "after", "random"], rows


def summary_values(final: dict[str, Any], start: dict[str, Any] | None) -> dict[str, Any]:
    """``rec/*`` (means over test cases), ``rec_by_user/*``, ``rec_random/*``, train's
    ``rec_start/*`` and the ``protocol/*`` counts; undefined (null) averages are left out.
    With ``split=time`` each has a ``val/`` and a ``test/`` key per metric."""
    values = {
        **{f"{REC_FINAL}/{m}": v for m, v in flat_metrics(final).items()},
        **{f"{REC_BY_USER}/{m}": v for m, v in flat_metrics(final, "metrics_by_user").items()},
        **{f"{REC_RANDOM}/{m}": v for m, v in flat_metrics(final, "random").items()},
        **{f"{REC_START}/{m}": v for m, v in (flat_metrics(start) if start else {}).items()},
        **{f"protocol/{key}": final[key] for key in ("n_test_cases", "n_users", "n_skipped")},
    }
    return {key: value for key, value in values.items() if value is not None}


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _read_per_case(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"user_id": str, "time": str})
