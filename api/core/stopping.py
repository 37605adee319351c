"""Telling a server's workers that it is stopping, or that it is gone.

Granian sends a worker's ASGI lifespan shutdown only after its open connections
end, so a never-ending stream (the admin activity tail) would hold a stop until
the kill timeout. The main process therefore leaves a marker file when told to
stop; long-lived streams look for it and end promptly.

Signal handlers here take no lock and touch no file (a second signal can arrive while the
first one's handler runs): the main process's handler writes one byte to a pipe and a thread
leaves the marker; a worker passes only its first stop signal on to Granian.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

WORKERS_KILL_TIMEOUT_S = 10
"""Grace period for a worker's open requests and streams when the server stops."""
WATCH_S = 0.5
"""How often a worker checks that its main process is still there."""
CUT_BEFORE_KILL_S = 2.0
"""How long before the kill timeout a stopping worker cuts its open streams, for their last event and record."""
_main_pid: int | None = None
"""In a worker: the pid of its main process, noted at start (see `end_with_parent`)."""


def signal_name(code: int) -> str | None:
    """The signal that ended a process, from its exit status (negative for a signal), e.g. "SIGSEGV"."""
    if code >= 0:
        return None
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def exit_reason(code: int) -> str:
    """How a process ended, from its exit status: "died (SIGSEGV)" for a signal, else "exited with code N"."""
    name = signal_name(code)
    return f"died ({name})" if name else f"exited with code {code}"


def _marker(main_pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"gatehouse-stopping-{main_pid}"


_wake: int | None = None
"""In the main process: the pipe end `announce` writes to (see `prepare`)."""


def prepare() -> None:
    """In the main process, before signals can arrive: the marker's path and the thread that leaves it."""
    global _wake
    read, _wake = os.pipe()
    os.set_blocking(_wake, False)
    marker = _marker(os.getpid())
    threading.Thread(target=_leave_marker, args=(read, marker), name="stop-marker", daemon=True).start()


def _leave_marker(read: int, marker: Path) -> None:
    os.read(read, 1)
    marker.touch()


def announce() -> None:
    """In the main process's signal handler: the server is stopping (one byte to `_leave_marker`)."""
    assert _wake is not None, "prepare() first"
    try:
        os.write(_wake, b"!")
    except BlockingIOError:
        pass  # announced many times over already


def clear() -> None:
    """In the main process, once it is done."""
    _marker(os.getpid()).unlink(missing_ok=True)


def announced() -> bool:
    """In a worker: has the main process (our parent) announced a stop, or died?"""
    parent = os.getppid()
    main = _main_pid or parent
    return parent != main or _marker(main).exists()


def end_with_parent() -> None:
    """In a worker: stop when the main process dies, gracefully, and for good after the grace period.

    A main process killed abruptly (SIGKILL, the OOM killer) would otherwise leave its workers
    serving on its port, with nothing left to stop them or to let a new server bind it; and a
    stopping worker's time limit is the main process's to enforce. Long-lived streams see the
    death as an announced stop (`announced`), so they do not hold the worker up.
    """
    global _main_pid
    _main_pid = os.getppid()
    _first_signal_only()
    threading.Thread(target=_watch_main, args=(_main_pid,), name="main-process-watch", daemon=True).start()


def _watch_main(main_pid: int) -> None:
    while os.getppid() == main_pid:
        time.sleep(WATCH_S)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(WORKERS_KILL_TIMEOUT_S)
    os.kill(os.getpid(), signal.SIGKILL)


_open_streams: set[Callable[[], None]] = set()
_cutter: asyncio.Task[None] | None = None


def cut_at_stop(cut: Callable[[], None]) -> None:
    """In a worker: call `cut` shortly before the kill timeout once the server stops (`forget` it when done)."""
    global _cutter
    loop = asyncio.get_running_loop()
    if _cutter is None or _cutter.get_loop() is not loop:  # one per worker (tests run several loops in turn)
        _cutter = loop.create_task(_cut_before_kill())
    _open_streams.add(cut)


def forget(cut: Callable[[], None]) -> None:
    _open_streams.discard(cut)


async def _cut_before_kill() -> None:
    while not announced():
        await asyncio.sleep(WATCH_S)
    await asyncio.sleep(WORKERS_KILL_TIMEOUT_S - WATCH_S - CUT_BEFORE_KILL_S)
    for cut in list(_open_streams):
        cut()


def _first_signal_only() -> None:
    """In a worker, before Granian sets its stop handlers: they pass on the first SIGINT/SIGTERM only.

    Granian's handler sets a native event that runs callbacks under a lock; a second signal during
    that re-enters it and deadlocks the worker until the kill timeout (a signal storm at stop).
    """
    from granian import _signals  # the worker function imports set_loop_signals from here when it starts

    def set_loop_signals(loop: asyncio.AbstractEventLoop) -> object:
        event = _signals.WorkerSignal()
        fired = False

        def handler(_signum: int, _frame: object) -> None:
            nonlocal fired
            if not fired:
                fired = True
                event.set()

        for sig in _signals._get_signals():
            loop.add_signal_handler(sig, handler, sig, None)
        return event

    _signals.set_loop_signals = set_loop_signals
