"""The bookkeeping every run shares: lock, reuse or refuse, move aside, record.

A run directory belongs to one task and one configuration. A run holds the directory's
lock for its whole life, records ``config.yaml`` and a ``run.json`` with the fingerprint
of its config and of every input it reads (``Task.inputs``), and:

- reuses a completed run of the same task, config and inputs (and says so);
- runs again when an input changed, after moving the old results to ``previous/<time>/``;
- continues an interrupted run of the same settings in place (train resumes from
  ``checkpoints/last.ckpt``);
- refuses another task or other settings, unless ``overwrite=true`` (old files moved aside).

Used by the Hydra entry scripts (``entry.run_task``) and by ``make demo`` alike.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from math import isfinite
from pathlib import Path
from typing import Any, Protocol

import yaml
from omegaconf import OmegaConf

from artrec.console import make_console
from artrec.errors import ArtrecError, RunDirError, preview
from artrec.faults import fault_point
from artrec.io import write_json_atomic, write_text_atomic
from artrec.rundir import (
    COMPLETED,
    CONFIG_FILE,
    FAILED,
    LAST_CHECKPOINT,
    PREVIOUS_DIR,
    RUN_FILE,
    RUNNING,
    RunLock,
    move_aside,
    now_iso,
    read_config,
    read_run,
)
from artrec.tasks.banner import key_choices
from artrec.tasks.fingerprint import changed_inputs, changed_settings, config_fingerprint
from artrec.tasks.quiet import quiet_libraries

log = logging.getLogger("artrec")
# Where Lightning finds a process's rank before a trainer exists, in its order of precedence
# (lightning_fabric.utilities.rank_zero, read here without importing Lightning: seconds),
# then the node, which Lightning reads only once a trainer is set up.
LIGHTNING_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")
RANK_VARIABLES = (*LIGHTNING_RANK_VARIABLES, "NODE_RANK")


class RunSettings(Protocol):
    """What the bookkeeping reads of a task's root config (TrainConfig, ExtractConfig and
    RecommendEvalConfig all have these keys; a resumable task's also has ``ckpt_path``)."""

    output_dir: str
    run_name: str | None
    group: str | None
    overwrite: bool


@dataclass(frozen=True)
class Task:
    """What ``run_job`` runs: a name (recorded as the directory's owner), the body, the
    fingerprints of the inputs it reads, whether it resumes from ``last.ckpt``, and the
    root config dataclass (``schema``) that ``run`` and ``inputs`` receive."""

    name: str
    run: Callable[[Any], Any]
    schema: type
    inputs: Callable[[Any], dict[str, str]] = field(default=lambda cfg: {})
    resumable: bool = False


@dataclass(frozen=True)
class JobInfo:
    """Where a Hydra job sits: its task overrides and, in a multirun, its sweep directory."""

    overrides: tuple[str, ...] = ()
    sweep_dir: Path | None = None
    output_dir: Path | None = None

    @property
    def multirun(self) -> bool:
        return self.sweep_dir is not None


@dataclass(frozen=True)
class Plan:
    """What to do with a run directory: ``fresh``, ``continue``, ``resume`` or ``reuse``;
    ``aside``: why the old files are moved aside first (None: they stay)."""

    action: str
    aside: str | None = None
    record: dict[str, Any] | None = None


def run_job(task: Task, cfg: dict[str, Any], *, job: JobInfo | None = None) -> Any:
    """Run ``task`` on ``cfg`` (the resolved config as a plain tree, which the directory
    records) in its output directory with the run-directory rules above. A failure is
    recorded in run.json, then re-raised. Returns the task's objective."""
    job = job or JobInfo()
    settings = typed(task, cfg)
    out = Path(settings.output_dir)
    cfg, settings = _with(cfg, settings, **labels(settings, out, job))
    if not is_writer():  # a non-zero DDP rank follows the run rank 0 set up
        if task.resumable:
            recorded = read_config(out) or {}
            ckpt_path = recorded.get("ckpt_path", settings.ckpt_path)
            cfg, settings = _with(cfg, settings, ckpt_path=ckpt_path)
        return task.run(settings)
    quiet_libraries()
    _say(key_choices(task.name, settings))
    with RunLock(out):
        inputs = task.inputs(settings)
        plan = plan_run(out, task, cfg, settings, inputs)
        if plan.action == "reuse":
            _say(f"reusing {out}: a completed {task.name} run of these settings and inputs.")
            return plan.record["objective"] if plan.record else None
        if plan.aside:
            moved = move_aside(out, keep=(f"{task.name}.log",))
            log.warning("%s: the earlier files of %s are now in %s", plan.aside, out, moved)
        if plan.action == "resume":
            _say(
                f"resuming from {LAST_CHECKPOINT}: {out} holds an interrupted run of these inputs."
            )
            cfg, settings = _with(cfg, settings, ckpt_path="last")
        return _record_and_run(task, cfg, settings, out, inputs, job)


def typed(task: Task, cfg: dict[str, Any]) -> Any:
    """``cfg`` as the task's schema object (``OmegaConf.to_object``), which the task reads;
    the plain tree is what the run directory records."""
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(task.schema), cfg))


def _with(cfg: dict[str, Any], settings: Any, **changes: Any) -> tuple[dict[str, Any], Any]:
    """Root keys set in both forms of the config: the recorded tree and the typed object."""
    return {**cfg, **changes}, replace(settings, **changes)


