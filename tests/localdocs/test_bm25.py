"""BM25 in memory (api/localdocs/bm25.py): which words are terms, and scores checked against the formula worked
by hand on a small collection."""

from __future__ import annotations

import math

import numpy as np
import pytest

from api.localdocs import bm25


def _postings(*chunks: str) -> bm25.Postings:
    stored = [bm25.terms(text) for text in chunks]
    hashes = np.frombuffer(b"".join(h for h, _ in stored), dtype=np.uint64)
    counts = np.frombuffer(b"".join(c for _, c in stored), dtype=np.uint16)
    return bm25.Postings.build(hashes, counts, np.array([len(h) // 8 for h, _ in stored], dtype=np.int64))


def _ranked(postings: bm25.Postings, query: str, limit: int = 10) -> list[tuple[int, float]]:
    rows, scores = postings.top(bm25.query_terms(query), limit)
    return [(int(row), float(score)) for row, score in zip(rows, scores, strict=True)]


def test_terms_are_stemmed_words_without_stop_words_case_or_accents():
    assert bm25.words("The Runners were running to the Café") == ["runner", "run", "cafe"]
    assert bm25.words("a I of the") == []
    assert bm25.words("x_y foo-bar 42") == ["foo", "bar", "42"]  # letters and digits only; one letter is not a term


def test_scores_are_bm25_worked_by_hand():
    chunks = ["wing wing flutter", "wing lift drag drag", "boundary layer"]
    postings = _postings(*chunks)
    lengths = [3, 4, 2]
    average = sum(lengths) / 3

    def weight(tf: int, length: int, df: int) -> float:
        idf = math.log(1 + (3 - df + 0.5) / (df + 0.5))
        return idf * tf * (bm25.K1 + 1) / (tf + bm25.K1 * (1 - bm25.B + bm25.B * length / average))

    ranked = _ranked(postings, "wings and drag")
    expected = {0: weight(2, 3, 2), 1: weight(1, 4, 2) + weight(2, 4, 1)}
    assert [row for row, _ in ranked] == sorted(expected, key=expected.__getitem__, reverse=True)
    for row, score in ranked:
        assert score == pytest.approx(expected[row], rel=1e-5)


def test_rare_words_count_more_and_chunks_without_a_query_word_are_never_returned():
    chunks = [f"common text number {n}" for n in range(50)] + ["common text with a supersonic shock"]
    postings = _postings(*chunks)
    ranked = _ranked(postings, "supersonic common", limit=5)
    assert ranked[0][0] == 50
    assert len(ranked) == 5 and ranked[0][1] > 2 * ranked[1][1]
    assert _ranked(postings, "hypersonic") == []
    assert _ranked(postings, "the of and") == []  # stop words only: nothing to look for
    assert _ranked(_postings(), "common") == []  # an empty collection


def test_a_shorter_chunk_wins_at_equal_counts():
    postings = _postings("shock " + "filler " * 40, "shock wave")
    assert [row for row, _ in _ranked(postings, "shock")] == [1, 0]
