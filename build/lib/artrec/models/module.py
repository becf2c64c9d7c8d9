"""The fine-tuning model: backbone -> shared layer (the item embedding) -> one head per task.

Everything the module needs is plain data (the backbone config, fitted task specs, numbers),
saved as hyperparameters, so ``ArtRecModule.load_from_checkpoint(path)`` rebuilds it in a
fresh process, without network: the backbone is built with random weights and the
checkpoint's state dict fills them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn

from artrec.errors import ConfigError, preview
from artrec.models.backbone import BackboneSpec, build_backbone
from artrec.models.checkpoints import read_checkpoint
from artrec.models.heads import SharedLayer, TaskHeads
from artrec.models.tasks import TaskSpec, total_loss
from artrec.models.tuning import apply_tuning, require_trainable, settle_backbone

log = logging.getLogger(__name__)

# State-dict prefixes carried from one run to the next by init_from_checkpoint.
TRANSFERRED = ("backbone.", "shared.")
METRIC_STAGES = ("val", "test")


class ArtRecModule(pl.LightningModule):
    """Multi-task fine-tuning of a backbone (del Rio et al. 2018, Table 2)."""

    def __init__(
        self,
        backbone: dict,
        tasks: list[dict],
        shared_dim: int = 1024,
        activation: str = "relu",
        dropout: float = 0.2,
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        tuning: str = "deep",
        load_pretrained: bool = False,
    ) -> None:
        """``backbone``: a conf/backbone/*.yaml node; ``tasks``: fitted ``TaskSpec.to_dict()``s.

        ``load_pretrained=False`` builds the backbone with random weights (a checkpoint's state
        dict will fill them); training passes True to start from the preset's weights.
        """
        super().__init__()
        # Plain dicts and lists (not OmegaConf containers), so that checkpoints load with
        # torch.load(weights_only=True) and hparams.yaml stays plain YAML. save_hyperparameters
        # reads these converted locals.
        backbone, tasks = _plain(backbone), _plain(tasks)
        self.save_hyperparameters(ignore=["load_pretrained"])
        self.tuning_mode = require_trainable(tuning)
        self.specs = [TaskSpec.from_dict(task) for task in tasks]
        if not self.specs:
            raise ConfigError("ArtRecModule needs at least one task.")
        self.backbone = build_backbone(_backbone_spec(backbone, load_pretrained))
        self.shared = SharedLayer(self.backbone.feature_dim, shared_dim, activation, dropout)
        self.heads = TaskHeads(shared_dim, self.specs)
        self.task_metrics = nn.ModuleDict(
            {stage: _stage_metrics(self.specs) for stage in METRIC_STAGES}
        )
        apply_tuning(self.tuning_mode, self.backbone, [self.shared, self.heads])
        self.train()

    @property
    def feature_dim(self) -> int:
        """Width of the backbone's features (the embedding before tuning)."""
        return self.backbone.feature_dim

    @property
    def shared_dim(self) -> int:
        """Width of the shared layer (the embedding after tuning)."""
        return self.hparams.shared_dim

    def train(self, mode: bool = True) -> ArtRecModule:
        """As nn.Module.train, but a frozen backbone (shallow tuning) stays in eval mode."""
        super().train(mode)
        settle_backbone(self.tuning_mode, self.backbone)
        return self

    def backbone_features(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` images -> ``[B, feature_dim]`` backbone features."""
        return self.backbone(images)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The item embedding ``[B, shared_dim]`` of images ``[B, 3, H, W]``, or of their
        precomputed backbone features ``[B, feature_dim]`` (shallow tuning's cache)."""
        if x.ndim == 4:
            return self.shared(self.backbone(x))
        if x.ndim != 2 or x.shape[1] != self.feature_dim:
            raise ConfigError(
                f"ArtRecModule input of shape {tuple(x.shape)}: expected images [B, 3, H, W] or "
                f"backbone features [B, {self.feature_dim}] of {self.backbone.spec.name!r}. "
                f"A feature cache made by another backbone must be rebuilt."
            )
        return self.shared(x.to(self.shared.linear.weight.dtype))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        loss = self._step(batch, "train")
        self.log("train/batch_loss", loss, on_step=True, on_epoch=False, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        return self._step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        return self._step(batch, "test")

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        """Loss of a batch of (inputs, ``[B, T]`` targets with NaN = missing), logged by task."""
        x, targets = batch
        outputs = self.heads(self(x))
        loss, losses = total_loss(self.specs, outputs, targets)
        record = partial(
            self.log, on_step=False, on_epoch=True, sync_dist=True, batch_size=len(targets)
        )
        record(f"{stage}/loss", loss, prog_bar=stage == "val")
        for name, value in losses.items():
            record(f"{stage}/{name}/loss", value)
        if stage in self.task_metrics:
            self._update_metrics(stage, outputs, targets)
        return loss

    def _update_metrics(
        self, stage: str, outputs: Mapping[str, torch.Tensor], targets: torch.Tensor
    ) -> None:
        """Update and log every task's metrics (torchmetrics compute, sync and reset them)."""
        for i, spec in enumerate(self.specs):
            inputs = spec.handler.metric_inputs(spec, outputs[spec.name], targets[:, i])
            for suffix, metric in self.task_metrics[stage][TaskHeads.key(spec.name)].items():
                metric.update(*inputs)
                self.log(
                    f"{stage}/{spec.name}/{suffix}",
                    metric,
                    on_step=False,
                    on_epoch=True,
                    batch_size=len(targets),
                )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam over the parameters the tuning mode trains."""
        params = [p for p in self.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    def init_from_checkpoint(self, path: str | Path) -> dict:
        """Start from another run's backbone and shared layer, keeping this run's own heads
        (the paper's two stages: tune on OmniArt, then on UGallery with other tasks).

        Returns ``{"source", "loaded", "skipped"}`` (state-dict keys); ConfigError when the
        checkpoint's backbone or shared layer does not fit this model.
        """
        state, hparams = _read_checkpoint(Path(path))
        wanted = {k: v for k, v in state.items() if k.startswith(TRANSFERRED)}
        own = {k: v for k, v in self.state_dict().items() if k.startswith(TRANSFERRED)}
        problems = [
            f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}"
            for k, v in wanted.items()
            if k in own and own[k].shape != v.shape
        ]
        problems += [f"{k} missing from the checkpoint" for k in own.keys() - wanted.keys()]
        problems += [f"{k} not in this model" for k in wanted.keys() - own.keys()]
        if problems:
            raise ConfigError(
                f"init checkpoint {path} does not fit this model ({len(problems)} problems, "
                f"checkpoint vs this model): {preview(sorted(problems))}. Its backbone is "
                f"{_describe(hparams)}; this model's is {_describe(self.hparams)}: use the same "
                f"backbone and shared_dim."
            )
        self.load_state_dict(wanted, strict=False)
        report = {
            "source": str(path),
            "loaded": sorted(wanted),
            "skipped": sorted(state.keys() - wanted.keys()),
        }
        log.info("Initialised %d tensors from %s (its heads skipped).", len(wanted), path)
        return report


def _plain(value: object) -> object:
    """Nested mappings and lists (e.g. OmegaConf containers) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(v) for v in value]
    return value


def _backbone_spec(config: Mapping, load_pretrained: bool) -> BackboneSpec:
    """The backbone spec, with random initial weights unless ``load_pretrained``."""
    spec = BackboneSpec.from_config(config)
    return spec if load_pretrained else dataclasses.replace(spec, pretrained=False, weights=None)


def _stage_metrics(specs: Sequence[TaskSpec]) -> nn.ModuleDict:
    """Fresh metrics of one stage: task key -> {suffix: metric}."""
    return nn.ModuleDict(
        {TaskHeads.key(s.name): nn.ModuleDict(s.handler.metrics(s)) for s in specs}
    )


def _read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], Mapping]:
    """The state dict and hyperparameters of a train.py checkpoint, read safely."""
    checkpoint = read_checkpoint(path, what="init checkpoint")
    return dict(checkpoint["state_dict"]), checkpoint.get("hyper_parameters") or {}


def _describe(hparams: Mapping) -> str:
    """``name`` and shared width from a module's hyperparameters, for error messages."""
    backbone = hparams.get("backbone") or {}
    return f"{backbone.get('name', '?')!r} (shared_dim={hparams.get('shared_dim', '?')})"