def _record_and_run(
    task: Task,
    cfg: dict[str, Any],
    settings: Any,
    out: Path,
    inputs: dict[str, str],
    job: JobInfo,
) -> Any:
    record = {
        "task": task.name,
        "config_fingerprint": config_fingerprint(cfg),
        "inputs": inputs,
        "run_name": settings.run_name,
        "group": settings.group,
        "overrides": list(job.overrides),
        "started": now_iso(),
    }
    clock = time.perf_counter()
    write_text_atomic(out / CONFIG_FILE, yaml.safe_dump(cfg, sort_keys=False))
    _write_run(out, record, RUNNING, None, clock, None)
    fault_point("run_started")
    try:
        result = task.run(settings)
    except Exception as exc:
        _write_run(out, record, FAILED, None, clock, describe(exc))
        raise
    _write_run(out, record, COMPLETED, _objective(result), clock, None)
    return result


def plan_run(
    out: Path, task: Task, cfg: dict[str, Any], settings: Any, inputs: dict[str, str]
) -> Plan:
    """Decide what to do with ``out`` (see the module's docstring); raise RunDirError when
    it belongs to another task or configuration and ``overwrite`` is not set. ``cfg`` is
    the tree to compare with the recorded one, ``settings`` the same config typed."""
    record, old_cfg = read_run(out), read_config(out)
    if record is None and old_cfg is None:
        foreign = _unrecorded_entries(out)
        if foreign and not settings.overwrite:
            raise RunDirError(
                f"{out} holds files that no artrec run recorded ({preview(foreign)}). "
                f"{_ways_out(out)}"
            )
        return Plan("fresh", aside="overwrite=true" if foreign else None)
    if settings.overwrite:
        return Plan("fresh", aside="overwrite=true")
    owner = (record or {}).get("task")
    if owner not in (None, task.name):
        raise RunDirError(
            f"{out} belongs to an earlier {owner} run{_describe(record)}. {_ways_out(out)}"
        )
    old_fingerprint = (record or {}).get("config_fingerprint") or config_fingerprint(old_cfg or {})
    if old_fingerprint != config_fingerprint(cfg):
        raise RunDirError(
            f"{out} belongs to an earlier {task.name} run with other settings"
            f"{changed_settings(old_cfg, cfg)}. "
            f"{_ways_out(out)}"
        )
    changed = changed_inputs((record or {}).get("inputs"), inputs)
    if changed:
        return Plan("fresh", aside=f"inputs changed since the last run ({changed})")
    if record is not None and record.get("status") == COMPLETED:
        return Plan("reuse", record=record)
    if task.resumable and not settings.ckpt_path and (out / LAST_CHECKPOINT).is_file():
        return Plan("resume")
    return Plan("continue")


def _unrecorded_entries(out: Path) -> list[str]:
    """Entries of ``out`` that are not artrec's bookkeeping, logs or hidden files."""
    if not out.is_dir():
        return []
    return sorted(
        p.name
        for p in out.iterdir()
        if not p.name.startswith(".") and p.name != PREVIOUS_DIR and p.suffix != ".log"
    )


def _ways_out(out: Path) -> str:
    return (
        "Write elsewhere (hydra.run.dir=DIR, or hydra.sweep.dir=DIR / group=NAME for a sweep), "
        f"or add overwrite=true to move its files to {out / PREVIOUS_DIR}/<time>/ first."
    )


def _describe(record: dict[str, Any] | None) -> str:
    if not record:
        return ""
    return f" ({record.get('status', '?')}, started {record.get('started', '?')})"


def labels(settings: RunSettings, out: Path, job: JobInfo) -> dict[str, Any]:
    """``run_name`` (default: the run directory's name, in a sweep the readable job name)
    and ``group`` (default: the sweep directory's name in a multirun, else None)."""
    sweep = job.sweep_dir.name if job.sweep_dir is not None else None
    return {"run_name": settings.run_name or out.name, "group": settings.group or sweep}


def describe(exc: BaseException) -> str:
    """A user error's own message; anything else with its type (it is a bug)."""
    return str(exc) if isinstance(exc, ArtrecError) else f"{type(exc).__name__}: {exc}"


def is_writer() -> bool:
    """True in the process that owns the run directory, global rank zero: Lightning's rank
    (the first of its variables that is set; none: zero) on node zero."""
    rank = next((os.environ[n] for n in LIGHTNING_RANK_VARIABLES if n in os.environ), "0")
    return int(rank) == 0 and int(os.environ.get("NODE_RANK", "0")) == 0


def _write_run(
    out: Path, record: dict[str, Any], status: str, objective: Any, clock: float, error: Any
) -> None:
    seconds = round(time.perf_counter() - clock, 3)
    payload = {"status": status, **record, "objective": objective}
    payload |= {"finished": None if status == RUNNING else now_iso()}
    payload |= {"seconds": seconds, "error": error}
    write_json_atomic(out / RUN_FILE, payload)


def _objective(result: Any) -> float | None:
    if isinstance(result, bool) or not isinstance(result, int | float):
        return None
    return float(result) if isfinite(result) else None


def _say(message: str) -> None:
    make_console().print(message, markup=False, highlight=False, soft_wrap=True)
