"""A client that leaves a stream before its first chunk still cancels the upstream request.

The gateway watches the client's side of a stream from its start, not only through the writes of
chunks (a write to a client that has gone is swallowed by the server). This upstream sends its
headers and then nothing, as a model that thinks for a long time before its first token does.
"""

from __future__ import annotations

import asyncio

import httpx

from tests.fixtures.raw_server import raw_server, read_request
from tests.gateway import SERVER_KEY, SERVER_SECTION, start_gateway, wait_until

CONFIG = SERVER_SECTION + """
[providers.slow]
type = "openai"
base_url = "{upstream}/v1"
models = ["thinker"]
"""


def _the_only_record(gateway) -> dict:
    found = []

    def written() -> bool:
        response = httpx.get(f"{gateway.base_url}/admin/activity", headers={"x-api-key": SERVER_KEY})
        found[:] = response.json()["data"]
        return bool(found)
    wait_until(written, 5, "the stream's activity record")
    return found[0]


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def test_a_client_leaving_before_the_first_chunk_cancels_the_upstream(tmp_path):
    upstream_closed = asyncio.Event()

    async def headers_then_silence(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        await writer.drain()
        await reader.read()  # returns once the gateway closes the connection
        upstream_closed.set()

    async with raw_server(headers_then_silence) as (upstream, accepted):
        config = CONFIG.replace("{upstream}", upstream)
        gateway = await asyncio.to_thread(start_gateway, config, tmp_path)
        try:
            host, port = gateway.base_url.removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            body = b'{"model": "slow:thinker", "stream": true, "messages": [{"role": "user", "content": "hm"}]}'
            writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: %s\r\nx-api-key: %s\r\n"
                         b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                         % (host.encode(), SERVER_KEY.encode(), len(body), body))
            await writer.drain()
            await asyncio.wait_for(_until(lambda: accepted), 5)  # the request reached the upstream
            await asyncio.sleep(0.2)
            writer.close()  # gone before any chunk came
            await asyncio.wait_for(upstream_closed.wait(), 5)
            record = await asyncio.to_thread(_the_only_record, gateway)
            assert record["error"] == "client disconnected"  # not blamed on the provider
        finally:
            await asyncio.to_thread(gateway.stop)
