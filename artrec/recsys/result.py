"""A protocol run's result (``EvalResult``): its averages, its logger keys, and the files
it writes, metrics.json and per_case.csv (docs/outputs.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from artrec.data.csvio import write_csv_atomic
from artrec.io import write_json_atomic
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.metrics import METRICS, case_metrics, metric_key, sample_random_ranks
from artrec.recsys.periods import PERIOD, TEST, VAL, flat_metrics
from artrec.rundir import METRICS_FILE, PER_CASE_FILE

CASE_COLUMNS = ("user_id", "time", "n_candidates", "n_relevant")
PER_CASE_COLUMNS = (*CASE_COLUMNS, "first_rank", *METRICS)
#: What metrics.json holds per period (``split=time``: the top level is the test period's).
PERIOD_KEYS = ("n_test_cases", "n_users", "metrics", "metrics_by_user", "random", "random_by_user")


@dataclass(frozen=True)
class EvalResult:
    """A protocol run. ``metrics`` average over test cases, ``metrics_by_user`` over each
    user's cases then over users; ``random*`` hold the exact expectation under a uniformly
    random ranking, averaged the same way. ``per_case`` has :data:`PER_CASE_COLUMNS`
    (``time`` as written in purchases.csv); ``random_per_case`` the same columns, with the
    expected first relevant rank. With ``split=time`` this is the test period's result,
    ``val`` the validation period's and ``cuts`` the periods' start times."""

    k: int
    n_test_cases: int
    n_users: int
    n_skipped: int
    n_dropped_items: int
    metrics: dict[str, float]
    metrics_by_user: dict[str, float]
    random: dict[str, float]
    random_by_user: dict[str, float]
    per_case: pd.DataFrame
    random_per_case: pd.DataFrame
    protocol: dict[str, Any]
    val: EvalResult | None = None
    cuts: dict[str, str] | None = None

    def to_json(self, embeddings_label: str, dataset_label: str) -> dict[str, Any]:
        """The metrics.json payload of docs/outputs.md (undefined averages become null);
        with ``split=time`` the top level is the test period's, ``val`` the validation's."""
        payload = {
            "k": self.k,
            "n_test_cases": self.n_test_cases,
            "n_users": self.n_users,
            "n_skipped": self.n_skipped,
            "metrics": _nulls(self.metrics),
            "metrics_by_user": _nulls(self.metrics_by_user),
            "random": _nulls(self.random),
            "protocol": dict(self.protocol),
            "embeddings": embeddings_label,
            "dataset": dataset_label,
            "n_dropped_items": self.n_dropped_items,
            "random_by_user": _nulls(self.random_by_user),
        }
        if self.val is not None:
            payload["split"] = dict(self.cuts or {})
            val = self.val.to_json("", "")
            payload[VAL] = {key: val[key] for key in PERIOD_KEYS}
        return payload

    def logged_metrics(self) -> dict[str, float]:
        """The averages over test cases by logger key (``recall@20``, or with
        ``split=time`` ``val/recall@20`` and ``test/recall@20``); undefined ones are NaN."""
        periods = {} if self.val is None else {VAL: {"metrics": self.val.metrics}}
        return flat_metrics({"metrics": self.metrics, **periods})

    def per_case_rows(self) -> pd.DataFrame:
        """per_case.csv: the test cases, with ``split=time`` the validation period's and
        then the test period's, their ``period`` in a last column."""
        if self.val is None:
            return self.per_case
        return pd.concat(
            [self.val.per_case.assign(**{PERIOD: VAL}), self.per_case.assign(**{PERIOD: TEST})],
            ignore_index=True,
        )

    def sampled_random(self, seed: int | None = None) -> pd.DataFrame:
        """Per-case metrics of one seeded uniformly random ranking (for paired tests);
        ``seed`` defaults to ``protocol.random_seed``."""
        seed = self.protocol["random_seed"] if seed is None else seed
        return sampled_random_per_case(self.per_case, self.k, self.protocol["variant"], seed)


def summarise(
    per_case: pd.DataFrame,
    random_per_case: pd.DataFrame,
    protocol: ProtocolConfig,
    n_skipped: int,
    n_dropped_items: int,
) -> EvalResult:
    """The result of these per-case rows: their averages and counts."""
    metrics, metrics_by_user = _averages(per_case, protocol.k)
    random, random_by_user = _averages(random_per_case, protocol.k)
    return EvalResult(
        k=protocol.k,
        n_test_cases=len(per_case),
        n_users=int(pd.unique(per_case["user_id"]).size),
        n_skipped=n_skipped,
        n_dropped_items=n_dropped_items,
        metrics=metrics,
        metrics_by_user=metrics_by_user,
        random=random,
        random_by_user=random_by_user,
        per_case=per_case,
        random_per_case=random_per_case,
        protocol=protocol.to_dict(),
    )


def _averages(frame: pd.DataFrame, k: int) -> tuple[dict[str, float], dict[str, float]]:
    """Mean over test cases, and mean over users of each user's mean."""
    by_case = frame[list(METRICS)].mean()
    by_user = frame.groupby("user_id", sort=False)[list(METRICS)].mean().mean()
    return (
        {metric_key(name, k): float(by_case[name]) for name in METRICS},
        {metric_key(name, k): float(by_user[name]) for name in METRICS},
    )


def _nulls(values: dict[str, float]) -> dict[str, float | None]:
    return {key: None if math.isnan(value) else value for key, value in values.items()}


def sampled_random_per_case(
    per_case: pd.DataFrame, k: int, variant: str, seed: int
) -> pd.DataFrame:
    """Per-case metrics (per_case.csv columns) of a seeded uniformly random ordering of
    each case's candidates, from its ``n_candidates`` and ``n_relevant``."""
    n = per_case["n_candidates"].to_numpy(dtype=np.int64)
    g = per_case["n_relevant"].to_numpy(dtype=np.int64)
    values = case_metrics(sample_random_ranks(n, g, seed), k, variant)
    frame = per_case[list(CASE_COLUMNS)].reset_index(drop=True).copy()
    for name in ("first_rank", *METRICS):
        frame[name] = values[name]
    return frame


def write_result(
    result: EvalResult, out_dir: str | Path, embeddings_label: str, dataset_label: str
) -> tuple[Path, Path]:
    """Write metrics.json and per_case.csv into ``out_dir``, each atomically."""
    out_dir = Path(out_dir)
    metrics_path, per_case_path = out_dir / METRICS_FILE, out_dir / PER_CASE_FILE
    write_json_atomic(metrics_path, result.to_json(embeddings_label, dataset_label))
    write_csv_atomic(result.per_case_rows(), per_case_path)
    return metrics_path, per_case_path
