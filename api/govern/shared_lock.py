"""The lock the processes sharing a memory-mapped file take before they change it.

On the request path (a client's limits are checked and settled under it, twice a request) it must cost next to
nothing, hold across processes, and be given back when its holder dies. `fcntl.flock` does all that but is a
system call that lets go of the GIL: measured in a loaded Granian worker, the two `flock` pairs of a request cost
about 30 µs of the worker's CPU (the GIL handed to Granian's threads and taken back), against 0.4 µs in a loop.
So where the C library has them (glibc, musl) the lock is a robust, process-shared pthread mutex kept in the file
itself and called through `ctypes.PyDLL`, which keeps the GIL: taking a free mutex is an atomic instruction in
user space, no system call; a holder that dies leaves it to the next taker with `EOWNERDEAD`, which goes on (the
dead holder's change may be half made: counters, never the file's structure). Elsewhere, `flock`.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import logging
import mmap
import os
from collections.abc import Callable
from functools import partial
from typing import Protocol

log = logging.getLogger("gatehouse")

MUTEX_BYTES = 48
"""Room for a `pthread_mutex_t` (40 bytes on x86-64, 48 on aarch64: the largest of Linux's 64-bit ABIs)."""
_PROCESS_SHARED = 1  # PTHREAD_PROCESS_SHARED
_ROBUST = 1  # PTHREAD_MUTEX_ROBUST
_ATTRIBUTES_BYTES = 16  # pthread_mutexattr_t: 4 bytes on Linux, 8 or 16 elsewhere


def _pthread() -> ctypes.PyDLL | None:
    """The C library's pthread functions, called with the GIL held (None without robust mutexes)."""
    try:
        library = ctypes.PyDLL(None)
        for name in ("pthread_mutexattr_init", "pthread_mutexattr_setpshared", "pthread_mutexattr_setrobust",
                     "pthread_mutex_init", "pthread_mutex_lock", "pthread_mutex_unlock", "pthread_mutex_consistent"):
            function = getattr(library, name)
            function.restype = ctypes.c_int  # no argtypes: a `byref` address passes as it is (the fastest call)
    except (OSError, AttributeError):
        return None
    library.pthread_mutex_unlock.restype = None  # its result is never read: no conversion (a third of the call)
    return library


_PTHREAD = _pthread()
ROBUST = _PTHREAD is not None
"""Whether this platform's lock is the robust mutex (else `flock`)."""


def _checked(code: int, what: str) -> None:
    if code:
        raise OSError(code, f"{what}: {os.strerror(code)}")


class SharedLock(Protocol):
    """A lock held by one thread at a time across every process that opens its file. Not re-entrant."""

    def take(self) -> int:
        """Take the lock; 0, or a code to give `recover` at once (the lock is held then too). Where it can, the C
        function itself, bound to the lock: no Python frame, for the request path (`acquire` does both)."""

    def release(self) -> object:
        """Let go of the lock (as `take`: the C function where it can)."""

    def acquire(self) -> None:
        """Take the lock (`take`, then `recover` if need be)."""

    def recover(self, code: int) -> None:
        """The lock was taken with `code`: its holder died holding it (it is ours now), or something is wrong."""

    def close(self) -> None:
        """Let go of the file's memory (its map can be closed then); the lock raises ValueError from then on."""


class _Mutex:
    """The robust mutex at `at` of `memory` (`MUTEX_BYTES`, made by `initialise`)."""

    def __init__(self, memory: mmap.mmap, at: int, name: str) -> None:
        assert _PTHREAD is not None
        self._address: object = ctypes.byref(ctypes.c_byte.from_buffer(memory, at))
        """The mutex's address (keeping its memory exported: `close` lets go of it)."""
        self.take: Callable[[], int] = partial(_PTHREAD.pthread_mutex_lock, self._address)
        self.release: Callable[[], object] = partial(_PTHREAD.pthread_mutex_unlock, self._address)
        self._name = name

    def acquire(self) -> None:
        code = self.take()
        if code:
            self.recover(code)

    def recover(self, code: int) -> None:
        assert _PTHREAD is not None
        if code != errno.EOWNERDEAD:
            raise OSError(code, f"cannot lock {self._name}: {os.strerror(code)}")
        _checked(_PTHREAD.pthread_mutex_consistent(self._address), "pthread_mutex_consistent")
        log.warning("a process died holding the lock of %s; taken over (its last change may be half made)",
                    self._name)

    def close(self) -> None:
        self._address = None
        self.take = self.release = closed  # a null address would crash the process, not raise


def closed() -> int:
    """A lock's `take` and `release` once its file is closed."""
    raise ValueError("the lock's file is closed")


class _Flock:
    """`flock` on the file (where there is no robust mutex)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def take(self) -> int:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return 0

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def acquire(self) -> None:
        self.take()

    def recover(self, code: int) -> None:
        raise OSError(code, os.strerror(code))

    def close(self) -> None:
        pass


def shared_lock(fd: int, memory: mmap.mmap, at: int, name: str, robust: bool = ROBUST) -> SharedLock:
    """The lock of the file open as `fd` and mapped as `memory`: its robust mutex at `at` (`robust`, where the
    platform has one), else `flock` on `fd`. `name` says what it guards, in messages."""
    return _Mutex(memory, at, name) if robust else _Flock(fd)


def initialise(memory: mmap.mmap, at: int, robust: bool = ROBUST) -> None:
    """Make the mutex at `at` anew, unlocked (nothing to make for `flock`). Only while no other process uses the
    file: when it is made, and before the workers start (a mutex left held when the machine stopped would never
    be given back otherwise)."""
    if not robust or _PTHREAD is None:
        return
    memory[at:at + MUTEX_BYTES] = bytes(MUTEX_BYTES)
    holder = ctypes.c_byte.from_buffer(memory, at)
    try:
        attributes = ctypes.create_string_buffer(_ATTRIBUTES_BYTES)
        _checked(_PTHREAD.pthread_mutexattr_init(attributes), "pthread_mutexattr_init")
        _checked(_PTHREAD.pthread_mutexattr_setpshared(attributes, _PROCESS_SHARED), "pthread_mutexattr_setpshared")
        _checked(_PTHREAD.pthread_mutexattr_setrobust(attributes, _ROBUST), "pthread_mutexattr_setrobust")
        _checked(_PTHREAD.pthread_mutex_init(ctypes.byref(holder), attributes), "pthread_mutex_init")
    finally:
        del holder
