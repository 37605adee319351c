"""A lean HTTP/1.1 client for the upstreams: asyncio protocol, llhttp parser, keep-alive pool.

The gateway only POSTs JSON and GETs model lists, mostly to a handful of hosts, so it needs
little of a general client: no cookies, redirects, proxies, compression or multipart. Leaving
them out is what makes this client cost a fraction of aiohttp per request (docs/http-client.md).

A response is read by the relay as it arrives (`content.iter_any()`) or whole (`read()`); the
connection goes back to the pool once the body is complete (`release()`), or is dropped
(`close()`: how the relay cancels an upstream request when its client leaves).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from urllib.parse import urlsplit

import httptools

IDLE_S = 60.0
"""An idle pooled connection is dropped after this long."""
HIGH_WATER = 1 << 20
"""Buffered body bytes at which reading from the upstream pauses (the client reads slowly)."""


class HttpError(Exception):
    """The exchange with the upstream failed; subclasses say how."""


class ConnectError(HttpError):
    """No connection could be made (refused, unknown host, TLS failure, connect timeout)."""


class ReadTimeout(HttpError):
    """The upstream sent nothing for `read_timeout` seconds."""


class ProtocolError(HttpError):
    """The connection broke or the upstream's answer was not valid HTTP."""


class Response:
    """An upstream response: status and headers at once, the body as it arrives."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        self.status = 0
        self.headers: dict[str, str] = {}
        """Header names in lower case; repeated headers joined with ", "."""
        self.content = self
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._complete = False
        self._error: HttpError | None = None
        self._waiter: asyncio.Future | None = None
        self._whole = False
        """The reader wants the whole body at once (`read`): never pause the connection for it."""

    # --- the relay's side -------------------------------------------------------------------

    async def iter_any(self):
        """Body bytes as they arrive (chunked transfer decoded)."""
        while True:
            if self._chunks:  # everything that arrived, in one piece (fewer, larger writes downstream)
                chunk = self._chunks.popleft() if len(self._chunks) == 1 else b"".join(self._chunks)
                self._chunks.clear()
                self._buffered = 0
                self._connection.consumed()
                yield chunk
            elif self._complete:
                return
            else:
                await self._wait()

    async def read(self) -> bytes:
        """The whole body (buffered whatever its size: backpressure only bounds `iter_any`)."""
        self._whole = True
        self._connection.consumed()
        while not self._complete:
            await self._wait()
        body = b"".join(self._chunks)
        self._chunks.clear()
        return body

    def release(self) -> None:
        """Done with this response: a completely read connection goes back to the pool."""
        if self._complete and not self._chunks:
            self._connection.reusable()
        else:
            self.close()

    def close(self) -> None:
        """Drop the connection (what cancels an upstream request still running)."""
        self._connection.drop()
        if not self._complete:
            self._fail(ProtocolError("closed before the answer was complete"))

    # --- the connection's side ---------------------------------------------------------------

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        self._waiter = self._connection.loop.create_future()
        timer = self._connection.loop.call_later(self._connection.read_timeout, self._timed_out)
        try:
            await self._waiter
        finally:
            timer.cancel()
            self._waiter = None
        if self._error is not None and not self._chunks:
            raise self._error

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _timed_out(self) -> None:
        self._fail(ReadTimeout(f"no data for {self._connection.read_timeout:g}s"))
        self._connection.drop()

    def _feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        self._wake()

    def _finish(self) -> None:
        self._complete = True
        self._wake()

    def _fail(self, error: HttpError) -> None:
        if self._error is None and not self._complete:
            self._error = error
        self._wake()


class _Connection(asyncio.Protocol):
    """One keep-alive connection to an upstream, serving one request at a time."""

    transport: asyncio.Transport
    """Set by `connection_made`, before the pool hands the connection to anyone."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.read_timeout = 0.0
        self.parser = httptools.HttpResponseParser(self)
        self.response: Response | None = None
        self.head: asyncio.Future | None = None
        self.open = False
        self.paused = False
        self.idle_since = 0.0
        self.keep_alive = False
        self.received = False
        """Some byte of the current answer arrived (a failure after that is never retried)."""
        self._header_lines: list[tuple[bytes, bytes]] = []

    def send(self, request: bytes, read_timeout: float) -> asyncio.Future:
        """Write a request; the future resolves to its Response once the headers are in."""
        self.read_timeout = read_timeout
        self.response = Response(self)
        self.head = self.loop.create_future()
        self.received = False
        self._header_lines = []
        self.transport.write(request)
        return self.head

    def consumed(self) -> None:
        if self.paused and self.open:
            self.paused = False
            self.transport.resume_reading()

    def reusable(self) -> None:
        if self.open and self.keep_alive:
            self.response = None
            self.idle_since = time.monotonic()
            self.pool.idle.append(self)
        else:
            self.drop()

    def drop(self) -> None:
        self.open = False
        self.transport.close()

    # --- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.open = True

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._broken(ProtocolError(f"invalid HTTP from the upstream: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self._broken(ProtocolError("the upstream closed the connection"
                                   + (f" ({exc.__class__.__name__}: {exc})" if exc else "")))

    def _broken(self, error: HttpError) -> None:
        if self.head is not None and not self.head.done():
            self.head.set_exception(error)
        elif self.response is not None:
            self.response._fail(error)
        self.drop()

    # --- httptools callbacks ---------------------------------------------------------------
    # An answer is parsed only for a request sent, so `response` and `head` are set; bytes arriving on an idle
    # connection (`response` None) fail in the callback, which the parser reports (`data_received` drops the
    # connection). Hence the unchecked `Response` below: a check would cost every chunk.

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_lines.append((name, value))

    def on_headers_complete(self) -> None:
        response: Response = self.response  # type: ignore[assignment]  # see above
        head: asyncio.Future = self.head  # type: ignore[assignment]
        response.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()  # (llhttp forgets it once the message is complete)
        headers = response.headers
        for name, value in self._header_lines:
            key, text = name.decode("latin-1").lower(), value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        if not head.done():
            head.set_result(response)

    def on_body(self, body: bytes) -> None:
        response: Response = self.response  # type: ignore[assignment]
        response._feed(body)
        if response._buffered > HIGH_WATER and not response._whole and not self.paused and self.open:
            self.paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        self.response._finish()  # type: ignore[union-attr]


