"""The bookkeeping every run shares: ``config.yaml`` first, ``run.json`` last, skip or resume.

A run directory holding a completed ``run.json`` made with the same settings (the same
fingerprint) is not run again, so re-running a sweep only runs what is missing; an
interrupted training run with the same settings resumes from ``checkpoints/last.ckpt``.
Used by the Hydra entry scripts (``entry.run_task``) and by ``make demo`` alike.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from math import isfinite
from pathlib import Path
from typing import Any

import yaml

from artrec.errors import ArtrecError, ConfigError, preview
from artrec.io import stable_hash, write_json_atomic, write_text_atomic
from artrec.reporting.console import make_console

CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"  # train.py's ModelCheckpoint(save_last)
# Config keys (dotted) that do not change a run's results: where it is written, how it is
# labelled, logged or shown, how resuming starts, and pure speed knobs (loader workers,
# inference batch sizes, cache locations). Everything else is part of the fingerprint.
FINGERPRINT_IGNORED = (
    "output_dir",
    "run_name",
    "group",
    "progress",
    "logger",
    "ckpt_path",
    "num_workers",
    "data.num_workers",
    "batch_size",
    "rec_eval.batch_size",
    "image_cache.dir",
    "dataset.cache_dir",
)
# What "skipping ..." says for each task.
SKIP_WORDS = {"train": "training", "extract": "extraction", "recommend_eval": "evaluation"}
_ABSENT = object()  # a key only one of two configs has
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")


@dataclass(frozen=True)
class JobInfo:
    """Where a Hydra job sits: its task overrides and, in a multirun, its sweep directory."""

    overrides: tuple[str, ...] = ()
    sweep_dir: Path | None = None
    output_dir: Path | None = None

    @property
    def multirun(self) -> bool:
        return self.sweep_dir is not None


def run_job(
    task: Callable[[dict[str, Any]], Any],
    cfg: dict[str, Any],
    *,
    job: JobInfo | None = None,
    reuse: bool = True,
) -> Any:
    """Run ``task(cfg)`` in ``cfg['output_dir']`` with the run-directory bookkeeping.

    With ``reuse``, a completed run with the same fingerprint is skipped (its objective is
    returned), one with another fingerprint is refused, and an interrupted training run
    resumes from its last checkpoint. A failure is recorded in run.json, then re-raised.
    """
    job = job or JobInfo()
    out = Path(cfg["output_dir"])
    cfg = {**cfg, **labels(cfg, out, job)}
    name = task_name(task)
    fingerprint = config_fingerprint(cfg)
    if reuse:
        done = completed_run(out, cfg, fingerprint)
        if done is not None:
            word = SKIP_WORDS.get(name, name)
            _say(f"skipping {word}: {out} is complete for these settings (run.json).")
            return done["objective"]
        cfg = resume_setting(out, cfg, fingerprint)
    started = now_iso()
    clock = time.perf_counter()
    if is_writer():
        write_text_atomic(out / CONFIG_FILE, yaml.safe_dump(cfg, sort_keys=False))
    record = {"task": name, "fingerprint": fingerprint, "run_name": cfg["run_name"]}
    record |= {"group": cfg["group"], "overrides": list(job.overrides), "started": started}
    try:
        result = task(cfg)
    except Exception as exc:
        _write_run(out, record, "failed", None, clock, describe(exc))
        raise
    _write_run(out, record, "completed", _objective(result), clock, None)
    return result


def labels(cfg: dict[str, Any], out: Path, job: JobInfo) -> dict[str, Any]:
    """``run_name`` (default: the run directory's name, in a sweep the readable job name)
    and ``group`` (default: the sweep directory's name in a multirun, else None)."""
    group = cfg.get("group") or (job.sweep_dir.name if job.sweep_dir is not None else None)
    return {"run_name": cfg.get("run_name") or out.name, "group": group}


def config_fingerprint(cfg: dict[str, Any]) -> str:
    """A hash of the resolved config without the keys in FINGERPRINT_IGNORED."""
    return stable_hash(_comparable(cfg))


def completed_run(out: Path, cfg: dict[str, Any], fingerprint: str) -> dict[str, Any] | None:
    """The completed run.json in ``out`` when it has these settings; refuse other settings."""
    record = read_run(out)
    if record is None or record.get("status") != "completed":
        return None
    if record.get("fingerprint") == fingerprint:
        return record
    raise ConfigError(
        f"{out} holds a completed run with other settings{_changes(out, cfg)}. To run these "
        "settings, write them elsewhere (hydra.run.dir=DIR, or hydra.sweep.dir=DIR / "
        f"group=NAME for a sweep), or delete {out} to replace that run."
    )


def resume_setting(out: Path, cfg: dict[str, Any], fingerprint: str) -> dict[str, Any]:
    """``cfg`` with ``ckpt_path=last`` when ``out`` holds an interrupted training run with
    the same settings; a checkpoint of other settings is refused rather than mixed in."""
    if "ckpt_path" not in cfg or cfg["ckpt_path"] or not (out / LAST_CHECKPOINT).is_file():
        return cfg
    old = read_config(out)
    if old is not None and config_fingerprint(old) == fingerprint:
        _say(f"resuming from {LAST_CHECKPOINT}: {out} holds an interrupted run of these settings.")
        return {**cfg, "ckpt_path": "last"}
    raise ConfigError(
        f"{out} holds an interrupted run with other settings{_changes(out, cfg)} and its "
        f"checkpoint {LAST_CHECKPOINT}. Continue it with these settings (ckpt_path=last), "
        f"write them elsewhere (hydra.run.dir=DIR), or delete {out}."
    )


def read_run(out: Path) -> dict[str, Any] | None:
    """``out``'s run.json, or None when there is none (or it cannot be read)."""
    try:
        return json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_config(out: Path) -> dict[str, Any] | None:
    """``out``'s config.yaml, or None when there is none (or it cannot be read)."""
    try:
        loaded = yaml.safe_load((out / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return loaded if isinstance(loaded, dict) else None


def task_name(task: Callable[..., Any]) -> str:
    """``artrec.tasks.train.run`` -> ``train``."""
    return task.__module__.rsplit(".", 1)[-1]


def describe(exc: BaseException) -> str:
    """A user error's own message; anything else with its type (it is a bug)."""
    return str(exc) if isinstance(exc, ArtrecError) else f"{type(exc).__name__}: {exc}"


def is_writer() -> bool:
    """True in the process that owns the run directory: not a non-zero DDP / SLURM rank."""
    return all(os.environ.get(name, "0") == "0" for name in RANK_VARIABLES)


def _write_run(
    out: Path, record: dict[str, Any], status: str, objective: Any, clock: float, error: Any
) -> None:
    if not is_writer():
        return
    seconds = round(time.perf_counter() - clock, 3)
    write_json_atomic(
        out / RUN_FILE,
        {
            "status": status,
            "task": record["task"],
            "objective": objective,
            "fingerprint": record["fingerprint"],
            "run_name": record["run_name"],
            "group": record["group"],
            "overrides": record["overrides"],
            "started": record["started"],
            "finished": now_iso(),
            "seconds": seconds,
            "error": error,
        },
    )


def _comparable(cfg: dict[str, Any]) -> dict[str, Any]:
    kept = copy.deepcopy(cfg)
    for dotted in FINGERPRINT_IGNORED:
        *parents, leaf = dotted.split(".")
        node: Any = kept
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return kept


def _changes(out: Path, cfg: dict[str, Any]) -> str:
    """`` (changed: ['a.b', 'c'])`` against the directory's config.yaml."""
    old = read_config(out)
    if old is None:
        return f" (its {CONFIG_FILE} is missing or unreadable)"
    old_flat, new_flat = _flatten(_comparable(old)), _flatten(_comparable(cfg))
    keys = old_flat.keys() | new_flat.keys()
    changed = sorted(k for k in keys if old_flat.get(k, _ABSENT) != new_flat.get(k, _ABSENT))
    return f" (changed: {preview(changed)})" if changed else ""


def _flatten(node: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _objective(result: Any) -> float | None:
    if isinstance(result, bool) or not isinstance(result, int | float):
        return None
    return float(result) if isfinite(result) else None


def _say(message: str) -> None:
    make_console().print(message, markup=False, highlight=False)


def now_iso() -> str:
    """The time now, UTC, ISO 8601 to the second (run.json's timestamps)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
