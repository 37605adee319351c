"""A minimal relay, once per HTTP client library, to pick the gateway's upstream client by measurement.

The relay is a raw ASGI app on Granian (1 worker, uvloop, as the gateway runs): it reads each
``POST`` body as Gatehouse does (up to its declared length), forwards it to one upstream URL and
sends back the upstream's status, content type and bytes; an SSE reply is relayed chunk by chunk,
anything else read whole and sent with its length (what Gatehouse does). Only the client library
differs between relays, behind the small `Upstream` interface, so differences in the figures are
the libraries' own. With Gatehouse's client it is also the floor of a second hop, which `bench/run`'s
`floor` scenario measures Gatehouse against.

    python -m bench.relay --client httpx --port 18710 --upstream http://127.0.0.1:18701/v1/chat/completions

`GET` on any path answers 200 (readiness probe).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial

from api.edge.body import receive_body

REQUEST_HEADERS = {"content-type": "application/json"}
MAX_BODY_BYTES = 1 << 24
"""Larger request bodies are refused (the benchmark's are a few hundred bytes)."""
POOL_SIZE = 256
"""Connections kept per upstream: more than the benchmark's 32, so no library has to open and close."""


@dataclass(frozen=True, slots=True)
class Reply:
    """An upstream response, library-neutral: status, content type, and two ways to get the body."""

    status: int
    content_type: str
    read: Callable[[], Awaitable[bytes]]
    chunks: Callable[[], AsyncIterator[bytes]]


class Upstream:
    """One HTTP client library (importable as `module`): `open` its pooled client, `post` a body, `close` it."""

    module: str

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def post(self, url: str, body: bytes) -> AbstractAsyncContextManager[Reply]:
        raise NotImplementedError


class AiohttpUpstream(Upstream):
    """aiohttp.ClientSession on a pooled TCPConnector, as Gatehouse used it before its own client."""

    module = "aiohttp"

    async def open(self) -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
        self.session = aiohttp.ClientSession(connector=connector, auto_decompress=True)

    async def close(self) -> None:
        await self.session.close()

    @asynccontextmanager
    async def post(self, url: str, body: bytes):
        async with self.session.post(url, data=body, headers=REQUEST_HEADERS) as reply:
            yield Reply(reply.status, reply.headers.get("content-type", ""), reply.read, reply.content.iter_any)


class HttpxUpstream(Upstream):
    """httpx.AsyncClient with a keep-alive pool larger than the load (its default keeps only 20)."""

    module = "httpx"

    async def open(self) -> None:
        httpx = importlib.import_module(self.module)
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=POOL_SIZE, keepalive_expiry=60)
        self.client = httpx.AsyncClient(limits=limits, timeout=60)

    async def close(self) -> None:
        await self.client.aclose()

    @asynccontextmanager
    async def post(self, url: str, body: bytes):
        async with self.client.stream("POST", url, content=body, headers=REQUEST_HEADERS) as reply:
            yield Reply(reply.status_code, reply.headers.get("content-type", ""), reply.aread, reply.aiter_raw)


class Httpx2Upstream(HttpxUpstream):
    """httpx2 (pydantic's fork of httpx, same API; a dependency of the openai SDK), configured as httpx."""

    module = "httpx2"


class PyreqwestUpstream(Upstream):
    """pyreqwest (Rust reqwest/hyper), HTTP/1.1 only, streamed responses."""

    module = "pyreqwest"

    async def open(self) -> None:
        from pyreqwest.client import ClientBuilder

        self.client = ClientBuilder().http1_only().pool_max_idle_per_host(POOL_SIZE).build()

    async def close(self) -> None:
        await self.client.close()

    @asynccontextmanager
    async def post(self, url: str, body: bytes):
        request = self.client.post(url).headers(REQUEST_HEADERS).body_bytes(body).build_streamed()
        async with request as reply:
            reader = reply.body_reader

            async def read() -> bytes:
                return bytes(await reader.bytes())

            async def chunks() -> AsyncIterator[bytes]:
                while (chunk := await reader.read_chunk()) is not None:
                    yield bytes(chunk)

            yield Reply(reply.status, reply.get_header("content-type") or "", read, chunks)


class AiosonicUpstream(Upstream):
    """aiosonic.HTTPClient with a connection pool larger than the load (its default is 30)."""

    module = "aiosonic"

    async def open(self) -> None:
        import aiosonic
        from aiosonic.pools import PoolConfig

        pool = PoolConfig(size=POOL_SIZE, max_conn_requests=None)
        self.client = aiosonic.HTTPClient(aiosonic.TCPConnector(pool_configs={":default": pool}))

    async def close(self) -> None:
        await self.client.connector.cleanup()

    @asynccontextmanager
    async def post(self, url: str, body: bytes):
        reply = await self.client.post(url, data=body, headers=REQUEST_HEADERS)
        try:
            yield Reply(reply.status_code, reply.headers.get("content-type", ""), reply.content, reply.read_chunks)
        finally:
            await reply.aclose()


class GatehouseUpstream(Upstream):
    """Gatehouse's own lean client (api/http_client.py)."""

    module = "httptools"

    async def open(self) -> None:
        from api.upstream.http_client import HttpClient, header_lines

        self.client = HttpClient()
        self.headers = header_lines(REQUEST_HEADERS)

    async def close(self) -> None:
        await self.client.close()

    @asynccontextmanager
    async def post(self, url: str, body: bytes):
        reply = await self.client.request("POST", url, body, self.headers)
        try:
            yield Reply(reply.status, reply.headers.get("content-type", ""), reply.read, reply.content.iter_any)
        finally:
            reply.release()


UPSTREAMS: dict[str, type[Upstream]] = {
    "gatehouse": GatehouseUpstream,
    "aiohttp": AiohttpUpstream,
    "httpx": HttpxUpstream,
    "httpx2": Httpx2Upstream,
    "pyreqwest": PyreqwestUpstream,
    "aiosonic": AiosonicUpstream,
}


class Relay:
    """The raw ASGI app: every POST goes to `url` through `upstream`."""

    def __init__(self, upstream: Upstream, url: str) -> None:
        self.upstream = upstream
        self.url = url

    @classmethod
    def build(cls, client: str, url: str) -> Relay:
        """Granian's target loader (runs in the worker)."""
        return cls(UPSTREAMS[client](), url)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["method"] != "POST":
            return await self._answer(send, 200, "text/plain", b"ok")
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        body = await receive_body(receive, declared, MAX_BODY_BYTES)
        async with self.upstream.post(self.url, body) as reply:
            if reply.content_type.startswith("text/event-stream"):
                await self._stream(send, reply)
            else:
                await self._answer(send, reply.status, reply.content_type, await reply.read())

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.upstream.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.upstream.close()
                return await send({"type": "lifespan.shutdown.complete"})

    @staticmethod
    async def _answer(send, status: int, content_type: str, data: bytes) -> None:
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    @staticmethod
    async def _stream(send, reply: Reply) -> None:
        headers = [(b"content-type", reply.content_type.encode()), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        async for chunk in reply.chunks():
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Relay POSTs to one upstream URL through a chosen HTTP client.")
    parser.add_argument("--client", required=True, choices=UPSTREAMS)
    parser.add_argument("--upstream", required=True, help="URL every POST is sent to")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels

    server = Granian("bench.relay:Relay", address=args.host, port=args.port, interface=Interfaces.ASGI, workers=1,
                     loop=Loops.uvloop, websockets=False, log_access=False, log_level=LogLevels.warning)
    server.serve(target_loader=partial(Relay.build, args.client, args.upstream), wrap_loader=False)


if __name__ == "__main__":
    main()
