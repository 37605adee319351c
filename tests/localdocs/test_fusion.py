"""api/localdocs/fusion.py: reciprocal rank fusion on hand-worked cases."""

from __future__ import annotations

import pytest

from api.localdocs.fusion import reciprocal_rank_fusion


def test_one_ranking_keeps_its_order_with_scores_of_one_over_k_plus_rank():
    assert reciprocal_rank_fusion([[7, 3, 9]], k=60) == [(7, 1 / 61), (3, 1 / 62), (9, 1 / 63)]


def test_agreement_wins_over_one_first_place():
    # 2 is second in both (2/62) and beats 1 and 3, each first in one ranking and absent from the other (1/61).
    fused = reciprocal_rank_fusion([[1, 2], [3, 2]], k=60)
    assert [item for item, _ in fused] == [2, 1, 3]
    assert dict(fused) == pytest.approx({1: 1 / 61, 2: 2 / 62, 3: 1 / 61})


def test_first_and_last_of_three_edges_out_second_twice():
    # 1/61 + 1/63 = 0.032266 > 2/62 = 0.032258: the reciprocal is convex, so this close case goes to the extremes.
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 2, 1]], k=60)
    assert [item for item, _ in fused] == [1, 3, 2]
    assert dict(fused) == pytest.approx({1: 1 / 61 + 1 / 63, 2: 2 / 62, 3: 1 / 63 + 1 / 61})


def test_an_id_missing_from_a_ranking_gets_nothing_from_it():
    fused = dict(reciprocal_rank_fusion([[1, 2], [2, 5]], k=1))
    assert fused == pytest.approx({1: 1 / 2, 2: 1 / 3 + 1 / 2, 5: 1 / 3})


def test_k_sets_how_much_a_top_place_outweighs_agreement():
    rankings = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16, 17, 18, 19, 10]]
    # 10 is last in both; with a small k the two first places beat it, with a large one agreement wins.
    assert reciprocal_rank_fusion(rankings, k=1)[0][0] in (1, 11)
    assert reciprocal_rank_fusion(rankings, k=1000)[0][0] == 10


def test_ties_keep_the_order_of_first_appearance_and_nothing_in_gives_nothing_out():
    assert [item for item, _ in reciprocal_rank_fusion([["a", "b"], ["b", "a"]])] == ["a", "b"]
    assert [item for item, _ in reciprocal_rank_fusion([["b", "a"], ["a", "b"]])] == ["b", "a"]
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []


def test_scores_are_best_first_and_every_id_appears_once():
    fused = reciprocal_rank_fusion([[5, 4, 3, 2, 1], [1, 3, 5], [2]], k=60)
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)
    assert sorted(item for item, _ in fused) == [1, 2, 3, 4, 5]
