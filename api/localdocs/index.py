"""The LocalDocs index: one SQLite file (WAL) in the data dir, written by the one indexer process
(`api.localdocs.indexer`) and read by every worker.

Per collection: its state, per file: size, mtime, content hash and the reason it could not be read, per chunk:
its text, place (path, title, heading, page, character offsets) and vector (float32, L2-normalised, of the
collection's embedder). `chunks_fts` (FTS5, Porter stemming) gives BM25. `collections.generation` grows with
every change to a collection's chunks, so a reader knows when its vectors in memory are stale.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FILE_NAME = "localdocs.sqlite3"
"""The index, in `[server].data_dir`."""
BUSY_TIMEOUT_MS = 10_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    problem TEXT,
    files INTEGER NOT NULL DEFAULT 0,
    embedder TEXT,
    last_indexed REAL,
    generation INTEGER NOT NULL DEFAULT 0,
    reindex INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    hash TEXT,
    title TEXT,
    error TEXT,
    UNIQUE (collection, path)
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    document INTEGER NOT NULL,
    collection TEXT NOT NULL,
    path TEXT NOT NULL,
    title TEXT NOT NULL,
    heading TEXT,
    page INTEGER,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB
);
CREATE INDEX IF NOT EXISTS chunks_of_document ON chunks (document);
CREATE INDEX IF NOT EXISTS chunks_of_collection ON chunks (collection);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5 (
    text, title, heading, collection UNINDEXED, content='chunks', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
INSERT INTO chunks_fts (chunks_fts, rank) VALUES ('rank', 'bm25(1.0, 0.5, 0.5)');
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, text, title, heading, collection)
    VALUES (new.id, new.text, new.title, new.heading, new.collection);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text, title, heading, collection)
    VALUES ('delete', old.id, old.text, old.title, old.heading, old.collection);
END;
"""


@dataclass(frozen=True, slots=True)
class Hit:
    """A chunk found by a search, with its fused score."""

    chunk_id: int
    collection: str
    path: str
    title: str
    heading: str | None
    page: int | None
    text: str
    score: float


def connect(data_dir: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the index (created with its schema when written to first)."""
    path = data_dir / FILE_NAME
    if readonly:
        if not path.exists():
            raise FileNotFoundError(path)
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(SCHEMA)
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    connection.row_factory = sqlite3.Row
    return connection


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def vector_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


_STOPWORD_TEXT = """
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her here
hers him his how i if in into is it its itself just me more most must my no nor not now of off on once only or
other our ours out over own same shall she should so some such than that the their theirs them then there these
they this those through to too under until up very was we were what when where which while who whom why will
with would you your yours
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
"""English words too common to tell documents apart: left out of a BM25 query, where every one of them would
match (and rank) nearly every chunk, which at 100,000 chunks costs more than the rest of the search."""


def fts_query(text: str) -> str | None:
    """An FTS5 query matching any word of `text` but the stop words (each quoted, so no punctuation is read as
    syntax); None when it has no words."""
    words = [word for word in "".join(c if c.isalnum() else " " for c in text.lower()).split()
             if len(word) > 1 and word not in STOPWORDS]
    if not words:
        return None
    return " OR ".join(f'"{word}"' for word in dict.fromkeys(words))


def bm25(connection: sqlite3.Connection, query: str, collections: Iterable[str], limit: int) -> list[int]:
    """Chunk ids of `collections`, best BM25 match first."""
    match = fts_query(query)
    names = list(collections)
    if match is None or not names:
        return []
    marks = ",".join("?" * len(names))
    rows = connection.execute(
        f"SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? AND collection IN ({marks}) ORDER BY rank LIMIT ?",
        (match, *names, limit))
    return [row[0] for row in rows]


def hits(connection: sqlite3.Connection, scored: list[tuple[int, float]]) -> list[Hit]:
    """The chunks of `scored` (id, score), in that order."""
    if not scored:
        return []
    ids = [chunk_id for chunk_id, _ in scored]
    rows = {row["id"]: row for row in connection.execute(
        f"SELECT id, collection, path, title, heading, page, text FROM chunks WHERE id IN ({','.join('?' * len(ids))})",
        ids)}
    return [Hit(chunk_id, row["collection"], row["path"], row["title"], row["heading"], row["page"], row["text"],
                score) for chunk_id, score in scored if (row := rows.get(chunk_id)) is not None]


def generations(connection: sqlite3.Connection) -> dict[str, int]:
    return {row["name"]: row["generation"] for row in connection.execute("SELECT name, generation FROM collections")}


def vectors(connection: sqlite3.Connection, collection: str) -> tuple[np.ndarray, np.ndarray]:
    """The chunk ids and the matrix of vectors of a collection (rows L2-normalised), filled row by row so that
    loading 100,000 vectors never holds them twice."""
    count, size = connection.execute("SELECT COUNT(*), MAX(LENGTH(vector)) FROM chunks WHERE collection = ? AND "
                                     "vector IS NOT NULL", (collection,)).fetchone()
    if not count:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    ids = np.zeros(count, dtype=np.int64)
    matrix = np.zeros((count, size // 4), dtype=np.float32)
    filled = 0
    for chunk_id, vector in connection.execute("SELECT id, vector FROM chunks WHERE collection = ? AND vector IS NOT "
                                               "NULL", (collection,)):
        if filled == count or len(vector) != size:
            continue  # written since the count, or of another embedder: the next load has it
        ids[filled] = chunk_id
        matrix[filled] = np.frombuffer(vector, dtype=np.float32)
        filled += 1
    return ids[:filled], matrix[:filled]


def status(connection: sqlite3.Connection) -> dict[str, dict]:
    """Each collection as /admin/collections shows it (without its embedding model, which is the config's)."""
    out: dict[str, dict] = {}
    for row in connection.execute("SELECT * FROM collections"):
        counts = connection.execute(
            "SELECT COUNT(*) AS files, COUNT(*) FILTER (WHERE error IS NULL AND hash IS NOT NULL) AS indexed "
            "FROM documents WHERE collection = ?", (row["name"],)).fetchone()
        chunks = connection.execute("SELECT COUNT(*) FROM chunks WHERE collection = ?", (row["name"],)).fetchone()[0]
        errors = [{"path": error["path"], "reason": error["error"]} for error in connection.execute(
            "SELECT path, error FROM documents WHERE collection = ? AND error IS NOT NULL ORDER BY path",
            (row["name"],))]
        out[row["name"]] = {"state": row["state"], "problem": row["problem"], "files": counts["files"],
                            "files_indexed": counts["indexed"], "chunks": chunks, "last_indexed": row["last_indexed"],
                            "errors": errors, "embedder": row["embedder"]}
    return out


def request_reindex(connection: sqlite3.Connection, name: str) -> None:
    """Ask the indexer to read every file of a collection again (requests made while one runs are one)."""
    with transaction(connection):
        connection.execute("UPDATE collections SET reindex = 1 WHERE name = ?", (name,))
