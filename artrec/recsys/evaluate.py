"""``evaluate()``: the one protocol run that recommend_eval.py and the training callback share,
its result, and the files it writes (docs/outputs.md)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from artrec.data import Dataset
from artrec.data.csvio import write_csv_atomic
from artrec.data.dataset import ITEMS_FILE, PURCHASES_FILE
from artrec.embeddings import EmbeddingTable
from artrec.errors import ArtrecError, ConfigError, DatasetError, EmbeddingsError, preview
from artrec.io import write_json_atomic
from artrec.progress import track
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.metrics import (
    METRICS,
    RankedCases,
    case_metrics,
    metric_key,
    random_expectation,
    sample_random_ranks,
)
from artrec.recsys.periods import (
    PERIOD,
    TEST,
    VAL,
    flat_metrics,
    select_cases,
    split_periods,
)
from artrec.recsys.protocol import Inventory, TestCases, Timeline, build_timeline
from artrec.recsys.scoring import plan_batches, rank_batches, score_batches, unit_vectors
from artrec.recsys.stock import ragged
from artrec.rundir import METRICS_FILE, PER_CASE_FILE

CASE_COLUMNS = ("user_id", "time", "n_candidates", "n_relevant")
PER_CASE_COLUMNS = (*CASE_COLUMNS, "first_rank", *METRICS)
TIMELINE_SETTINGS = (
    "unique_items",
    "min_profile",
    "exclude_consumed",
    "ground_truth",
    "missing_embeddings",
)
#: What metrics.json holds per period (``split=time``: the top level is the test period's).
PERIOD_KEYS = ("n_test_cases", "n_users", "metrics", "metrics_by_user", "random", "random_by_user")
NO_CASE = "so no test case exists and no metric can be computed"
log = logging.getLogger("artrec")


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


def evaluate(
    dataset: Dataset,
    embeddings: EmbeddingTable,
    protocol: ProtocolConfig,
    progress: bool = False,
) -> EvalResult:
    """Run the purchase-prediction protocol (docs/protocol.md, docs/metrics.md) of
    ``embeddings`` on ``dataset``; with ``protocol.split=time``, both periods in one pass."""
    device = _device(protocol.device)
    _require_rows(dataset)
    unit, present = unit_vectors(embeddings, dataset.item_ids, device)
    timeline = protocol_timeline(dataset, embeddings, present, protocol)
    cases = timeline.cases
    if not len(cases):
        raise _no_test_case(dataset, embeddings, present, timeline, protocol.min_profile)
    if timeline.n_dropped_items:
        log.warning(
            "%d item(s) without an embedding dropped from candidates, profiles and ground "
            "truth (n_dropped_items in metrics.json)",
            timeline.n_dropped_items,
        )
    if protocol.split == "none":
        return _result(cases, timeline, unit, protocol, progress)
    periods = split_periods(cases, protocol.val_fraction, protocol.test_fraction)
    scored = periods.period != ""
    both = _result(select_cases(cases, scored), timeline, unit, protocol, progress)
    label = periods.period[scored]
    return replace(
        _part(both, label == TEST, protocol),
        val=_part(both, label == VAL, protocol),
        cuts=periods.cuts(),
    )


def protocol_timeline(
    dataset: Dataset, embeddings: EmbeddingTable, present: np.ndarray, protocol: ProtocolConfig
) -> Timeline:
    """The protocol's timeline of ``dataset`` (items with an embedding: ``present``)."""
    settings = {name: getattr(protocol, name) for name in TIMELINE_SETTINGS}
    skipped = np.isin(dataset.item_ids, embeddings.skipped_ids)
    return build_timeline(dataset, present, source=embeddings.source, skipped=skipped, **settings)


def _result(
    cases: TestCases,
    timeline: Timeline,
    unit: torch.Tensor,
    protocol: ProtocolConfig,
    progress: bool,
) -> EvalResult:
    """Rank ``cases`` and average their metrics and the random expectation."""
    ranked = _rank(cases, timeline.inventory, unit, protocol, progress)
    per_case = _frame(cases, ranked.n, case_metrics(ranked, protocol.k, protocol.variant))
    expected = random_expectation(ranked.n, ranked.g, protocol.k, protocol.variant)
    random_per_case = _frame(cases, ranked.n, expected)
    return _summary(
        per_case, random_per_case, protocol, timeline.n_skipped, timeline.n_dropped_items
    )


