"""BM25 over a collection's chunks, in memory: the indexer turns each chunk into its terms once (stemmed words
without stop words, each as a 64-bit hash with its count, stored beside the chunk), and a worker builds the
postings of a collection from them in one numpy pass and scores a query by adding up the postings of its terms.

Why not SQLite's FTS5: it ranks every chunk holding any query word through a per-row function, which at
100,000 chunks took 120-180 ms a query on this machine; these postings answer in a few (docs/localdocs.md).
Why hashes: no vocabulary table to keep in step between the indexer and the workers; two words sharing a
64-bit hash is out of reach for any real collection.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import numpy as np
import Stemmer

K1 = 1.2
B = 0.75
"""The usual BM25 parameters (as FTS5's and Lucene's)."""

_STOPWORD_TEXT = """
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her here
hers him his how i if in into is it its itself just me more most must my no nor not now of off on once only or
other our ours out over own same shall she should so some such than that the their theirs them then there these
they this those through to too under until up very was we were what when where which while who whom why will
with would you your yours
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
"""English words too common to tell chunks apart: they are not terms."""

_WORD = re.compile(r"[^\W_]+")
_stemmer = Stemmer.Stemmer("english")  # Snowball's English (Porter 2), in C


def _plain(text: str) -> str:
    """Lower case, accents dropped (é → e), as FTS5's unicode61 tokenizer reads words."""
    text = text.lower()
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The stemmed words of `text` that are terms: two characters or more, not stop words."""
    return _stemmer.stemWords([word for word in _WORD.findall(_plain(text)) if len(word) > 1
                               and word not in STOPWORDS])


def term_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")


def terms(*texts: str | None) -> tuple[bytes, bytes]:
    """A chunk's terms as stored beside it: (hashes as uint64, counts as uint16), the same length."""
    counts = Counter(word for text in texts if text for word in words(text))
    hashes = np.fromiter((term_hash(word) for word in counts), dtype=np.uint64, count=len(counts))
    return hashes.tobytes(), np.fromiter((min(n, 65535) for n in counts.values()), dtype=np.uint16,
                                         count=len(counts)).tobytes()


def query_terms(text: str) -> np.ndarray:
    """The distinct term hashes of a query."""
    return np.array([term_hash(word) for word in dict.fromkeys(words(text))], dtype=np.uint64)


@dataclass(frozen=True, slots=True)
class Postings:
    """Every term of a collection with the chunks (rows) holding it and their BM25 weight for it, sorted by
    term: the rows and weights of term i are `rows[starts[i]:starts[i + 1]]`."""

    vocabulary: np.ndarray  # uint64 term hashes, sorted
    starts: np.ndarray  # int64, len(vocabulary) + 1
    rows: np.ndarray  # int32
    weights: np.ndarray  # float32
    size: int  # chunks

    @classmethod
    def build(cls, hashes: np.ndarray, counts: np.ndarray, per_row: np.ndarray) -> Postings:
        """From every row's terms laid end to end (`per_row[i]` of them for row i)."""
        size = len(per_row)
        rows = np.repeat(np.arange(size, dtype=np.int32), per_row)
        tf = counts.astype(np.float32)
        lengths = np.bincount(rows, weights=tf, minlength=size).astype(np.float32)
        average = float(lengths.mean()) if size and lengths.any() else 1.0
        order = np.argsort(hashes, kind="stable")  # a radix sort for integers: 4x quicker than the default
        hashes, rows, tf = hashes[order], rows[order], tf[order]
        del order
        first = np.empty(len(hashes), dtype=bool)
        first[:1] = True
        np.not_equal(hashes[1:], hashes[:-1], out=first[1:])
        starts = np.append(np.flatnonzero(first), len(hashes))
        frequency = np.diff(starts).astype(np.float32)
        idf = np.log1p((size - frequency + 0.5) / (frequency + 0.5)).astype(np.float32)
        norm = tf + K1 * (1 - B + B * lengths[rows] / average)
        weights = np.repeat(idf, np.diff(starts)) * tf * (K1 + 1) / norm
        return cls(hashes[first], starts, rows, weights.astype(np.float32), size)

    def top(self, query: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows of the best `limit` chunks holding any query term, best first, and their scores."""
        if not self.size or not len(query) or not len(self.vocabulary):
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        at = np.searchsorted(self.vocabulary, query)
        inside = at < len(self.vocabulary)
        at = at[inside][self.vocabulary[at[inside]] == query[inside]]
        scores = np.zeros(self.size, dtype=np.float32)
        for term in at:
            start, end = self.starts[term], self.starts[term + 1]
            scores[self.rows[start:end]] += self.weights[start:end]
        matched = np.flatnonzero(scores)
        if len(matched) > limit:
            matched = matched[np.argpartition(-scores[matched], limit - 1)[:limit]]
        best = matched[np.argsort(-scores[matched], kind="stable")]
        return best, scores[best]
