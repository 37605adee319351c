"""Telling a server's workers that it is stopping.

Granian sends a worker's ASGI lifespan shutdown only after its open connections
end, so a never-ending stream (the admin activity tail) would hold a stop until
the kill timeout. The main process therefore leaves a marker file when told to
stop; long-lived streams look for it and end promptly.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
