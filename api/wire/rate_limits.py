"""A client's rate limits as each dialect's headers say them, and the 429 that refuses a request.

OpenAI: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (reset as a duration, "1m0s", "250ms").
Anthropic: `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}` (reset as an RFC 3339 time).
Both SDKs wait `retry-after-ms` / `retry-after` before they retry and do not retry when `x-should-retry` is
false (a spent budget: retrying cannot help before the period ends).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import NamedTuple

from api.wire.errors import ApiError, Dialect


class Window(NamedTuple):
    """One rate limit now: its size, what is left of it, and the seconds until it is whole again."""

    limit: int
    remaining: int
    reset_s: float


class RateLimits(NamedTuple):
    """What a client's requests-per-minute and tokens-per-minute limits leave (None: no such limit).
    (Named tuples: made on every request of a limited client, and quicker to make than frozen dataclasses.)"""

    requests: Window | None = None
    tokens: Window | None = None

    def headers(self, dialect: Dialect) -> list[tuple[bytes, bytes]]:
        found = []
        for kind, window in (("requests", self.requests), ("tokens", self.tokens)):
            if window is None:
                continue
            if dialect == "anthropic":
                reset = datetime.fromtimestamp(time.time() + window.reset_s, UTC).isoformat(timespec="seconds")
                found += [(f"anthropic-ratelimit-{kind}-limit".encode(), str(window.limit).encode()),
                          (f"anthropic-ratelimit-{kind}-remaining".encode(), str(window.remaining).encode()),
                          (f"anthropic-ratelimit-{kind}-reset".encode(), reset.replace("+00:00", "Z").encode())]
            else:
                found += [(f"x-ratelimit-limit-{kind}".encode(), str(window.limit).encode()),
                          (f"x-ratelimit-remaining-{kind}".encode(), str(window.remaining).encode()),
                          (f"x-ratelimit-reset-{kind}".encode(), duration(window.reset_s).encode())]
        return found


def duration(seconds: float) -> str:
    """A wait as OpenAI's reset headers write it: `250ms`, `1.5s`, `6m0s`, `1h2m3s`."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    if seconds < 60:
        return f"{math.ceil(seconds * 10) / 10:g}s"
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours}h" if hours else "") + f"{minutes}m{secs}s"


class RateLimited(ApiError):
    """429: a client's limit refuses the request; `limit` says which (rpm, tpm, concurrent, budget)."""

    def __init__(self, message: str, *, limit: str, retry_after_s: float, windows: RateLimits,
                 retry: bool = True, type: str = "requests", code: str = "rate_limit_exceeded") -> None:
        super().__init__(429, message, type=type, code=code)
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.windows = windows
        self.retry = retry

    def headers(self, dialect: Dialect) -> list[tuple[bytes, bytes]]:
        wait = max(self.retry_after_s, 0.0)
        found = [(b"retry-after", str(math.ceil(wait)).encode()),
                 (b"retry-after-ms", str(math.ceil(wait * 1000)).encode())]
        if not self.retry:
            found.append((b"x-should-retry", b"false"))
        return found + self.windows.headers(dialect)
