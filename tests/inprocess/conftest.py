"""The fast tier: the app from the same factory `python -m api` serves (`configure_application`), started in
this process and driven by BlackSheep's test client, against the real fake upstreams of tests/conftest.py.

Every test here is marked `inprocess`: `pytest -m inprocess` runs this tier alone (seconds); `make test` runs
it with everything else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from blacksheep import Application, Response
from blacksheep.contents import ASGIContent
from blacksheep.testing import TestClient

from api.config.settings import load_config
from api.edge.app import configure_application
from tests.conftest import UPSTREAM_KEY, gateway_config
from tests.gateway import SERVER_KEY, write_config

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.inprocess)


class InProcess:
    """BlackSheep's test client with a request body delivered as Granian delivers it (the ASGI receive
    channel, which the gateway reads itself), and a client that stays until its answer has been read."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self.client = TestClient(app)

    async def request(self, method: str, path: str, body: object = None, headers: dict[str, str] | None = None,
                      key: str | None = SERVER_KEY) -> tuple[Response, bytes]:
        """The response and its whole body (a stream read to its end)."""
        raw = body if isinstance(body, bytes) else b"" if body is None else orjson.dumps(body)
        sent = {**({"authorization": f"Bearer {key}"} if key else {}), **(headers or {})}
        if method == "GET":
            response = await self.client.get(path, headers=sent)
            return response, await _body(response)
        read = asyncio.Event()
        messages = [{"type": "http.request", "body": raw, "more_body": False}]

        async def receive() -> dict:
            if messages:
                return messages.pop()
            await read.wait()  # the client leaves once it has the whole answer
            return {"type": "http.disconnect"}

        sent.update({"content-type": "application/json", "content-length": str(len(raw))})
        response = await self.client.post(path, headers=sent, content=ASGIContent(receive))
        try:
            return response, await _body(response)
        finally:
            read.set()


async def _body(response: Response) -> bytes:
    content = response.content
    if content is None:
        return b""
    if content.body is not None:
        return content.body
    return b"".join([part async for part in content.get_parts()])  # a stream


@pytest.fixture(scope="module")
async def served(upstreams, tmp_path_factory) -> AsyncIterator[InProcess]:
    """The test gateway's config, served in this process (its activity writer is a real process, its
    database a real file)."""
    path = write_config(gateway_config(upstreams), tmp_path_factory.mktemp("inprocess"), port=1)
    app = configure_application(load_config(path, environ={"TEST_FIXED_KEY": UPSTREAM_KEY}))
    await app.start()
    try:
        yield InProcess(app)
    finally:
        await app.stop()
