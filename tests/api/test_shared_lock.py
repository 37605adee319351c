"""The lock the workers take on the limits ledger (api/govern/shared_lock.py), both kinds (the robust mutex this
machine has, and `flock` where there is none): real processes changing one real file."""

from __future__ import annotations

import mmap
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from api.govern.shared_lock import MUTEX_BYTES, ROBUST, SharedLock, initialise

KINDS = [pytest.param(True, id="robust-mutex", marks=pytest.mark.skipif(not ROBUST, reason="no robust mutex here")),
         pytest.param(False, id="flock")]
COUNTER_AT = MUTEX_BYTES
SIZE = 4096

# A process that adds 1 to the file's counter `rounds` times, each a read and a write apart under the lock; or,
# with "die", takes the lock and dies holding it.
WORKER = """
import mmap, os, struct, sys, time
from api.govern.shared_lock import SharedLock
path, robust, rounds = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
fd = os.open(path, os.O_RDWR)
memory = mmap.mmap(fd, 4096)
lock = SharedLock(fd, memory, 0, "the test file", robust=robust)
if rounds < 0:
    lock.acquire()
    os._exit(0)
counter = struct.Struct("<q")
for _ in range(rounds):
    lock.acquire()
    (value,) = counter.unpack_from(memory, {at})
    time.sleep(0)  # let the other process run between the read and the write
    counter.pack_into(memory, {at}, value + 1)
    lock.release()
""".format(at=COUNTER_AT)


def _file(tmp_path: Path, robust: bool) -> Path:
    path = tmp_path / "shared"
    path.write_bytes(bytes(SIZE))
    with path.open("r+b") as file, mmap.mmap(file.fileno(), SIZE) as memory:
        initialise(memory, 0, robust=robust)
    return path


def _run(path: Path, robust: bool, rounds: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WORKER, str(path), "1" if robust else "0", str(rounds)],
                            cwd=Path(__file__).parents[2])


def _counter(path: Path) -> int:
    return struct.unpack_from("<q", path.read_bytes(), COUNTER_AT)[0]


@pytest.mark.parametrize("robust", KINDS)
def test_two_processes_changing_one_file_under_the_lock_lose_no_change(tmp_path, robust):
    path = _file(tmp_path, robust)
    processes = [_run(path, robust, 20_000) for _ in range(2)]
    assert [process.wait(timeout=120) for process in processes] == [0, 0]
    assert _counter(path) == 40_000


@pytest.mark.parametrize("robust", KINDS)
def test_a_process_that_dies_holding_the_lock_does_not_stop_the_others(tmp_path, robust, caplog):
    path = _file(tmp_path, robust)
    assert _run(path, robust, -1).wait(timeout=60) == 0  # took the lock and died holding it
    fd = os.open(path, os.O_RDWR)
    try:
        with mmap.mmap(fd, SIZE) as memory:
            lock = SharedLock(fd, memory, 0, "the test file", robust=robust)
            lock.acquire()  # would hang for ever if the dead holder kept it
            lock.release()
            lock.acquire()
            lock.release()
            lock.close()
    finally:
        os.close(fd)
    if robust:
        assert "a process died holding the lock of the test file" in caplog.text
    assert _run(path, robust, 1000).wait(timeout=60) == 0
    assert _counter(path) == 1000


@pytest.mark.skipif(not ROBUST, reason="no robust mutex here")
def test_the_mutex_taken_after_its_file_was_closed_raises_rather_than_crashing_the_process(tmp_path):
    path = _file(tmp_path, robust=True)
    script = """
import mmap, os, sys
from api.govern.shared_lock import SharedLock
fd = os.open(sys.argv[1], os.O_RDWR)
memory = mmap.mmap(fd, 4096)
lock = SharedLock(fd, memory, 0, "the test file", robust=True)
lock.close()
memory.close()
try:
    lock.acquire()
except ValueError as exc:
    print("refused:", exc)
"""
    done = subprocess.run([sys.executable, "-c", script, str(path)], cwd=Path(__file__).parents[2],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "refused: the lock's file is closed" in done.stdout
