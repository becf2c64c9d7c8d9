"""Top-k recommendations of chosen test cases, ranked exactly as the protocol ranks them.

``evaluate()`` counts ranks without sorting; galleries and case studies need the ranked
items themselves. This module reuses the protocol's timeline and batched scoring, scoring
the very batches ``evaluate()`` forms (so the float32 scores, and hence every tie, are the
same), and sorts only the chosen cases' rows: by score, descending, ties to the item that
comes first in items.csv (docs/protocol.md, rule 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from artrec.data import Dataset
from artrec.embeddings import EmbeddingTable
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.evaluate import protocol_timeline
from artrec.recsys.protocol import TestCases
from artrec.recsys.scoring import plan_batches, score_batches, unit_vectors


@dataclass(frozen=True)
class CaseRecommendations:
    """One test case (``case``: its row of per_case.csv) and its ranked candidates.

    Items are rows of ``dataset.items``: ``profile`` in first-purchase order,
    ``recommended`` the top k best first, ``relevant`` the ground truth (candidates only),
    best ranked first, and ``relevant_ranks`` their 1-based ranks over all ``n_candidates``.
    """

    case: int
    user_id: str
    time: str
    profile: np.ndarray
    recommended: np.ndarray
    relevant: np.ndarray
    relevant_ranks: np.ndarray
    n_candidates: int

    @property
    def hits(self) -> np.ndarray:
        """Per recommended item: was it bought (in the ground truth)?"""
        return np.isin(self.recommended, self.relevant)


class Recommender:
    """The protocol's test cases of ``dataset`` under ``embeddings``, ready to rank."""

    def __init__(
        self, dataset: Dataset, embeddings: EmbeddingTable, protocol: ProtocolConfig
    ) -> None:
        self.dataset, self.protocol = dataset, protocol
        self.unit, present = unit_vectors(embeddings, dataset.item_ids, protocol.device)
        self.timeline = protocol_timeline(dataset, embeddings, present, protocol)

    @property
    def cases(self) -> TestCases:
        """The test cases, in per_case.csv order."""
        return self.timeline.cases

    def top_k(self, chosen: Sequence[int], k: int | None = None) -> list[CaseRecommendations]:
        """The top ``k`` (default ``protocol.k``) of each chosen case, in ``chosen`` order."""
        k = self.protocol.k if k is None else k
        wanted = {int(case) for case in chosen}
        if not wanted <= set(range(len(self.cases))):
            raise IndexError(f"test cases {sorted(wanted)} outside 0..{len(self.cases) - 1}")
        protocol = self.protocol
        batches = [
            batch
            for batch in plan_batches(self.cases, protocol.chunk_size)
            if wanted.intersection(batch.tolist())
        ]
        found: dict[int, CaseRecommendations] = {}
        for part in score_batches(
            self.cases, self.timeline.inventory, self.unit, protocol, batches
        ):
            for row, case in enumerate(part.cases.tolist()):
                if case in wanted:
                    found[case] = self._ranked(
                        case, part.candidate_scores(row), int(part.n_candidates[row]), k
                    )
        return [found[int(case)] for case in chosen]

    def _ranked(
        self, case: int, scores: torch.Tensor, n_candidates: int, k: int
    ) -> CaseRecommendations:
        """Sort one case's scores (non-candidates are -inf, so they come last)."""
        order = torch.sort(scores, descending=True, stable=True).indices.cpu().numpy()
        position = np.empty_like(order)
        position[order] = np.arange(len(order))
        cases = self.cases
        start, size = cases.profile_start[case], cases.profile_size[case]
        offsets = cases.relevant_offsets
        relevant = cases.relevant_items[offsets[case] : offsets[case + 1]]
        relevant = relevant[np.argsort(position[relevant])]
        return CaseRecommendations(
            case=case,
            user_id=str(cases.user_id[case]),
            time=str(cases.time_raw[case]),
            profile=cases.profile_items[start : start + size],
            recommended=order[: min(k, n_candidates)],
            relevant=relevant,
            relevant_ranks=position[relevant] + 1,
            n_candidates=n_candidates,
        )