def _part(result: EvalResult, keep: np.ndarray, protocol: ProtocolConfig) -> EvalResult:
    """The result of the cases ``keep`` marks (one period)."""
    return _summary(
        result.per_case[keep].reset_index(drop=True),
        result.random_per_case[keep].reset_index(drop=True),
        protocol,
        result.n_skipped,
        result.n_dropped_items,
    )


def _summary(
    per_case: pd.DataFrame,
    random_per_case: pd.DataFrame,
    protocol: ProtocolConfig,
    n_skipped: int,
    n_dropped_items: int,
) -> EvalResult:
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


def _device(name: str) -> str:
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "protocol.device=cuda, but CUDA is not available; use protocol.device=cpu."
        )
    return name


def _require_rows(dataset: Dataset) -> None:
    """Refuse a dataset whose items.csv or purchases.csv holds a header only."""
    if dataset.items.empty:
        raise DatasetError(
            f"{dataset.root / ITEMS_FILE}: no items (a header only), {NO_CASE}; add the items."
        )
    if dataset.purchases.empty:
        raise DatasetError(
            f"{dataset.root / PURCHASES_FILE}: no purchases (a header only), {NO_CASE}; add "
            "rows user_id,item_id,time."
        )


def _no_test_case(
    dataset: Dataset,
    embeddings: EmbeddingTable,
    present: np.ndarray,
    timeline: Timeline,
    min_profile: int,
) -> ArtrecError:
    """Why the protocol found no test case, naming what is empty."""
    if not present.any():
        held = f"none of its {len(embeddings)} item id(s) {preview(embeddings.item_ids)}"
        return EmbeddingsError(
            f"{embeddings.source}: {held if len(embeddings) else 'no item id at all'} matches "
            f"an item_id of {dataset.root / ITEMS_FILE} {preview(dataset.item_ids)}: every "
            f"item is dropped, {NO_CASE}; embed this dataset's items."
        )
    purchases = dataset.root / PURCHASES_FILE
    if timeline.n_skipped:
        return DatasetError(
            f"{purchases}: all {timeline.n_skipped} possible test case(s) were skipped, none "
            f"keeps both a profile and a ground truth in stock ({timeline.n_dropped_items} "
            f"item(s) dropped for lack of an embedding), {NO_CASE}."
        )
    return DatasetError(
        f"{purchases}: no user has a transaction after earlier ones holding at least "
        f"protocol.min_profile={min_profile} item(s), {NO_CASE}; the protocol needs users who "
        "buy more than once."
    )


def _rank(
    cases: TestCases,
    inventory: Inventory,
    unit: torch.Tensor,
    protocol: ProtocolConfig,
    progress: bool,
) -> RankedCases:
    """Candidate counts and the sorted ranks of the relevant items of every case."""
    batches = plan_batches(cases, protocol.chunk_size)
    if progress:
        batches = track(batches, description="ranking", transient=True)
    scored = score_batches(cases, inventory, unit, protocol, batches)
    results = rank_batches(cases, scored)
    n_candidates = np.zeros(len(cases), dtype=np.int64)
    ranks = np.zeros(len(cases.relevant_items), dtype=np.int64)
    positions = np.arange(len(ranks))
    for part in results:
        n_candidates[part.cases] = part.n_candidates
        _, where = ragged(
            cases.relevant_offsets[part.cases], cases.n_relevant[part.cases], positions
        )
        ranks[where] = part.ranks
    case = np.repeat(np.arange(len(cases)), cases.n_relevant)
    ranks = ranks[np.lexsort((ranks, case))]
    return RankedCases(n=n_candidates, ranks=ranks, offsets=cases.relevant_offsets)


def _frame(
    cases: TestCases, n_candidates: np.ndarray, values: dict[str, np.ndarray]
) -> pd.DataFrame:
    columns = {
        "user_id": cases.user_id,
        "time": cases.time_raw,
        "n_candidates": n_candidates,
        "n_relevant": cases.n_relevant,
    }
    columns.update({name: values[name] for name in ("first_rank", *METRICS)})
    return pd.DataFrame(columns, columns=list(PER_CASE_COLUMNS))


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
