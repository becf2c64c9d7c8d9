"""The time-aware purchase-prediction protocol (docs/protocol.md) as pure functions."""

from artrec.recsys.config import ProtocolConfig
from artrec.recsys.evaluate import EvalResult, evaluate, sampled_random_per_case, write_result
from artrec.recsys.metrics import METRICS, metric_key

__all__ = [
    "METRICS",
    "EvalResult",
    "ProtocolConfig",
    "evaluate",
    "metric_key",
    "sampled_random_per_case",
    "write_result",
]
