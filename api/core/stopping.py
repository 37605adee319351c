"""Telling a server's workers that it is stopping, or that it is gone.

Granian sends a worker's ASGI lifespan shutdown only after its open connections
end, so a never-ending stream (the admin activity tail) would hold a stop until
the kill timeout. The main process therefore leaves a marker file when told to
stop; long-lived streams look for it and end promptly.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from pathlib import Path

WORKERS_KILL_TIMEOUT_S = 10
"""Grace period for a worker's open requests and streams when the server stops."""
WATCH_S = 0.5
"""How often a worker checks that its main process is still there."""
_main_pid: int | None = None
"""In a worker: the pid of its main process, noted at start (see `end_with_parent`)."""


def _marker(main_pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"gatehouse-stopping-{main_pid}"


def announce() -> None:
    """In the main process: the server is stopping."""
    _marker(os.getpid()).touch()


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
    threading.Thread(target=_watch_main, args=(_main_pid,), name="main-process-watch", daemon=True).start()


def _watch_main(main_pid: int) -> None:
    while os.getppid() == main_pid:
        time.sleep(WATCH_S)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(WORKERS_KILL_TIMEOUT_S)
    os.kill(os.getpid(), signal.SIGKILL)
