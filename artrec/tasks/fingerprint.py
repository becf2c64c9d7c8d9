"""What makes two runs the same run: a config's fingerprint and the settings two configs
differ in.

The fingerprint is a hash of the resolved config (the plain tree every run directory
records in ``config.yaml``) without the keys in ``FINGERPRINT_IGNORED``: those do not
change a run's results. It is computed on the recorded tree, not a task's schema object,
so a directory written by any script (or an older artrec) compares the same way.
"""

from __future__ import annotations

import copy
from typing import Any

from artrec.errors import preview
from artrec.io import stable_hash
from artrec.rundir import CONFIG_FILE

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
    "overwrite",
    "num_workers",
    "data.num_workers",
    "embed_batch_size",
    "rec_eval.embed_batch_size",
    "image_cache",
    "dataset.cache_dir",
)
_ABSENT = object()  # a key only one of two configs has


def config_fingerprint(cfg: dict[str, Any]) -> str:
    """A hash of the resolved config without the keys in FINGERPRINT_IGNORED."""
    return stable_hash(comparable(cfg))


def comparable(cfg: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``cfg`` without the keys in FINGERPRINT_IGNORED."""
    kept = copy.deepcopy(cfg)
    for dotted in FINGERPRINT_IGNORED:
        *parents, leaf = dotted.split(".")
        node: Any = kept
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return kept


def changed_settings(old_cfg: dict[str, Any] | None, cfg: dict[str, Any]) -> str:
    """`` (changed: ['a.b', 'c'])``: the settings ``cfg`` changes against a directory's
    recorded config (None: it has none)."""
    if old_cfg is None:
        return f" (its {CONFIG_FILE} is missing or unreadable)"
    old_flat, new_flat = _flatten(comparable(old_cfg)), _flatten(comparable(cfg))
    keys = old_flat.keys() | new_flat.keys()
    changed = sorted(k for k in keys if old_flat.get(k, _ABSENT) != new_flat.get(k, _ABSENT))
    return f" (changed: {preview(changed)})" if changed else ""


def changed_inputs(old: dict[str, str] | None, new: dict[str, str]) -> str:
    """Which inputs differ between two runs' fingerprints ("" when none)."""
    if old is None:
        return "the earlier run did not record its inputs"
    names = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    return ", ".join(names)


def _flatten(node: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat
