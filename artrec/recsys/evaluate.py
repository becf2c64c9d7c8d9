"""``evaluate()``: the one protocol run that recommend_eval.py and the training callback
share. It builds the timeline, ranks every test case in batches and hands the per-case
rows to :mod:`artrec.recsys.result`; with ``protocol.split=time`` it scores both periods in
one pass and splits the rows (:mod:`artrec.recsys.periods`)."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from artrec.data import Dataset
from artrec.embeddings import EmbeddingTable
from artrec.progress import track
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.metrics import METRICS, RankedCases, case_metrics, random_expectation
from artrec.recsys.periods import TEST, VAL, select_cases, split_periods
from artrec.recsys.protocol import Inventory, TestCases, Timeline, build_timeline
from artrec.recsys.refusals import checked_device, no_test_case, require_rows
from artrec.recsys.result import PER_CASE_COLUMNS, EvalResult, summarise
from artrec.recsys.scoring import plan_batches, rank_batches, score_batches, unit_vectors
from artrec.recsys.stock import ragged

TIMELINE_SETTINGS = (
    "unique_items",
    "min_profile",
    "exclude_consumed",
    "ground_truth",
    "missing_embeddings",
)
log = logging.getLogger("artrec")


def evaluate(
    dataset: Dataset,
    embeddings: EmbeddingTable,
    protocol: ProtocolConfig,
    progress: bool = False,
) -> EvalResult:
    """Run the purchase-prediction protocol (docs/protocol.md, docs/metrics.md) of
    ``embeddings`` on ``dataset``; with ``protocol.split=time``, both periods in one pass."""
    device = checked_device(protocol.device)
    require_rows(dataset)
    unit, present = unit_vectors(embeddings, dataset.item_ids, device)
    timeline = protocol_timeline(dataset, embeddings, present, protocol)
    cases = timeline.cases
    if not len(cases):
        raise no_test_case(dataset, embeddings, present, timeline, protocol.min_profile)
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
    return summarise(
        per_case, random_per_case, protocol, timeline.n_skipped, timeline.n_dropped_items
    )


def _part(result: EvalResult, keep: np.ndarray, protocol: ProtocolConfig) -> EvalResult:
    """The result of the cases ``keep`` marks (one period)."""
    return summarise(
        result.per_case[keep].reset_index(drop=True),
        result.random_per_case[keep].reset_index(drop=True),
        protocol,
        result.n_skipped,
        result.n_dropped_items,
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
    """The per-case rows (:data:`PER_CASE_COLUMNS`) of ``cases`` and their ``values``."""
    columns = {
        "user_id": cases.user_id,
        "time": cases.time_raw,
        "n_candidates": n_candidates,
        "n_relevant": cases.n_relevant,
    }
    columns.update({name: values[name] for name in ("first_rank", *METRICS)})
    return pd.DataFrame(columns, columns=list(PER_CASE_COLUMNS))
