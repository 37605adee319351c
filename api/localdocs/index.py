"""The LocalDocs index: one SQLite file (WAL) in the data dir, written by the one indexer process
(`api.localdocs.indexer`) and read by every worker.

Per collection: its state, per file: size, mtime, content hash and the reason it could not be read, per chunk:
its text, place (path, title, heading, page, character offsets) and vector (float32, L2-normalised, of the
collection's embedder) and terms (`api.localdocs.bm25`). `collections.generation` grows with every change to a
collection's chunks, so a reader knows when what it holds in memory is stale. The index is a cache of the
files: a file of another `SCHEMA_VERSION` is emptied and everything indexed again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from api.localdocs import bm25
from api.localdocs.chunking import Chunk

FILE_NAME = "localdocs.sqlite3"
"""The index, in `[server].data_dir`."""
BUSY_TIMEOUT_MS = 10_000
SCHEMA_VERSION = 3
"""`PRAGMA user_version` of the current schema (1 kept BM25 in an FTS5 table; 2 had no scan progress)."""

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
    reindex INTEGER NOT NULL DEFAULT 0,
    files_total INTEGER,
    files_done INTEGER
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
    vector BLOB,
    term_hashes BLOB NOT NULL,
    term_counts BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_of_document ON chunks (document);
CREATE INDEX IF NOT EXISTS chunks_of_collection ON chunks (collection);
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
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA journal_mode=WAL")
        _prepare(connection)
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    connection.row_factory = sqlite3.Row
    return connection


def current(connection: sqlite3.Connection) -> bool:
    """Whether the index is of this version's schema (a reader waits for the indexer to redo an old one)."""
    return connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def _prepare(connection: sqlite3.Connection) -> None:
    """The schema, created; an index of another version emptied first."""
    with transaction(connection):
        if not current(connection):
            for kind in ("CREATE VIRTUAL TABLE%", "CREATE TABLE%"):  # virtual ones drop their shadow tables
                for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE ?",
                                                   (kind,)).fetchall():
                    connection.execute(f'DROP TABLE IF EXISTS "{table}"')
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)


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


def add_document(connection: sqlite3.Connection, collection: str, path: str, size: int, mtime: float, digest: str,
                 title: str | None, pieces: Sequence[Chunk], vectors: Sequence[np.ndarray]) -> None:
    """A document read whole, and its chunks, each with its vector and its terms."""
    document = connection.execute(
        "INSERT INTO documents (collection, path, size, mtime, hash, title) VALUES (?, ?, ?, ?, ?, ?)",
        (collection, path, size, mtime, digest, title)).lastrowid
    connection.executemany(
        "INSERT INTO chunks (document, collection, path, title, heading, page, start, end, text, vector, "
        "term_hashes, term_counts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(document, collection, path, piece.title, piece.heading, piece.page, piece.start, piece.end, piece.text,
          vector_blob(vector), *bm25.terms(piece.text, piece.heading, piece.title))
         for piece, vector in zip(pieces, vectors, strict=True)])


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


@dataclass(frozen=True, slots=True)
class Loaded:
    """A collection's chunks as a worker holds them: their ids, vectors (L2-normalised rows; none when the
    collection's embedder changed and the indexer has not redone them all) and BM25 postings."""

    ids: np.ndarray
    vectors: np.ndarray
    postings: bm25.Postings


def load(connection: sqlite3.Connection, collection: str) -> Loaded:
    """Everything of a collection, read in one pass; vectors go straight into their matrix and terms into one
    buffer each, so that 100,000 chunks are never held twice."""
    count, size = connection.execute("SELECT COUNT(*), MAX(LENGTH(vector)) FROM chunks WHERE collection = ?",
                                      (collection,)).fetchone()
    ids = np.zeros(count, dtype=np.int64)
    matrix = np.zeros((count, (size or 0) // 4), dtype=np.float32)
    per_row = np.zeros(count, dtype=np.int64)
    hashes, counts = bytearray(), bytearray()
    filled, vectors_whole = 0, bool(size)
    for chunk_id, vector, term_hashes, term_counts in connection.execute(
            "SELECT id, vector, term_hashes, term_counts FROM chunks WHERE collection = ?", (collection,)):
        if filled == count:
            break  # written since the count: the next load has it
        ids[filled] = chunk_id
        if vector is not None and len(vector) == size:
            matrix[filled] = np.frombuffer(vector, dtype=np.float32)
        else:
            vectors_whole = False  # of another embedder, or none: until the indexer has redone them
        per_row[filled] = len(term_hashes) // 8
        hashes += term_hashes
        counts += term_counts
        filled += 1
    postings = bm25.Postings.build(np.frombuffer(hashes, dtype=np.uint64), np.frombuffer(counts, dtype=np.uint16),
                                   per_row[:filled])
    return Loaded(ids[:filled], matrix[:filled] if vectors_whole else np.zeros((0, 0), dtype=np.float32), postings)


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
                            "files_total": row["files_total"], "files_done": row["files_done"],
                            "errors": errors, "embedder": row["embedder"]}
    return out


def request_reindex(connection: sqlite3.Connection, name: str) -> None:
    """Ask the indexer to read every file of a collection again (requests made while one runs are one)."""
    with transaction(connection):
        connection.execute("UPDATE collections SET reindex = 1 WHERE name = ?", (name,))
