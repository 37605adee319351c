"""Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009): rankings of one set of ids merged by
summing 1 / (k + rank) over the rankings each id appears in."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

Id = TypeVar("Id", bound=Hashable)

K = 60
"""The paper's constant: a lower rank's weight falls off slowly, so agreement between rankings counts most."""


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Id]], k: int = K) -> list[tuple[Id, float]]:
    """The ids of all `rankings` (each best first) with their fused score, best first; an id missing from a
    ranking just gets nothing from it. Ties keep the order of first appearance."""
    scores: dict[Id, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])
