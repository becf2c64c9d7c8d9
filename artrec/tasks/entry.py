"""The one bridge between a Hydra entry script and a task's ``run(cfg)``.

Each entry script calls :func:`register_resolvers` (the sweep directory names that
``conf/hydra/`` uses) before Hydra composes, then ``run_task``. It imports no torch,
Lightning, timm or W&B: ``--help``, ``--cfg job`` and tab completion never load them; a
task's module is imported when the task runs.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from artrec.errors import ArtrecError, ConfigError, RunDirError
from artrec.rundir import ensure_writable
from artrec.tasks import sweeps
from artrec.tasks.configs import ExtractConfig, TrainConfig, TrainerConfig
from artrec.tasks.jobs import JobInfo, Task, describe, run_job, typed
from artrec.tasks.sweeps import register_resolvers

__all__ = ["plain_config", "register_resolvers", "run_task"]

log = logging.getLogger("artrec")
SPAWNING_STRATEGIES = frozenset({"ddp_spawn", "ddp_fork", "ddp_notebook"})


def run_task(task: Task | str, cfg: DictConfig) -> Any:
    """Resolve ``cfg`` (``${hydra:...}`` included) to plain values and run ``task`` (or the
    ``TASK`` of ``artrec.tasks.<task>``, imported now) as a job.

    A single run ends a user error with its message and exit status 1, not a traceback.
    In a multirun a failing job is logged and recorded, and the sweep goes on (SystemExit
    would end it): the summary at its end (``sweeps.SweepSummary``) sets the exit status.
    """
    job = job_info()
    if isinstance(task, str):
        task = importlib.import_module(f"artrec.tasks.{task}").TASK
    try:
        result = _run(task, cfg, job)
    except RunDirError as exc:  # not logged: the job's log file would land in that directory
        message = str(exc)
        print(f"Error: {message}", file=sys.stderr)
    except (MissingMandatoryValue, ArtrecError) as exc:
        message = _missing(exc) if isinstance(exc, MissingMandatoryValue) else str(exc)
        log.error("%s", message)
    except Exception as exc:
        if not job.multirun:
            raise
        log.exception("job %s failed", job.output_dir)
        message = describe(exc)
    else:
        if job.multirun:
            sweeps.clear_failure(job)
        return result
    if not job.multirun:
        raise SystemExit(1)
    sweeps.record_failure(job, message)
    return None


def plain_config(cfg: DictConfig) -> dict[str, Any]:
    """``cfg`` resolved to plain values, enums as their text (``tuning: deep``): what a run
    directory's config.yaml records and the tasks' schemas read back."""
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True, enum_to_str=True)


def _run(task: Task, cfg: DictConfig, job: JobInfo) -> Any:
    plain = plain_config(cfg)
    if job.multirun:
        match typed(task, plain):
            case TrainConfig(trainer=trainer) | ExtractConfig(trainer=trainer):
                refuse_local_ddp(trainer)
    return run_job(task, plain, job=job)


def _missing(exc: MissingMandatoryValue) -> str:
    return (
        f"missing config value '{exc.full_key}': set it on the command line, "
        f"e.g. {exc.full_key}=..."
    )


def refuse_local_ddp(trainer: TrainerConfig) -> None:
    """Lightning starts local DDP ranks by re-running the command line, which in a multirun
    would start the whole sweep again in every rank: only SLURM (or spawn) may start them."""
    strategy = trainer.strategy
    relaunches = strategy.startswith("ddp") and strategy not in SPAWNING_STRATEGIES
    several = trainer.devices not in (1, "1", [0]) or trainer.num_nodes != 1
    if relaunches and several and "SLURM_NTASKS" not in os.environ:
        raise ConfigError(
            f"trainer.strategy={strategy} on several devices cannot run inside a sweep (-m): "
            "use one device per job (trainer=gpu), the SLURM launcher (hydra/launcher=slurm "
            "trainer=slurm), trainer.strategy=ddp_spawn, or a single run without -m."
        )


def job_info() -> JobInfo:
    """The running Hydra job: its task overrides, output directory and, in a multirun, its
    sweep directory."""
    hydra_cfg = HydraConfig.get()
    overrides = tuple(str(o) for o in hydra_cfg.overrides.task)
    output_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    sweep_dir = Path(hydra_cfg.sweep.dir) if multirun else None
    return JobInfo(overrides, sweep_dir=sweep_dir, output_dir=output_dir)


class OutputCheck(Callback):
    """Before Hydra creates the run (or sweep) directory: one line, exit status 1, when it
    cannot be written (under a file, read-only), instead of a traceback from deep inside."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check_writable(Path(str(config.hydra.run.dir)))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check_writable(Path(str(config.hydra.sweep.dir)))


def _check_writable(out: Path) -> None:
    try:
        ensure_writable(out)
    except ArtrecError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
