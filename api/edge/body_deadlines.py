"""Request bodies that take too long to arrive end with 408 (`server.body_timeout_s`), so a client that announces
1,000 bytes and sends 20 cannot hold a connection for good.

One task per worker sweeps the body reads under way twice a second: a timer per request would cost 4-7 µs
(`loop.call_later`, `asyncio.timeout`), an entry in a dict costs a fifth of a microsecond.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from typing import TypeVar

from api.wire.errors import ApiError

T = TypeVar("T")
SWEEP_S = 0.5
"""How often the reads under way are looked at: a body is cut at most this much after its deadline."""


class BodyDeadlines:
    def __init__(self) -> None:
        self._reads: dict[asyncio.Task, float] = {}
        """Tasks reading a body, and when their time is up (time.monotonic())."""
        self._expired: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None

    async def read(self, body: Awaitable[T], timeout_s: float) -> T:
        """`body` (the reading of a request body), or ApiError 408 once it has taken `timeout_s`."""
        task = asyncio.current_task()
        assert task is not None
        self._reads[task] = time.monotonic() + timeout_s
        try:
            return await body
        except asyncio.CancelledError:
            if task not in self._expired:
                raise
            self._expired.discard(task)
            task.uncancel()
            raise ApiError(408, f"The request body did not arrive within {timeout_s:g} s (server.body_timeout_s).",
                           code="request_timeout") from None
        finally:
            self._reads.pop(task, None)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            now = time.monotonic()
            for task, deadline in list(self._reads.items()):
                if deadline <= now:
                    del self._reads[task]
                    self._expired.add(task)
                    task.cancel()

    async def start(self, _app: object = None) -> None:
        self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self, _app: object = None) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
