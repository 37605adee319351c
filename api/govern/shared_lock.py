"""The lock the processes sharing a memory-mapped file take before they change it.

On the request path (a client's limits are checked and settled under it, twice a request) it must cost next to
nothing, hold across processes, and be given back when its holder dies. `fcntl.flock` does all that but is a
system call that lets go of the GIL: measured in a loaded Granian worker, the two `flock` pairs of a request cost
about 30 µs of the worker's CPU (the GIL handed to Granian's threads and taken back), against 0.4 µs in a loop.
So where the C library has them (Linux: glibc, musl) the lock is a robust, process-shared pthread mutex kept in
the file itself, taken in C with the GIL held (api/govern/_gate.c): taking a free mutex is an atomic instruction
in user space, no system call; a holder that dies leaves it to the next taker with `EOWNERDEAD`, which goes on
(the dead holder's change may be half made: counters, never the file's structure). Elsewhere, `flock`.
"""

from __future__ import annotations

import logging
import mmap

from api.govern import _gate

log = logging.getLogger("gatehouse")

MUTEX_BYTES = 48
"""Room for a `pthread_mutex_t` (40 bytes on x86-64, 48 on aarch64: the largest of Linux's 64-bit ABIs)."""
ROBUST = bool(_gate.ROBUST)
"""Whether this platform's lock is the robust mutex (else `flock`)."""


class SharedLock:
    """A lock held by one thread at a time across every process that opens its file: the robust mutex at `at` of
    the file's `memory` (`robust`, where the platform has one), else `flock` on `fd`. Not re-entrant. `name` says
    what it guards, in messages."""

    def __init__(self, fd: int, memory: mmap.mmap, at: int, name: str, robust: bool = ROBUST) -> None:
        self.native = _gate.Lock(memory, at, fd, robust)
        """The lock in C: what `Gate`s of the same file take (api/govern/_gate.c)."""
        self.release = self.native.release
        """Let go of the lock."""
        self._name = name

    def acquire(self) -> None:
        """Take the lock (OSError when it cannot be)."""
        if self.native.take():
            self.recovered()

    def recovered(self) -> None:
        """Say that the lock was taken from a holder that died holding it (it is ours now, made consistent): what
        `take` and the gates' calls tell by their answer (`EOWNERDEAD`, `RECOVERED`)."""
        log.warning("a process died holding the lock of %s; taken over (its last change may be half made)",
                    self._name)

    def close(self) -> None:
        """Let go of the file's memory (its map can be closed then); the lock raises ValueError from then on."""
        self.native.close()


def initialise(memory: mmap.mmap, at: int, robust: bool = ROBUST) -> None:
    """Make the mutex at `at` anew, unlocked (nothing to make for `flock`). Only while no other process uses the
    file: when it is made, and before the workers start (a mutex left held when the machine stopped would never
    be given back otherwise)."""
    if robust:
        _gate.initialise_mutex(memory, at)
