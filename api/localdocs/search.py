"""Hybrid search over the LocalDocs index, in a worker: BM25 postings and cosine similarity over each
collection's vectors, both held in memory (loaded again when the indexer has changed the collection), fused by
reciprocal rank. Without vectors (no embedder could run) BM25 alone answers.

Searches run on one thread of their own (SQLite and numpy release the GIL), never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from api.config.settings import CollectionSettings, Config
from api.localdocs import bm25, index
from api.localdocs.embedding import INDEXER_CLIENT, Embedder, embedder_for
from api.localdocs.fusion import reciprocal_rank_fusion
from api.localdocs.index import Hit

log = logging.getLogger("gatehouse")

CANDIDATES = 100
"""Chunks taken from each ranking (BM25, vectors) before they are fused."""
LOAD_BEHIND_CHUNKS = 20_000
"""A collection of more chunks than this is loaded again behind the searches when the indexer changes it (about a
second at 100,000 chunks), which meanwhile use the copy held; a smaller one is loaded again before the search."""


class Searcher:
    """A worker's searcher over the index in `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._db: sqlite3.Connection | None = None
        self._held: dict[str, tuple[int, index.Loaded]] = {}
        """Each collection's chunks as loaded, with the generation they are of."""
        self._embedders: dict[tuple[str | None, Path, str], Embedder] = {}
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="localdocs-search")
        self._loader = ThreadPoolExecutor(1, thread_name_prefix="localdocs-load")
        self._loading: set[str] = set()

    async def search(self, query: str, collections: list[CollectionSettings], config: Config,
                     top_k: int, client: str) -> list[Hit]:
        """`search_now` on the searcher's thread; `client` is who searches (a gateway embedding model's query
        vector counts as that client's request)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self.search_now, query, collections,
                                                                config, top_k, client)

    async def status(self) -> dict[str, dict]:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._status)

    async def reindex(self, name: str) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._reindex, name)

    def close(self) -> None:
        self._thread.shutdown(wait=False)
        self._loader.shutdown(wait=False, cancel_futures=True)

    def _connection(self) -> sqlite3.Connection | None:
        if self._db is None:
            try:
                self._db = index.connect(self.data_dir, readonly=True)
            except (FileNotFoundError, sqlite3.Error):
                return None  # nothing indexed yet
        return self._db

    def _status(self) -> dict[str, dict]:
        db = self._connection()
        return {} if db is None else index.status(db)

    def _reindex(self, name: str) -> None:
        writer = index.connect(self.data_dir)
        try:
            index.request_reindex(writer, name)
        finally:
            writer.close()

    def search_now(self, query: str, collections: list[CollectionSettings], config: Config,
                   top_k: int, client: str = INDEXER_CLIENT) -> list[Hit]:
        """The `top_k` best chunks of `collections` for `query`, best first."""
        db = self._connection()
        if db is None or not collections or not query.strip():
            return []
        rankings = [ranking for ranking in self.rankings(db, query, collections, config, client) if ranking]
        return index.hits(db, reciprocal_rank_fusion(rankings)[:top_k])

    def rankings(self, db: sqlite3.Connection, query: str, collections: list[CollectionSettings],
                 config: Config, client: str = INDEXER_CLIENT) -> tuple[list[int], list[int]]:
        """The best CANDIDATES chunk ids by BM25 and by their vectors, each best first."""
        if not index.current(db):
            return [], []  # an index of an older version, until the indexer has redone it
        generations = index.generations(db)
        for gone in self._held.keys() - generations.keys():
            del self._held[gone]  # a collection the indexer dropped
        held = {collection.name: self._loaded(db, collection.name, generations.get(collection.name, 0))
                for collection in collections}
        terms = bm25.query_terms(query)
        sparse = _best((float(score), int(chunks.ids[row])) for chunks in held.values()
                       for row, score in zip(*chunks.postings.top(terms, CANDIDATES), strict=True))
        return sparse, self._dense(query, collections, held, config, client)

    def _dense(self, query: str, collections: list[CollectionSettings], held: dict[str, index.Loaded],
               config: Config, client: str) -> list[int]:
        """Chunk ids by cosine similarity to the query, across collections (each with its own embedder)."""
        scored: list[tuple[float, int]] = []
        for collection in collections:
            vectors = held[collection.name].vectors
            if not len(vectors):
                continue
            try:
                question = self._embedder(collection, config, client).embed([query])[0]
            except Exception as exc:  # an embedding model that is down: BM25 still answers
                log.warning("localdocs: no query vector for collection '%s': %s", collection.name, exc)
                continue
            if question.shape[0] != vectors.shape[1]:
                continue  # vectors of another embedder, until the indexer has redone them
            similarity = vectors @ question
            best = np.argpartition(-similarity, min(CANDIDATES, len(similarity) - 1))[:CANDIDATES]
            scored.extend((float(similarity[i]), int(held[collection.name].ids[i])) for i in best)
        return _best(scored)

    def _loaded(self, db: sqlite3.Connection, name: str, generation: int) -> index.Loaded:
        """A collection's chunks at `generation` (the generation read before its chunks, so that a change made
        while they are read is a newer generation, loaded next time)."""
        held = self._held.get(name)
        if held is not None and held[0] != generation and len(held[1].ids) > LOAD_BEHIND_CHUNKS:
            if name not in self._loading:
                self._loading.add(name)
                self._loader.submit(self._load_behind, name)
        elif held is None or held[0] != generation:
            held = self._held[name] = (generation, index.load(db, name))
        return held[1]

    def _load_behind(self, name: str) -> None:
        try:
            db = index.connect(self.data_dir, readonly=True)  # a connection is used by one thread at a time
            try:
                generation = index.generations(db).get(name, 0)
                self._held[name] = (generation, index.load(db, name))
            finally:
                db.close()
        except (OSError, sqlite3.Error) as exc:
            log.warning("localdocs: collection '%s' not loaded again (the copy held still answers): %s", name, exc)
        finally:
            self._loading.discard(name)

    def _embedder(self, collection: CollectionSettings, config: Config, client: str) -> Embedder:
        key = (collection.embedding_model, config.path, client)
        if key not in self._embedders:
            self._embedders[key] = embedder_for(collection.embedding_model, config, client)
        return self._embedders[key]


def _best(scored: Iterable[tuple[float, int]]) -> list[int]:
    """The ids of the best CANDIDATES of (score, id) pairs from several collections."""
    return [chunk_id for _, chunk_id in sorted(scored, reverse=True)[:CANDIDATES]]
