"""Config hot reload: watch the config file's folder (editors save by rename, or delete
and create) and hand every change of the file to a callback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Callable

from watchfiles import Change, awatch

log = logging.getLogger("gatehouse")

DEBOUNCE_MS = 50
"""How long a burst of file events is gathered before one reload (editors write in several steps)."""


def only(path: Path) -> Callable[[Change, str], bool]:
    """A watchfiles filter passing events of `path` alone."""
    target = str(path)
    return lambda _change, changed: changed == target


async def watch_config(path: Path, on_change: Callable[[], None], stop: asyncio.Event) -> None:
    """Call `on_change` after every change of `path` until `stop` is set."""
    async for _changes in awatch(path.parent, watch_filter=only(path), stop_event=stop,
                                 debounce=DEBOUNCE_MS, recursive=False):
        try:
            on_change()
        except Exception:  # a watcher that dies would silently end hot reload
            log.exception("config reload failed unexpectedly")
