"""Telling a server's workers that it is stopping, or that it is gone.

Granian sends a worker's ASGI lifespan shutdown only after its open connections
end, so a never-ending stream (the admin activity tail) would hold a stop until
the kill timeout. The main process therefore leaves a marker file when told to
stop; long-lived streams look for it and end promptly.
"""

from __future__ import annotations

import ctypes
import os
import signal
import tempfile
from pathlib import Path


PR_SET_PDEATHSIG = 1


def _marker(main_pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"gatehouse-stopping-{main_pid}"


def announce() -> None:
    """In the main process: the server is stopping."""
    _marker(os.getpid()).touch()


def clear() -> None:
    """In the main process, once it is done."""
    _marker(os.getpid()).unlink(missing_ok=True)


def announced() -> bool:
    """In a worker: has the main process (our parent) announced a stop?"""
    return _marker(os.getppid()).exists()


def end_with_parent() -> None:
    """In a worker (Linux): stop gracefully when the main process dies. A main process killed
    abruptly (SIGKILL, the OOM killer) would otherwise leave its workers serving on its port,
    with nothing left to stop them or to let a new server bind it."""
    parent = os.getppid()
    try:
        set_parent_death_signal = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return  # not Linux
    set_parent_death_signal(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
