"""Counters every worker of the server shares, kept across restarts: the limits' and budgets' state.

One small file in the data dir, memory-mapped by each worker; every read-change-write happens under the lock
kept in the file (api/govern/shared_lock.py; on the request path a client's check or settlement is one C call,
api/govern/_gate.c), so a limit holds exactly however many Granian workers serve, with no extra process on the
request path and nothing to install. (SQLite, tried first, costs tens of microseconds per transaction and
serialises the workers on its write lock; see docs/limits.md.)

The file holds:
- a table of `SLOTS` entries found by a 64-bit hash of their key (open addressing), each with `VALUES`
  numbers, what `api/govern/limits.py` keeps per client (rate-limit clocks, a budget's period and spend), and
  the requests it has in flight;
- a row per worker process with how many requests it holds in flight per entry, so that the places of a worker
  that died (killed, replaced by Granian) are given back when the next worker starts.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import mmap
import os
import struct
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from api.config.settings import MAX_LIMITED_CLIENTS
from api.govern import _gate
from api.govern.shared_lock import MUTEX_BYTES, SharedLock, initialise

log = logging.getLogger("gatehouse")

FILE_NAME = "limits.ledger"
"""The ledger file, in `[server].data_dir`."""
MAGIC = b"GHLEDG01"
SLOTS = MAX_LIMITED_CLIENTS
"""Entries the table holds (a client with limits takes one; one that no longer has any keeps it until `prepare`
lets it go)."""
VALUES = _gate.IN_FLIGHT
"""An entry's numbers kept for its client (api/govern/_gate.c names them), followed by its requests in flight."""
WORKER_ROWS = 64
"""Worker processes that can hold requests at once (Granian's workers, and those that replaced them)."""

_HEADER = struct.Struct("<8sII")  # magic, slots, worker rows
_LOCK_AT = _HEADER.size
"""The file's lock (its mutex) follows the header."""
_KEY = struct.Struct("<Q")
IN_FLIGHT = VALUES
"""The index, in an entry's values, of the requests it has in flight (kept by its gates)."""
_ENTRY = struct.Struct(f"<Q{VALUES + 1}d")
_ENTRY_SIZE = 64
_ROW_PID = struct.Struct("<Q")
_COUNT = struct.Struct("<I")
_ROW_SIZE = _ROW_PID.size + _COUNT.size * SLOTS
_TABLE_AT = 64
assert _LOCK_AT + MUTEX_BYTES <= _TABLE_AT
_ROWS_AT = _TABLE_AT + SLOTS * _ENTRY_SIZE
SIZE = _ROWS_AT + WORKER_ROWS * _ROW_SIZE


def _slot_at(slot: int) -> int:
    """Where the table's `slot` (its key, then its values) begins in the file."""
    return _TABLE_AT + slot * _ENTRY_SIZE


def _entry_of(slot: int) -> int:
    """Where the values of the table's `slot` begin, in the file read as 8-byte floats (`Ledger.numbers`)."""
    return (_slot_at(slot) + _KEY.size) // 8


_FIRST_ENTRY = _entry_of(0)
_ENTRY_NUMBERS = _ENTRY_SIZE // 8
"""An entry's values in `Ledger.numbers` are `_ENTRY_NUMBERS` apart: the slot of entry `e` is
`(e - _FIRST_ENTRY) // _ENTRY_NUMBERS`."""


class LedgerFull(Exception):
    """Every entry of the table is taken."""


def _probe(memory: mmap.mmap, wanted: int) -> int | None:
    """The slot of the table holding the key hashed as `wanted`, else the first empty one on its way (open
    addressing, linear probing); None when every slot is taken by other keys."""
    index = wanted % SLOTS
    for _ in range(SLOTS):
        (held,) = _KEY.unpack_from(memory, _slot_at(index))
        if held in (wanted, 0):
            return index
        index = (index + 1) % SLOTS
    return None


