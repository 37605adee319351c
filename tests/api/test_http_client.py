"""The gateway's upstream HTTP client against small real servers that misbehave on purpose."""

from __future__ import annotations

import asyncio

import pytest

from api.upstream.http_client import (
    HIGH_WATER,
    ConnectError,
    HttpClient,
    ProtocolError,
    ReadTimeout,
    header_lines,
)
from tests.fixtures.raw_server import raw_server, read_request
from tests.gateway import free_port

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


async def keep_answering(reader, writer, response: bytes = OK) -> None:
    while True:
        await read_request(reader)
        writer.write(response)
        await writer.drain()


async def test_keep_alive_connections_are_reused_and_requests_are_well_formed():
    requests = []

    async def answer(reader, writer):
        while True:
            requests.append(await read_request(reader))
            writer.write(OK)

    async with raw_server(answer) as (url, accepted):
        client = HttpClient()
        for _ in range(3):
            response = await client.request("POST", f"{url}/v1/x?y=1", b'{"a":1}', header_lines({"x-request-id": "r1"}))
            assert (response.status, await response.read()) == (200, b"{}")
            assert response.headers["content-type"] == "application/json"
            response.release()
        await client.close()
    assert len(accepted) == 1
    head, _, body = requests[0].partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"POST /v1/x?y=1 HTTP/1.1" and body == b'{"a":1}'
    assert b"content-length: 7" in head and b"x-request-id: r1" in head and b"host: 127.0.0.1:" in head


async def test_a_chunked_stream_arrives_piece_by_piece_and_completes():
    release = asyncio.Event()

    async def answer(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                     b"7\r\ndata: 1\r\n")
        await writer.drain()
        await release.wait()
        writer.write(b"7\r\ndata: 2\r\n0\r\n\r\n")
        await keep_answering(reader, writer)

    async with raw_server(answer) as (url, accepted):
        client = HttpClient()
        response = await client.request("POST", url, b"{}")
        pieces = response.content.iter_any()
        assert await anext(pieces) == b"data: 1"  # before the upstream sent the rest
        release.set()
        assert [piece async for piece in pieces] == [b"data: 2"]
        response.release()
        again = await client.request("POST", url, b"{}")  # the same connection serves the next request
        assert await again.read() == b"{}"
        assert len(accepted) == 1
        await client.close()


async def test_an_idle_connection_the_upstream_closed_is_replaced_without_an_error():
    async def answer_once(reader, writer):  # HTTP/1.1 keep-alive in words, closed in deeds
        await read_request(reader)
        writer.write(OK)
        await writer.drain()

    async with raw_server(answer_once) as (url, accepted):
        client = HttpClient()
        for pause in (0.05, 0, 0.05, 0):  # the close has reached the client, or is on its way
            response = await client.request("POST", url, b"{}")
            assert await response.read() == b"{}"
            response.release()
            await asyncio.sleep(pause)
        await client.close()
    assert len(accepted) >= 4


def answering_with(body: bytes):
    """An `answer` replying to one request with `body`, as fast as the connection takes it."""
    async def answer(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()

    return answer


async def test_a_slow_reader_pauses_the_upstream_instead_of_buffering_everything():
    body = b"x" * (HIGH_WATER * 4)
    async with raw_server(answering_with(body)) as (url, _):
        client = HttpClient()
        response = await client.request("GET", url)
        await asyncio.sleep(0.3)  # the upstream writes as fast as it may meanwhile
        assert response._buffered <= HIGH_WATER + 256 * 1024  # a read's worth beyond the mark at most
        assert len(b"".join([piece async for piece in response.content.iter_any()])) == len(body)
        await client.close()


async def test_a_body_read_whole_is_never_held_back_by_backpressure():
    body = b"y" * (HIGH_WATER * 3)
    async with raw_server(answering_with(body)) as (url, _):
        client = HttpClient()
        response = await client.request("GET", url)
        await asyncio.sleep(0.3)  # reading paused at the mark meanwhile
        assert await asyncio.wait_for(response.read(), 10) == body
        await client.close()


async def test_failures_become_connect_timeout_and_protocol_errors():
    client = HttpClient()
    with pytest.raises(ConnectError):
        await client.request("POST", f"http://127.0.0.1:{free_port()}/", b"{}")

    async def silent(reader, writer):
        await read_request(reader)
        await asyncio.sleep(5)

    async with raw_server(silent) as (url, _):
        with pytest.raises(ReadTimeout):
            await client.request("POST", url, b"{}", read_timeout=0.2)

    async def cut(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"partial")
        await writer.drain()

    async with raw_server(cut) as (url, _):
        response = await client.request("POST", url, b"{}")
        with pytest.raises(ProtocolError):
            await response.read()

    async def garbage(reader, writer):
        await read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()

    async with raw_server(garbage) as (url, _):
        with pytest.raises(ProtocolError):
            await client.request("POST", url, b"{}")
    await client.close()


async def test_closing_a_response_drops_its_connection_so_the_upstream_sees_the_client_go():
    gone = asyncio.Event()

    async def endless(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        try:
            while True:
                writer.write(b"5\r\nhello\r\n")
                await writer.drain()
                await asyncio.sleep(0.01)
        except ConnectionError:
            gone.set()

    async with raw_server(endless) as (url, accepted):
        client = HttpClient()
        response = await client.request("POST", url, b"{}")
        assert await anext(response.content.iter_any())
        response.close()
        await asyncio.wait_for(gone.wait(), 5)
        await client.close()


def test_header_lines_refuse_what_would_forge_a_header():
    assert header_lines({"a": "1", "b": "2"}) == "a: 1\r\nb: 2\r\n"
    for bad in ({"a": "1\r\nx-forged: 1"}, {"a\nb": "1"}, {"a": "1\r"}):
        with pytest.raises(ValueError):
            header_lines(bad)
