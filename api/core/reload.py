"""Config hot reload: watch the config file's folder (editors save by rename, or delete
and create) and hand every change of the file to a callback.

File events are the fast path. Every second the watcher also compares the file's stamp
with the one last seen, so a change made while the watch was being set up is not lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

from watchfiles import Change, awatch

from api.config.settings import file_stamp

log = logging.getLogger("gatehouse")

DEBOUNCE_MS = 50
"""How long a burst of file events is gathered before one reload (editors write in several steps)."""


def only(path: Path) -> Callable[[Change, str], bool]:
    """A watchfiles filter passing events of `path` alone."""
    target = str(path)
    return lambda _change, changed: changed == target


RECHECK_MS = 1000
"""How often the file's stamp is compared even without file events."""


class ChangeDetector:
    """Decides, for each batch of file events (possibly empty), whether the file changed."""

    def __init__(self, path: Path, stamp: tuple) -> None:
        self.path = path
        self.stamp = stamp

    def changed(self, events: set) -> bool:
        stamp = file_stamp(self.path)
        if events or stamp != self.stamp:
            self.stamp = stamp
            return True
        return False


class WatchOptions(TypedDict):
    """The keyword arguments of `watchfiles.awatch` every config watcher passes."""

    debounce: int
    recursive: bool
    rust_timeout: int
    yield_on_timeout: bool


WATCH_OPTIONS: WatchOptions = {"debounce": DEBOUNCE_MS, "recursive": False, "rust_timeout": RECHECK_MS,
                               "yield_on_timeout": True}


async def watch_config(path: Path, stamp: tuple, on_change: Callable[[], None], stop: asyncio.Event) -> None:
    """Call `on_change` after every change of `path` (last read with `stamp`) until `stop` is set."""
    detector = ChangeDetector(path, stamp)
    async for events in awatch(path.parent, watch_filter=only(path), stop_event=stop, **WATCH_OPTIONS):
        if detector.changed(events):
            try:
                on_change()
            except Exception:  # a watcher that dies would silently end hot reload
                log.exception("config reload failed unexpectedly")
