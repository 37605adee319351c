"""Server activity: one record per API request, stored in SQLite (WAL) in the data dir.

Records are buffered in memory and handed in batches to a writer process per
worker (`python -m api.store.activity_writer`), so no SQLite work competes with the
worker's event loop for the GIL; several writers share the file safely (WAL,
busy timeout, short transactions). A graceful stop flushes what is buffered.

Nothing is lost silently: each writer checks, before every batch, that the file at the path is still
the one it has open (same device and inode), re-creates it (schema, WAL) when it was deleted or
replaced, keeps rows it cannot write (bounded) to retry them, and reports every change of its state
as one JSON line on its stdout, which the worker's `Recorder` reads into `Recorder.health` (shown by
`/admin/status`) and logs. The admin readers re-open the file the same way.
"""

from __future__ import annotations

import asyncio
import logging
import os
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
WAL_LIMIT = 4 * 1024 * 1024
"""Size the WAL file is brought back to after a reader held it open and let it grow."""

log = logging.getLogger("gatehouse")

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
    worker INTEGER NOT NULL,
    localdocs_collections TEXT,
    localdocs_snippets INTEGER,
    localdocs_tokens INTEGER,
    tool TEXT,
    route TEXT,
    attempts TEXT,
    usage TEXT,
    cost REAL,
    limited TEXT
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
    localdocs_collections: str | None = None
    """The LocalDocs collections searched for it, comma-separated; None when none was."""
    localdocs_snippets: int | None = None
    """Snippets added to its prompt (for a search: the results it returned)."""
    localdocs_tokens: int | None = None
    """Tokens of that snippet text (estimated: 4 characters a token)."""
    tool: str | None = None
    """For /mcp: the MCP method, and for a tool call the tool (`tools/call search_documents`)."""
    route: str | None = None
    """The `[routes.NAME]` the client asked for (the model it named), None when it named a model."""
    attempts: list[dict] | None = None
    """A route's tries, `[{"target", "status", "latency_ms", "error"}]`, the answering one last (stored as JSON
    text, made by the writer process: not on the request path)."""
    usage: dict | None = None
    """The usage object the provider reported, as it reported it: cache and reasoning tokens included (stored as
    JSON text, as `attempts`)."""
    cost: float | None = None
    """What the answer cost in USD by the price table (0 for local models); None when the price is unknown."""
    limited: str | None = None
    """The client's limit that refused the request: `rpm`, `tpm`, `concurrent` or `budget`."""
    pending: bool = False
    """True while a stream is still being relayed (it finishes the record itself); not stored."""
    settles: Callable[[Record], None] | None = None
    """Settles the client's limits when the record ends (api/govern/limits.py: tokens, cost, its place in
    flight); not stored."""
    sink: Callable[[Record], None] | None = None
    """Where the finished record goes; not stored."""

    def routed(self, provider: str, model: str, dialect_out: str, stream: bool) -> None:
        self.provider, self.model, self.dialect_out, self.stream = provider, f"{provider}:{model}", dialect_out, stream

    def searched(self, collections: list[str], snippets: int, chars: int) -> None:
        self.localdocs_collections, self.localdocs_snippets = ",".join(collections), snippets
        self.localdocs_tokens = -(-chars // 4)

    def called(self, tool: str) -> None:
        self.tool = tool

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


_NOT_STORED = ("started", "pending", "settles", "sink")
COLUMNS = tuple(f.name for f in fields(Record) if f.name not in _NOT_STORED)
_row = attrgetter(*COLUMNS)
_JSON_COLUMNS = (COLUMNS.index("attempts"), COLUMNS.index("usage"))
"""Columns held as JSON values in a record and stored as JSON text."""
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
    connection.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
    connection.row_factory = sqlite3.Row
    return connection


def prepare(data_dir: Path) -> None:
    """Create the activity file (WAL mode, schema) before the workers start, so a data dir
    that cannot hold it stops the server with one clear error. Raises OSError or sqlite3.Error.

    An existing file that cannot be written (read-only mount, immutable) opens read-only without
    complaint, so a real write is tried too (the schema version set to itself, then rolled back)."""
    connection = connect(data_dir / FILE_NAME)
    try:
        connection.executescript(SCHEMA)
        _add_new_columns(connection)
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            connection.execute(f"PRAGMA user_version={int(version)}")
        finally:
            connection.execute("ROLLBACK")
    finally:
        connection.close()


def _add_new_columns(connection: sqlite3.Connection) -> None:
    """Columns added since a file was made (LocalDocs', MCP's), added to it: old records hold NULL there."""
    present = {row[1] for row in connection.execute("PRAGMA table_info(activity)")}
    for line in SCHEMA.split("CREATE TABLE IF NOT EXISTS activity (")[1].split(");")[0].strip().splitlines():
        name = line.split()[0]
        if name not in present:
            connection.execute(f"ALTER TABLE activity ADD COLUMN {line.strip().rstrip(',')}")


class StoreUnavailable(Exception):
    """The activity file cannot be read now (deleted and not yet re-created, unreadable)."""


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file is at `path` (device, inode), None when there is none."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


class ActivityStore:
    """The activity table of one SQLite file: writes in batches, pruning, and the admin queries.

    One connection per thread (the writer process's, the worker's reader thread), opened again
    when the file at `path` is no longer the one it has open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self.ensure()

    def _open(self, identity: tuple[int, int] | None) -> sqlite3.Connection:
        self.close()
        connection = self._local.connection = connect(self.path)
        self._local.identity = identity or _identity(self.path)
        return connection

    def _connection(self) -> sqlite3.Connection:
        return self._local.connection

    def close(self) -> None:
        """Close this thread's connection; the next use opens the file again."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = self._local.identity = None
        if connection is not None:
            connection.close()

    def ensure(self) -> bool:
        """For a writer: make sure the file exists with its schema and this thread's connection is to it
        (re-created after it was deleted or replaced); True when it had to be opened again."""
        identity = _identity(self.path)
        if identity is not None and identity == getattr(self._local, "identity", None):
            return False
        self._open(identity).executescript(SCHEMA)
        return True

    def write(self, rows: list[list]) -> None:
        """Insert rows (values in COLUMNS order; `attempts` and `usage` as JSON values, or text) in one
        transaction."""
        for row in rows:
            for column in _JSON_COLUMNS:
                if isinstance(row[column], (list, dict)):
                    row[column] = orjson.dumps(row[column]).decode()
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

    def shrink_wal(self) -> None:
        """Checkpoint the WAL and truncate it once it has grown past WAL_LIMIT (a reader held a transaction
        while rows were written, so the checkpoints could not reach its end); skipped, not waited for,
        while a reader or another writer is busy: tried again at the next prune."""
        try:
            if os.stat(f"{self.path}-wal").st_size <= WAL_LIMIT:
                return
        except FileNotFoundError:
            return
        connection = self._connection()
        connection.execute("PRAGMA busy_timeout=100")
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            connection.execute("PRAGMA busy_timeout=10000")

    def query(self, sql: str, parameters: tuple = ()) -> list[dict]:
        """Rows of one read (its transaction ends with it); StoreUnavailable when the file cannot be read."""
        identity = _identity(self.path)
        if identity is None:
            raise StoreUnavailable("the activity file is missing; it is re-created with the next records")
        try:
            if identity != getattr(self._local, "identity", None):
                self._open(identity)
            return [dict(row) for row in self._connection().execute(sql, parameters).fetchall()]
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the activity file cannot be read: {exc}") from exc


def as_json(row: dict) -> dict:
    """A stored row as the admin API shows it."""
    return {**row, "time": datetime.fromtimestamp(row["ts"]).astimezone().isoformat(timespec="milliseconds"),
            "stream": bool(row["stream"]), "tokens_estimated": bool(row["tokens_estimated"]),
            "attempts": _parsed(row.get("attempts")), "usage": _parsed(row.get("usage"))}


def _parsed(text: str | None) -> object:
    """A JSON column as the value it holds (None stays None)."""
    return None if text is None else orjson.loads(text)


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


@dataclass(slots=True)
class Health:
    """Whether a worker's records reach the file, as its writer last reported (one JSON line of these fields)."""

    recording: bool = True
    problem: str | None = None
    """Why records are not written now; while recording, the last problem, since resolved."""
    since: float | None = None
    """When `recording` or `problem` last changed (epoch seconds)."""
    lost: int = 0
    """Records dropped for good: more than the writer keeps while the file cannot take them."""


class Recorder:
    """Buffers a worker's records and hands them in batches to its writer process.

    Frames on the writer's stdin: a 4-byte big-endian length, then a JSON array
    `[max_age_s, max_rows, rows]` (rows in COLUMNS order; an empty batch only prunes).
    The writer's stdout carries its `Health` reports, read into `health` and logged, and its write lag after each
    write (`on_lag`).
    """

    def __init__(self, store: ActivityStore, *, max_age_s: float, max_rows: int, echo: bool,
                 on_lag: Callable[[float], None] | None = None) -> None:
        self.store = store
        self.on_lag = on_lag
        """Told, after each write, the seconds from the end of the oldest request written to its row in the file."""
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
        self.health = Health()
        self._listening: asyncio.Task | None = None
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="activity-reader")
        self._pruned = 0.0

    def add(self, record: Record) -> None:
        self._pending += orjson.dumps(_row(record))
        self._pending += b","
        if self.echo:
            self._lines.append(summary_line(record) + "\n")

    async def start(self) -> None:
        self._writer = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "api.store.activity_writer", str(self.store.path),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        self._listening = asyncio.create_task(self._listen(self._writer.stdout))

    async def _listen(self, reports: asyncio.StreamReader | None) -> None:
        """Take in the writer's reports (one per change, so each is logged once)."""
        assert reports is not None  # started with stdout=PIPE
        while line := await reports.readline():
            report = orjson.loads(line)
            if "lag_s" in report:
                if self.on_lag is not None:
                    self.on_lag(report["lag_s"])
                continue
            self.health = Health(**report, since=time.time())
            if not self.health.recording:
                log.error("worker %d: activity is not being recorded: %s", os.getpid(), self.health.problem)
            elif self.health.problem:
                log.warning("worker %d: activity recording resumed after: %s", os.getpid(), self.health.problem)

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
        if self._listening is not None:
            await self._listening
        self._reader.shutdown(wait=False)

    async def query(self, sql: str, parameters: tuple = ()) -> list[dict]:
        return await asyncio.get_running_loop().run_in_executor(self._reader, self.store.query, sql, parameters)
