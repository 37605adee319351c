"""Server activity: one record per API request, stored in SQLite (WAL) in the data dir.

Records are buffered in memory and handed in batches to a writer process per
worker (`python -m api.store.activity_writer`), so no SQLite work competes with the
worker's event loop for the GIL; several writers share the file safely (WAL,
busy timeout, short transactions). A graceful stop flushes what is buffered.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from pathlib import Path

import orjson

FILE_NAME = "activity.sqlite3"
"""The activity file, in `[server].data_dir`."""
FLUSH_S = 0.25
"""Longest a record waits in memory before it is written."""
PRUNE_EVERY_S = 2.0
"""How often each worker applies the retention limits (two indexed deletes)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    ts REAL NOT NULL,
    client TEXT NOT NULL,
    key_id TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    dialect_in TEXT NOT NULL,
    dialect_out TEXT,
    provider TEXT,
    model TEXT,
    stream INTEGER NOT NULL,
    status INTEGER NOT NULL,
    error TEXT,
    latency_ms REAL NOT NULL,
    ttfb_ms REAL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    total_tokens INTEGER,
    tokens_estimated INTEGER NOT NULL,
    request_bytes INTEGER NOT NULL,
    response_bytes INTEGER NOT NULL,
    worker INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS activity_ts ON activity (ts);
CREATE INDEX IF NOT EXISTS activity_client ON activity (client, id);
CREATE INDEX IF NOT EXISTS activity_model ON activity (model, id);
"""


@dataclass(slots=True)
class Record:
    """One API request, filled in as it is served."""

    request_id: str
    ts: float
    """When the request arrived (epoch seconds)."""
    client: str
    key_id: str | None
    """Fingerprint of the key used (never the key)."""
    method: str
    path: str
    dialect_in: str
    started: float
    """time.perf_counter() at arrival; not stored."""
    dialect_out: str | None = None
    provider: str | None = None
    model: str | None = None
    """The model as `provider:model`."""
    stream: bool = False
    status: int = 0
    error: str | None = None
    latency_ms: float = 0.0
    ttfb_ms: float | None = None
    """Time to the first byte of a stream."""
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    tokens_estimated: bool = False
    request_bytes: int = 0
    response_bytes: int = 0
    worker: int = 0
    """Pid of the worker that served it."""
    pending: bool = False
    """True while a stream is still being relayed (it finishes the record itself); not stored."""
    sink: Callable[[Record], None] | None = None
    """Where the finished record goes; not stored."""

    def routed(self, provider: str, model: str, dialect_out: str, stream: bool) -> None:
        self.provider, self.model, self.dialect_out, self.stream = provider, f"{provider}:{model}", dialect_out, stream

    def tokens(self, input_tokens: int | None, output_tokens: int | None, estimated: bool = False) -> None:
        self.input_tokens, self.output_tokens, self.tokens_estimated = input_tokens, output_tokens, estimated
        if input_tokens is not None or output_tokens is not None:
            self.total_tokens = (input_tokens or 0) + (output_tokens or 0)

    def finish(self, response_bytes: int) -> None:
        self.latency_ms = (time.perf_counter() - self.started) * 1000
        self.response_bytes = response_bytes
        self.pending = False
        if self.sink is not None:
            self.sink(self)


_NOT_STORED = ("started", "pending", "sink")
COLUMNS = tuple(f.name for f in fields(Record) if f.name not in _NOT_STORED)
_row = attrgetter(*COLUMNS)
ROWS_PER_INSERT = 256
"""Rows per INSERT statement: a quarter less CPU per row than executemany."""
_VALUES = "(" + ", ".join("?" for _ in COLUMNS) + ")"


def _insert(rows: int) -> str:
    return f"INSERT INTO activity ({', '.join(COLUMNS)}) VALUES " + ", ".join([_VALUES] * rows)


def _switch_to_wal(connection: sqlite3.Connection, timeout_s: float = 10) -> None:
    """Put the file in WAL mode. When several processes make the switch on a new file at once,
    SQLite answers "database is locked" straight away, without waiting on its busy timeout
    (each holds a shared lock the others' exclusive one needs), so the wait is done here."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout=10000")  # first: several workers open the file at once
    _switch_to_wal(connection)
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.row_factory = sqlite3.Row
    return connection


def prepare(data_dir: Path) -> None:
    """Create the activity file (WAL mode, schema) before the workers start, so a data dir
    that cannot hold it stops the server with one clear error. Raises OSError or sqlite3.Error."""
    connection = connect(data_dir / FILE_NAME)
    try:
        connection.executescript(SCHEMA)
    finally:
        connection.close()


class ActivityStore:
    """The activity table of one SQLite file: writes in batches, pruning, and the admin queries."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        with self._connection() as connection:
            connection.executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        """One connection per thread (the writer thread, the reader thread)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = connect(self.path)
        return connection

    def write(self, rows: list[list]) -> None:
        """Insert rows (values in COLUMNS order) in one transaction."""
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(rows), ROWS_PER_INSERT):
                chunk = rows[start:start + ROWS_PER_INSERT]
                connection.execute(_insert(len(chunk)), [value for row in chunk for value in row])
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def prune(self, max_age_s: float, max_rows: int) -> int:
        """Delete records older than `max_age_s` and beyond the newest `max_rows`; how many went."""
        connection = self._connection()
        before = connection.total_changes
        connection.execute("DELETE FROM activity WHERE ts < ?", (time.time() - max_age_s,))
        # Ids only grow and the oldest rows go first, so the newest max_rows have the highest ids.
        connection.execute("DELETE FROM activity WHERE id <= (SELECT MAX(id) FROM activity) - ?", (max_rows,))
        return connection.total_changes - before

    def query(self, sql: str, parameters: tuple = ()) -> list[dict]:
        return [dict(row) for row in self._connection().execute(sql, parameters).fetchall()]


