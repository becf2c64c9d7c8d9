"""The short block every run prints first: the resolved config's key choices."""

from __future__ import annotations

from typing import Any

from artrec.rundir import recorded_tuning


def key_choices(task: str, cfg: dict[str, Any]) -> str:
    """``task`` on ``cfg`` in a few lines: dataset, backbone (or checkpoint), tuning, tasks,
    embeddings, output directory; only the lines that apply to the task."""
    dataset = cfg.get("dataset") or {}
    lines = [("dataset", _dataset(dataset))]
    if cfg.get("ckpt"):
        lines.append(("backbone", f"the fine-tuned one in {cfg['ckpt']}"))
    elif cfg.get("backbone"):
        lines.append(("backbone", _backbone(cfg["backbone"])))
    if cfg.get("tuning"):
        lines.append(("tuning", recorded_tuning(cfg)))
    if cfg.get("tasks"):
        lines.append(("tasks", " + ".join(cfg["tasks"])))
    if cfg.get("embeddings"):
        lines.append(("embeddings", str(cfg["embeddings"])))
    lines.append(("output", str(cfg.get("output_dir", ""))))
    width = max(len(key) for key, _ in lines)
    return "\n".join([f"{task}:", *(f"  {key:<{width}}  {value}" for key, value in lines)])


def _dataset(dataset: dict[str, Any]) -> str:
    name = str(dataset.get("name", "?"))
    return f"{name} ({dataset['root']})" if dataset.get("root") else name


def _backbone(backbone: dict[str, Any]) -> str:
    name = str(backbone.get("preset") or backbone.get("name") or "?")
    if backbone.get("weights"):
        return f"{name}, weights {backbone['weights']}"
    return f"{name}, {'ImageNet weights' if backbone.get('pretrained', True) else 'random init'}"
