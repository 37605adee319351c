"""`python -m api.store.activity_writer PATH`: a worker's activity writer process (see api.store.activity.Recorder).

Reads frames from stdin until EOF, writes their rows to the SQLite file at PATH and
applies the retention limits when a frame asks for it. What it cannot write it keeps (up to
BACKLOG_ROWS) and retries with the next frame; it reports each change of state on stdout, and after each write
how late it was.
"""

from __future__ import annotations

import signal
import sqlite3
import sys
import time
from pathlib import Path

import orjson

from api.store.activity import COLUMNS, FLUSH_S, ActivityStore, Health

SLICE_ROWS = 20
"""Rows written per transaction."""
PAUSE_S = 0.001
"""Pause after each slice, so the writer never holds a CPU for long at a stretch; the pauses of a
batch take at most half the flush interval, so the writer keeps up with any load."""
BACKLOG_ROWS = 100_000
"""Rows kept while the file cannot take them (about 40 MB); the oldest beyond that are dropped and counted."""
_TS, _LATENCY = COLUMNS.index("ts"), COLUMNS.index("latency_ms")


def frames(stream):
    while header := stream.read(4):
        yield orjson.loads(stream.read(int.from_bytes(header, "big")))


def write_in_slices(store: ActivityStore, rows: list) -> None:
    """Write a batch in short slices with pauses between them.

    One 500-row transaction holds a CPU for ~3 ms; on a 2-core machine that delays whatever
    request needed it (the gateway's p99 at one connection went from +0.7 to +2.4 ms with it).
    Slices of ~0.1 ms with pauses between leave room for the requests (+0.9 ms measured).
    Rows leave `rows` as they are written, so after a failure only the unwritten ones are left.
    """
    slices = range(0, len(rows), SLICE_ROWS)
    pause = min(PAUSE_S, FLUSH_S / 2 / max(len(slices), 1))
    for _ in slices:
        store.write(rows[:SLICE_ROWS])
        del rows[:SLICE_ROWS]  # written: a failure later in the batch does not write them again
        time.sleep(pause)


class Writer:
    """Writes the frames' rows; keeps those it cannot write and reports to the worker when that changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store: ActivityStore | None = None
        self.backlog: list = []
        self.health = Health()

    def take(self, rows: list, max_age_s: float | None, max_rows: int) -> None:
        self.backlog += rows
        if len(self.backlog) > BACKLOG_ROWS:
            self.health.lost += len(self.backlog) - BACKLOG_ROWS
            del self.backlog[:-BACKLOG_ROWS]
        # when the oldest of these records was complete: the write lag is measured from it
        ended = min((row[_TS] + row[_LATENCY] / 1000 for row in self.backlog), default=None)
        try:
            if self.store is None:
                self.store = ActivityStore(self.path)
            elif self.store.ensure():
                self.report(True, "the activity file was deleted or replaced; it was created again")
            write_in_slices(self.store, self.backlog)
            if max_age_s is not None:
                self.store.prune(max_age_s, max_rows)
                self.store.shrink_wal()
        except (OSError, sqlite3.Error) as exc:
            if self.store is not None:
                self.store.close()
                self.store = None  # opened again with the next frame
            self.report(False, f"cannot write {self.path}: {exc}")
            return
        if not self.health.recording:
            self.report(True, self.health.problem)
        if ended is not None:
            self.send({"lag_s": max(0.0, time.time() - ended)})

    def report(self, recording: bool, problem: str | None) -> None:
        """Tell the worker, once per change (it logs each report)."""
        if (recording, problem) == (self.health.recording, self.health.problem):
            return
        self.health.recording, self.health.problem = recording, problem
        self.send({"recording": recording, "problem": problem, "lost": self.health.lost})

    @staticmethod
    def send(report: dict) -> None:
        """One line to the worker: a change of state (`Health`'s fields), or how late the last rows were written
        (`lag_s`: seconds from the end of the oldest request among them to its row in the file)."""
        sys.stdout.buffer.write(orjson.dumps(report) + b"\n")
        sys.stdout.flush()


def main(path: str) -> None:
    # The worker decides when to stop: a signal to the process group must not lose buffered records.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    writer = Writer(Path(path))
    for max_age_s, max_rows, rows in frames(sys.stdin.buffer):
        writer.take(rows, max_age_s, max_rows)


if __name__ == "__main__":
    main(sys.argv[1])