def as_json(row: dict) -> dict:
    """A stored row as the admin API shows it."""
    return {**row, "time": datetime.fromtimestamp(row["ts"]).astimezone().isoformat(timespec="milliseconds"),
            "stream": bool(row["stream"]), "tokens_estimated": bool(row["tokens_estimated"])}


def summary_line(record: Record) -> str:
    """One concise line for headless mode: time, client, model, status, latency, tokens."""
    moment = time.strftime("%H:%M:%S", time.localtime(record.ts))
    if record.total_tokens is None:
        tokens = "- tokens"
    else:
        mark = "~" if record.tokens_estimated else ""
        tokens = f"{mark}{record.input_tokens or 0}+{record.output_tokens or 0} tokens"
    stream = " stream" if record.stream else ""
    error = f" ({record.error[:80]})" if record.error else ""
    return (f"{moment} {record.client} {record.model or record.path} {record.status}{stream} "
            f"{record.latency_ms:.1f} ms {tokens}{error}")


class Recorder:
    """Buffers a worker's records and hands them in batches to its writer process.

    Frames on the writer's stdin: a 4-byte big-endian length, then a JSON array
    `[max_age_s, max_rows, rows]` (rows in COLUMNS order; an empty batch only prunes).
    """

    def __init__(self, store: ActivityStore, *, max_age_s: float, max_rows: int, echo: bool) -> None:
        self.store = store
        self.max_age_s = max_age_s
        self.max_rows = max_rows
        self.echo = echo
        self._pending = bytearray()
        """Rows waiting for the writer, already JSON, each followed by a comma. One growing buffer
        instead of thousands of row objects: the garbage collector never sees them (buffered Record
        objects made its collections measurably slower), and a large batch leaves no half-empty
        memory arenas behind (the worker's RSS is 1-1.5 MB lower and steadier than with row tuples)."""
        self._lines: list[str] = []
        self._writer: asyncio.subprocess.Process | None = None
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="activity-reader")
        self._pruned = 0.0

    def add(self, record: Record) -> None:
        self._pending += orjson.dumps(_row(record))
        self._pending += b","
        if self.echo:
            self._lines.append(summary_line(record) + "\n")

    async def start(self) -> None:
        self._writer = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "api.store.activity_writer", str(self.store.path), stdin=asyncio.subprocess.PIPE)

    async def run(self, stopping: asyncio.Event) -> None:
        """Flush every FLUSH_S until `stopping` is set."""
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), FLUSH_S)
            except TimeoutError:
                pass
            await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, bytearray()
        prune = time.monotonic() - self._pruned > PRUNE_EVERY_S
        if prune:
            self._pruned = time.monotonic()
        if not (batch or prune) or self._writer is None:
            return
        # The frame is written in pieces, so a batch (about 500 kB at 2,000 requests/s) is never copied:
        # freed blocks of that size can stay in the worker's heap (docs/perf.md, the memory runs).
        head = orjson.dumps([self.max_age_s if prune else None, self.max_rows])[:-1] + b",["
        if batch:
            batch[-1] = ord("]")  # the last row's comma closes the list of rows
        else:
            batch = bytearray(b"]")
        size = len(head) + len(batch) + 1
        frames = self._writer.stdin
        assert frames is not None  # started with stdin=PIPE
        frames.writelines((size.to_bytes(4, "big") + head, batch, b"]"))
        await frames.drain()
        if self._lines:
            lines, self._lines = self._lines, []
            sys.stdout.write("".join(lines))
            sys.stdout.flush()

    async def close(self) -> None:
        """Hand over everything still buffered and wait until it is written."""
        await self.flush()
        if self._writer is not None:
            assert self._writer.stdin is not None  # started with stdin=PIPE
            self._writer.stdin.close()
            await self._writer.wait()
        self._reader.shutdown(wait=False)

    async def query(self, sql: str, parameters: tuple = ()) -> list[dict]:
        return await asyncio.get_running_loop().run_in_executor(self._reader, self.store.query, sql, parameters)