def _row_at(row: int) -> int:
    """Where a worker row begins in the file."""
    return _ROWS_AT + row * _ROW_SIZE


def _hash(key: str) -> int:
    """The key's 64-bit hash, the same in every process (Python's `hash` is not); never 0 (an empty entry)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") or 1


def prepare(data_dir: Path, keep: Collection[str]) -> None:
    """Before the workers start (`python -m api`): the file made or made right, and nothing held in flight
    any more (the requests of an earlier run are gone); what clients spent and their rate-limit clocks stay, but
    once more than half the table is taken, only for the keys in `keep` (the config's limited clients: see
    `_let_go`). Raises OSError when the data dir cannot hold it."""
    fd = _open(data_dir)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with mmap.mmap(fd, SIZE) as memory:
            initialise(memory, _LOCK_AT)
            with memoryview(memory).cast("d") as numbers:
                for slot in range(SLOTS):
                    numbers[_entry_of(slot) + IN_FLIGHT] = 0.0
            shared = any(_alive(pid) for row in range(WORKER_ROWS)
                         if (pid := _ROW_PID.unpack_from(memory, _row_at(row))[0]))
            memory[_ROWS_AT:SIZE] = bytes(SIZE - _ROWS_AT)
            if not shared:  # (another server on this data dir has its workers on the entries: none is moved)
                _let_go(memory, keep)
    finally:
        os.close(fd)


def _let_go(memory: mmap.mmap, keep: Collection[str]) -> None:
    """When more than half the table is taken, the entries of keys not in `keep` let go (said in the log: their
    counters are lost) and the kept ones put back where a lookup finds them, so that clients coming and going over
    the years never fill it. Only while no worker has the file open (their entries would move)."""
    taken = [entry for slot in range(SLOTS) if (entry := _ENTRY.unpack_from(memory, _slot_at(slot)))[0]]
    if len(taken) <= SLOTS // 2:
        return
    wanted = {_hash(key) for key in keep}
    kept = [entry for entry in taken if entry[0] in wanted]
    if len(kept) == len(taken):
        return
    memory[_TABLE_AT:_ROWS_AT] = bytes(_ROWS_AT - _TABLE_AT)
    for entry in kept:
        index = _probe(memory, entry[0])
        assert index is not None  # (fewer entries than slots: there is an empty one)
        _ENTRY.pack_into(memory, _slot_at(index), *entry)
    log.warning("the limits ledger had %d of its %d entries taken: let go of the counters of %d clients the config "
                "no longer limits", len(taken), SLOTS, len(taken) - len(kept))


def _open(data_dir: Path) -> int:
    """The ledger file opened, created (or re-made, when it is not a ledger of this layout) if need be."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / FILE_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        if os.fstat(fd).st_size != SIZE or os.pread(fd, len(MAGIC), 0) != MAGIC:
            os.ftruncate(fd, 0)
            os.ftruncate(fd, SIZE)
            os.pwrite(fd, _HEADER.pack(MAGIC, SLOTS, WORKER_ROWS), 0)
            with mmap.mmap(fd, SIZE) as memory:
                initialise(memory, _LOCK_AT)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
    return fd


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class Ledger:
    """One worker's view of the shared file. Open it in the worker process itself (an `flock` taken through
    a file descriptor inherited across fork would not keep its parent out)."""

    def __init__(self, data_dir: Path) -> None:
        self._fd = _open(data_dir)
        self._map = mmap.mmap(self._fd, SIZE)
        self._lock = SharedLock(self._fd, self._map, _LOCK_AT, f"the limits ledger ({data_dir / FILE_NAME})")
        self.numbers = memoryview(self._map).cast("d")
        """The file as 8-byte floats: the entries' values (`entry`), read and written in place under the lock."""
        self._counts = memoryview(self._map).cast("I")
        """The file as 4-byte counts: the worker rows' (`_release_row`)."""
        self._entries: dict[str, int] = {}
        self.pid = os.getpid()
        with self.locked():
            self._row = self._claim_row()
        self._counts_at = self._counts_of(self._row)
        """Where this worker's row of counts begins in `_counts`."""

    def close(self) -> None:
        with self.locked():
            self._release_row(self._row)
        self._lock.close()  # (its gates raise ValueError from then on)
        self.numbers.release()
        self._counts.release()
        self._map.close()
        os.close(self._fd)

    @contextmanager
    def locked(self) -> Iterator[None]:
        self._lock.acquire()
        try:
            yield
        finally:
            self._lock.release()

    # --- entries (call under `locked`) ------------------------------------------------------------------

    def entry(self, key: str) -> int:
        """Where the values of `key`'s entry begin in `numbers` (taken now if it has none yet): its `VALUES`
        numbers at `entry + 0 ...`, its requests in flight at `entry + IN_FLIGHT`. An entry never moves."""
        found = self._entries.get(key)
        if found is not None:
            return found
        wanted = _hash(key)
        index = _probe(self._map, wanted)
        if index is None:
            raise LedgerFull(f"the limits ledger's {SLOTS} entries are all taken (those of clients the config no "
                             "longer limits are let go when the server restarts)")
        at = _slot_at(index)
        if _KEY.unpack_from(self._map, at)[0] == 0:
            _ENTRY.pack_into(self._map, at, wanted, *([0.0] * (VALUES + 1)))
        found = self._entries[key] = _entry_of(index)
        return found

    def gate(self, entry: int, rpm: int, tpm: int, max_concurrent: int, budget: float | None,
             budget_in_tokens: bool) -> _gate.Gate:
        """The entry's gate with these limits (0 or None: none), for this worker: a request let in and settled in
        one call each, in C, under the ledger's lock (api/govern/_gate.c). It raises ValueError once the ledger
        is closed. `recovered` says in the log what its `RECOVERED` answers mean."""
        seat = self._counts_at + (entry - _FIRST_ENTRY) // _ENTRY_NUMBERS
        return _gate.Gate(self._lock.native, entry * self.numbers.itemsize, seat * self._counts.itemsize, rpm, tpm,
                          max_concurrent, budget, budget_in_tokens)

    def recovered(self) -> None:
        """Say in the log that a gate took the ledger's lock from a holder that died holding it."""
        self._lock.recovered()

    # --- requests in flight (call under `locked`) -----------------------------------------------------

    def _add_in_flight(self, entry: int, change: int) -> None:
        self.numbers[entry + IN_FLIGHT] = max(self.numbers[entry + IN_FLIGHT] + change, 0.0)

    def _counts_of(self, row: int) -> int:
        """Where a worker row's counts begin in `_counts` (one per slot)."""
        return (_row_at(row) + _ROW_PID.size) // _COUNT.size

    def _release_row(self, row: int) -> None:
        """A worker's row emptied: what it held in flight is given back."""
        first = self._counts_of(row)
        for slot, count in enumerate(self._counts[first:first + SLOTS].tolist()):
            if count:
                self._add_in_flight(_entry_of(slot), -count)
        at = _row_at(row)
        self._map[at:at + _ROW_SIZE] = bytes(_ROW_SIZE)

    def _claim_row(self) -> int:
        """A row for this worker, after the rows of workers that are gone (killed, replaced) are released."""
        free = None
        for row in range(WORKER_ROWS):
            (pid,) = _ROW_PID.unpack_from(self._map, _row_at(row))
            if pid and (pid == self.pid or not _alive(pid)):
                self._release_row(row)
                pid = 0
            if pid == 0 and free is None:
                free = row
        if free is None:
            raise LedgerFull(f"the limits ledger has rows for {WORKER_ROWS} worker processes and all are taken")
        _ROW_PID.pack_into(self._map, _row_at(free), self.pid)
        return free
