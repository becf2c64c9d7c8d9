"""The layers fine-tuning adds on a backbone: a shared dense layer and one output per task.

The shared layer's activations are the item embedding after tuning (del Rio et al. 2018:
1,024 units); each task's head is one linear layer on them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from artrec.errors import ConfigError
from artrec.models.tasks import TaskSpec

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}


class SharedLayer(nn.Module):
    """Linear -> activation -> dropout: the embedding layer every task reads."""

    def __init__(
        self, in_dim: int, out_dim: int = 1024, activation: str = "relu", dropout: float = 0.2
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ConfigError(
                f"activation={activation!r} is unknown; use one of {sorted(ACTIVATIONS)}."
            )
        if not 0 <= dropout < 1:
            raise ConfigError(f"dropout={dropout!r} must be in [0, 1).")
        if out_dim < 1:
            raise ConfigError(f"shared_dim={out_dim!r} must be a positive number of units.")
        self.linear = nn.Linear(in_dim, out_dim)
        self.activation = ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``[B, in_dim]`` backbone features -> ``[B, out_dim]`` embeddings."""
        return self.dropout(self.activation(self.linear(features)))


class TaskHeads(nn.ModuleDict):
    """One linear output layer per task, on the shared layer.

    Keys are ``task_<name>``: a bare name could clash with nn.Module attributes (a task
    called ``type`` is one of the paper's).
    """

    def __init__(self, in_dim: int, specs: Sequence[TaskSpec]) -> None:
        super().__init__({self.key(s.name): nn.Linear(in_dim, s.out_dim) for s in specs})
        self.names = tuple(s.name for s in specs)

    @staticmethod
    def key(name: str) -> str:
        """The module key of task ``name``."""
        return f"task_{name}"

    def forward(self, shared: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each task's raw outputs (logits, or the normalised regression value), by task name."""
        return {name: self[self.key(name)](shared) for name in self.names}