class _Pool:
    """The connections to one scheme://host:port."""

    def __init__(self, loop: asyncio.AbstractEventLoop, url: str, ssl_context: ssl.SSLContext) -> None:
        parts = urlsplit(url)
        self.loop = loop
        self.host = parts.hostname or ""
        self.tls = parts.scheme == "https"
        default_port = 443 if self.tls else 80
        self.port = parts.port or default_port
        self.ssl_context = ssl_context if self.tls else None
        self.host_header = (self.host if ":" not in self.host else f"[{self.host}]") + \
            ("" if self.port == default_port else f":{self.port}")
        self.idle: list[_Connection] = []

    def take_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self.idle:
            connection = self.idle.pop()
            if connection.open and now - connection.idle_since < IDLE_S:
                return connection
            connection.drop()
        return None

    async def connect(self, timeout: float) -> _Connection:
        try:
            async with asyncio.timeout(timeout):
                _, connection = await self.loop.create_connection(
                    lambda: _Connection(self), self.host, self.port, ssl=self.ssl_context,
                    server_hostname=self.host if self.tls else None)
        except TimeoutError:
            raise ConnectError(f"no connection within {timeout:g}s") from None
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)) from exc
        return connection

    def close(self) -> None:
        for connection in self.idle:
            connection.drop()
        self.idle.clear()


def header_lines(headers: dict[str, str]) -> str:
    """Headers as the lines of a request head; a CR or LF (which would forge headers) is refused."""
    if any("\r" in text or "\n" in text for item in headers.items() for text in item):
        raise ValueError("header names and values cannot contain CR or LF")
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items())


class HttpClient:
    """Pools of keep-alive connections, one per upstream origin."""

    MAX_TARGETS = 1024
    """URLs whose pool and request target are remembered (the gateway uses a handful)."""

    def __init__(self) -> None:
        self._pools: dict[str, _Pool] = {}
        self._targets: dict[str, tuple[_Pool, str]] = {}
        self._ssl = ssl.create_default_context()

    def _pool(self, url: str) -> tuple[_Pool, str]:
        found = self._targets.get(url)
        if found is not None:
            return found
        scheme, rest = url.split("://", 1)
        origin, slash, path = rest.partition("/")
        key = f"{scheme}://{origin}"
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(asyncio.get_running_loop(), key, self._ssl)
        if len(self._targets) >= self.MAX_TARGETS:
            self._targets.clear()
        found = self._targets[url] = (pool, slash + path or "/")
        return found

    async def request(self, method: str, url: str, body: bytes = b"", headers: str = "", *,
                      connect_timeout: float = 10.0, read_timeout: float = 600.0) -> Response:
        """Send a request with `headers` (see `header_lines`); return once the response's headers
        arrived (the body follows)."""
        pool, target = self._pool(url)
        request = (f"{method} {target} HTTP/1.1\r\nhost: {pool.host_header}\r\ncontent-length: {len(body)}\r\n"
                   f"{headers}\r\n").encode("latin-1") + body
        connection = pool.take_idle()
        if connection is not None:
            try:
                return await self._exchange(connection, request, read_timeout)
            except ProtocolError:
                if connection.received:
                    raise
                # an idle connection the upstream had just closed: once more on a new one
        connection = await pool.connect(connect_timeout)
        return await self._exchange(connection, request, read_timeout)

    @staticmethod
    async def _exchange(connection: _Connection, request: bytes, read_timeout: float) -> Response:
        head = connection.send(request, read_timeout)
        timer = connection.loop.call_later(read_timeout, _head_timeout, connection, head)
        try:
            return await head
        except asyncio.CancelledError:
            connection.drop()
            raise
        finally:
            timer.cancel()

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


def _head_timeout(connection: _Connection, head: asyncio.Future) -> None:
    if not head.done():
        head.set_exception(ReadTimeout(f"no answer for {connection.read_timeout:g}s"))
        connection.drop()
