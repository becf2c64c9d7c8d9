"""The short block every run prints first: the resolved config's key choices."""

from __future__ import annotations

from artrec.data.config import DatasetConfig
from artrec.models.config import BackboneSpec
from artrec.tasks.configs import ExtractConfig, RecommendEvalConfig, TrainConfig

RootConfig = TrainConfig | ExtractConfig | RecommendEvalConfig


def key_choices(task: str, settings: RootConfig) -> str:
    """``task`` on ``settings`` in a few lines: dataset, backbone (or checkpoint), tuning,
    tasks, embeddings, output directory; only the lines that apply to the task."""
    lines = [("dataset", _dataset(settings.dataset))]
    match settings:
        case ExtractConfig(ckpt=str(ckpt)):
            lines.append(("backbone", f"the fine-tuned one in {ckpt}"))
        case ExtractConfig(backbone=backbone):
            lines.append(("backbone", _backbone(backbone)))
        case TrainConfig(backbone=backbone, tuning=tuning, tasks=tasks):
            lines.append(("backbone", _backbone(backbone)))
            lines.append(("tuning", str(tuning)))
            lines.append(("tasks", " + ".join(tasks)))
        case RecommendEvalConfig(embeddings=embeddings):
            lines.append(("embeddings", str(embeddings)))
    lines.append(("output", settings.output_dir))
    width = max(len(key) for key, _ in lines)
    return "\n".join([f"{task}:", *(f"  {key:<{width}}  {value}" for key, value in lines)])


def _dataset(dataset: DatasetConfig) -> str:
    return f"{dataset.name} ({dataset.root})" if dataset.root else dataset.name


def _backbone(backbone: BackboneSpec) -> str:
    if backbone.weights:
        return f"{backbone.label}, weights {backbone.weights}"
    return f"{backbone.label}, {'ImageNet weights' if backbone.pretrained else 'random init'}"
