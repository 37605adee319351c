"""LocalDocs retrieval, measured: quality on a BEIR-style collection (Cranfield by default) and speed.

`python -m bench.localdocs_quality [--data DIR] [--markdown FILE]`

The corpus goes through the server's own code: each document is chunked (api.localdocs.chunking), embedded by
the default embedder and written to a real index file (api.localdocs.index); every query is answered by the
worker's `Searcher`, with BM25 alone, vectors alone and the hybrid that serves. Reported: nDCG@10 and
recall@10 (binary relevance, as the collection's qrels are), indexing chunks/s, and search latency at 100,000
chunks (query embedding, BM25 and vectors included).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from api.config.settings import CollectionSettings, Config, ServerSettings
from api.localdocs import index, search
from api.localdocs.chunking import chunk
from api.localdocs.embedding import default_embedder
from api.localdocs.extract import Document, Section
from api.localdocs.fusion import reciprocal_rank_fusion

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cranfield"
K = 10
SCALE_CHUNKS = 100_000
LATENCY_QUERIES = 200


def _read(data: Path) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]]]:
    corpus = {}
    for line in (data / "corpus.jsonl").read_bytes().splitlines():
        doc = orjson.loads(line)
        corpus[doc["_id"]] = (doc.get("title", "") + "\n\n" + doc.get("text", "")).strip()
    queries = {q["_id"]: q["text"] for q in map(orjson.loads, (data / "queries.jsonl").read_bytes().splitlines())}
    qrels: dict[str, set[str]] = {}
    for line in (data / "qrels.tsv").read_text().splitlines()[1:]:
        query, doc, score = line.split("\t")
        if int(score) > 0:
            qrels.setdefault(query, set()).add(doc)
    return corpus, queries, qrels


def _ndcg(ranked: list[str], relevant: set[str]) -> float:
    gain = sum(1 / math.log2(i + 2) for i, doc in enumerate(ranked[:K]) if doc in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(K, len(relevant))))
    return gain / ideal if ideal else 0.0


def _build(directory: Path, corpus: dict[str, str]) -> tuple[float, int]:
    """Index the corpus as collection `bench`; (chunks per second, chunks)."""
    db = index.connect(directory)
    embedder = default_embedder()
    started = time.perf_counter()
    count = 0
    with index.transaction(db):
        db.execute("INSERT INTO collections (name, fingerprint, state) VALUES ('bench', '', 'ready')")
        for doc_id, text in corpus.items():
            pieces = chunk(Document(doc_id, [Section(text)]), 1000) or []
            cursor = db.execute("INSERT INTO documents (collection, path, size, mtime, hash) VALUES "
                                "('bench', ?, 0, 0, '')", (doc_id,))
            vectors = embedder.embed([piece.text for piece in pieces])
            db.executemany("INSERT INTO chunks (document, collection, path, title, heading, page, start, end, text, "
                           "vector) VALUES (?, 'bench', ?, ?, NULL, NULL, ?, ?, ?, ?)",
                           [(cursor.lastrowid, doc_id, doc_id, p.start, p.end, p.text, index.vector_blob(v))
                            for p, v in zip(pieces, vectors, strict=True)])
            count += len(pieces)
    rate = count / (time.perf_counter() - started)
    db.close()
    return rate, count


def _docs(hits: list[index.Hit]) -> list[str]:
    """Documents in the order of their best chunk."""
    return list(dict.fromkeys(hit.path for hit in hits))


def quality(directory: Path, corpus: dict[str, str], queries: dict[str, str], qrels: dict[str, set[str]],
            rrf_k: int) -> dict[str, tuple[float, float]]:
    searcher = search.Searcher(directory)
    collection = CollectionSettings(name="bench", paths=("x",))
    config = Config(path=directory / "config.toml", server=ServerSettings(api_key="bench-key-0123456789"),
                    providers={}, prompts={}, clients={}, collections={"bench": collection})
    db = searcher._connection()
    assert db is not None
    scores: dict[str, list[tuple[float, float]]] = {"BM25 (FTS5, Porter)": [], "vectors (WordLlama 256)": [],
                                                    f"hybrid (RRF, k={rrf_k})": []}
    for query_id, text in queries.items():
        relevant = qrels.get(query_id, set())
        if not relevant:
            continue
        bm25 = index.bm25(db, text, ["bench"], search.CANDIDATES)
        dense = searcher._dense(db, text, [collection], config)
        rankings = {"BM25 (FTS5, Porter)": [(i, 0.0) for i in bm25], "vectors (WordLlama 256)": [(i, 0.0) for i in dense],
                    f"hybrid (RRF, k={rrf_k})": reciprocal_rank_fusion([bm25, dense], k=rrf_k)}
        for name, ranked in rankings.items():
            docs = _docs(index.hits(db, ranked[:50]))
            scores[name].append((_ndcg(docs, relevant), len(set(docs[:K]) & relevant) / len(relevant)))
    return {name: (statistics.fmean(s[0] for s in values), statistics.fmean(s[1] for s in values))
            for name, values in scores.items()}


def latency_at_scale(directory: Path, corpus: dict[str, str], queries: dict[str, str]) -> tuple[float, float, int]:
    """Search p50/p99 (ms) over SCALE_CHUNKS chunks: the corpus's chunks repeated with varied vectors."""
    db = index.connect(directory)
    rows = db.execute("SELECT document, path, title, start, end, text, vector FROM chunks").fetchall()
    rng = np.random.default_rng(1)
    with index.transaction(db):
        for n in range(SCALE_CHUNKS - len(rows)):
            row = rows[n % len(rows)]
            vector = np.frombuffer(row["vector"], dtype=np.float32) + rng.normal(0, 0.05, 256).astype(np.float32)
            vector /= np.linalg.norm(vector) or 1
            db.execute("INSERT INTO chunks (document, collection, path, title, heading, page, start, end, text, "
                       "vector) VALUES (?, 'bench', ?, ?, NULL, NULL, ?, ?, ?, ?)",
                       (row["document"], row["path"], row["title"], row["start"], row["end"], row["text"],
                        index.vector_blob(vector)))
        db.execute("UPDATE collections SET generation = generation + 1")
    total = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    db.close()
    searcher = search.Searcher(directory)
    collection = CollectionSettings(name="bench", paths=("x",))
    config = Config(path=directory / "config.toml", server=ServerSettings(api_key="bench-key-0123456789"),
                    providers={}, prompts={}, clients={}, collections={"bench": collection})
    texts = list(queries.values())
    searcher.search_now(texts[0], [collection], config, 10)  # loads the vectors once
    times = []
    for text in random.Random(1).choices(texts, k=LATENCY_QUERIES):
        started = time.perf_counter()
        searcher.search_now(text, [collection], config, 10)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99) - 1], total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"a BEIR-style folder (default {DEFAULT_DATA})")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--rrf-k", type=int, nargs="+", default=[60], help="RRF constants to compare")
    parser.add_argument("--no-scale", action="store_true", help="skip the 100,000-chunk latency run")
    args = parser.parse_args(argv)
    if not (args.data / "corpus.jsonl").exists():
        print(f"skipped: no corpus.jsonl in {args.data}")
        return 0
    corpus, queries, qrels = _read(args.data)
    lines = ["| retrieval | nDCG@10 | recall@10 |", "| --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        default_embedder()
        rate, count = _build(directory, corpus)
        rows: dict[str, tuple[float, float]] = {}
        for rrf_k in args.rrf_k:
            rows.update(quality(directory, corpus, queries, qrels, rrf_k))
        lines += [f"| {name} | {ndcg:.4f} | {recall:.4f} |" for name, (ndcg, recall) in rows.items()]
        lines += ["", f"Indexing ({count:,} chunks of {len(corpus):,} documents, chunk, embed, write): "
                      f"{rate:,.0f} chunks/s"]
        if not args.no_scale:
            p50, p99, total = latency_at_scale(directory, corpus, queries)
            lines.append(f"Search at {total:,} chunks (query embedding, BM25, vectors, fusion, reading the hits): "
                         f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
