"""Hybrid search over the LocalDocs index, in a worker: BM25 from the index's FTS5 table and cosine similarity
over each collection's vectors (kept in memory, loaded again when the indexer changes the collection), fused
by reciprocal rank. Without vectors (no embedder could run) BM25 alone answers.

Searches run on one thread of their own (SQLite and numpy release the GIL), never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from api.config.settings import CollectionSettings, Config
from api.localdocs import index
from api.localdocs.embedding import Embedder, embedder_for
from api.localdocs.fusion import reciprocal_rank_fusion
from api.localdocs.index import Hit

log = logging.getLogger("gatehouse")

CANDIDATES = 100
"""Chunks taken from each ranking (BM25, vectors) before they are fused."""


@dataclass(slots=True)
class _Vectors:
    generation: int
    ids: np.ndarray
    matrix: np.ndarray


class Searcher:
    """A worker's searcher over the index in `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._db: sqlite3.Connection | None = None
        self._vectors: dict[str, _Vectors] = {}
        self._embedders: dict[tuple[str | None, Path], Embedder] = {}
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="localdocs-search")

    async def search(self, query: str, collections: list[CollectionSettings], config: Config,
                     top_k: int) -> list[Hit]:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self.search_now, query, collections,
                                                                config, top_k)

    async def status(self) -> dict[str, dict]:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._status)

    async def reindex(self, name: str) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._reindex, name)

    def close(self) -> None:
        self._thread.shutdown(wait=False)

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
                   top_k: int) -> list[Hit]:
        """The `top_k` best chunks of `collections` for `query`, best first."""
        db = self._connection()
        if db is None or not collections or not query.strip():
            return []
        names = [collection.name for collection in collections]
        rankings = [index.bm25(db, query, names, CANDIDATES)]
        dense = self._dense(db, query, collections, config)
        if dense:
            rankings.append(dense)
        fused = reciprocal_rank_fusion(rankings)[:top_k]
        return index.hits(db, fused)

    def _dense(self, db: sqlite3.Connection, query: str, collections: list[CollectionSettings],
               config: Config) -> list[int]:
        """Chunk ids by cosine similarity to the query, across collections (each with its own embedder)."""
        generations = index.generations(db)
        scored: list[tuple[float, int]] = []
        for collection in collections:
            vectors = self._vectors_of(db, collection.name, generations.get(collection.name, 0))
            if not len(vectors.ids):
                continue
            try:
                embedder = self._embedder(collection, config)
                question = embedder.embed([query])[0]
            except Exception as exc:  # an embedding model that is down: BM25 still answers
                log.warning("localdocs: no query vector for collection '%s': %s", collection.name, exc)
                continue
            if question.shape[0] != vectors.matrix.shape[1]:
                continue  # vectors of another embedder, until the indexer has redone them
            similarity = vectors.matrix @ question
            best = np.argpartition(-similarity, min(CANDIDATES, len(similarity) - 1))[:CANDIDATES]
            scored.extend((float(similarity[i]), int(vectors.ids[i])) for i in best)
        scored.sort(reverse=True)
        return [chunk_id for _, chunk_id in scored[:CANDIDATES]]

    def _vectors_of(self, db: sqlite3.Connection, name: str, generation: int) -> _Vectors:
        held = self._vectors.get(name)
        if held is None or held.generation != generation:
            ids, matrix = index.vectors(db, name)
            held = self._vectors[name] = _Vectors(generation, ids, matrix)
        return held

    def _embedder(self, collection: CollectionSettings, config: Config) -> Embedder:
        key = (collection.embedding_model, config.path)
        if key not in self._embedders:
            self._embedders[key] = embedder_for(collection.embedding_model, config)
        return self._embedders[key]
