"""Time to first chunk of a streaming chat, which wrk cannot see (it only times whole responses).

One aiohttp connection sends streaming requests one after another and notes, for each, the
time from sending to the first ``data:`` line, and to the end of the stream. The same client
times both targets, so its own overhead cancels out in the difference.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from bench.harness import BenchError


@dataclass(frozen=True)
class StreamTimes:
    """Per-request times in milliseconds: to the first ``data:`` line, and to the end."""

    first_ms: list[float]
    total_ms: list[float]


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile `p` (0-100) of `values`."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def _time_one(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict) -> tuple[float, float]:
    start = time.perf_counter()
    first = None
    async with session.post(url, data=body, headers=headers) as reply:
        if reply.status != 200:
            raise BenchError(f"{url} answered {reply.status}: {(await reply.read())[:300]!r}")
        async for line in reply.content:  # a StreamReader yields lines as they arrive
            if first is None and line.startswith(b"data:"):
                first = time.perf_counter()
    end = time.perf_counter()
    if first is None:
        raise BenchError(f"{url} streamed no 'data:' line")
    return (first - start) * 1e3, (end - start) * 1e3


async def _series(url: str, body: bytes, auth: str | None, count: int, seconds: float, warmup: float) -> StreamTimes:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {auth}"} if auth else {})
    first, total = [], []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        warm_until = time.monotonic() + warmup
        while time.monotonic() < warm_until:
            await _time_one(session, url, body, headers)
        stop_at = time.monotonic() + seconds
        while len(first) < count and time.monotonic() < stop_at:
            to_first, to_end = await _time_one(session, url, body, headers)
            first.append(to_first)
            total.append(to_end)
    return StreamTimes(first, total)


def time_streams(url: str, body: bytes, *, auth: str | None = None, count: int = 2000, seconds: float = 10,
                 warmup: float = 2) -> StreamTimes:
    """Time `count` sequential streams (fewer if `seconds` run out), after `warmup` seconds of them."""
    return asyncio.run(asyncio.wait_for(_series(url, body, auth, count, seconds, warmup), warmup + seconds + 30))
