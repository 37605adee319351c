"""`python -m api.activity_writer PATH`: a worker's activity writer process (see api.activity.Recorder).

Reads frames from stdin until EOF, writes their rows to the SQLite file at PATH and
applies the retention limits when a frame asks for it.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import orjson

from api.activity import ActivityStore


def frames(stream):
    while header := stream.read(4):
        yield orjson.loads(stream.read(int.from_bytes(header, "big")))


def main(path: str) -> None:
    # The worker decides when to stop: a signal to the process group must not lose buffered records.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    store = ActivityStore(Path(path))
    for max_age_s, max_rows, rows in frames(sys.stdin.buffer):
        if rows:
            store.write(rows)
        if max_age_s is not None:
            store.prune(max_age_s, max_rows)


if __name__ == "__main__":
    main(sys.argv[1])
