"""LocalDocs collections as an MCP server: `POST /mcp`, the Model Context Protocol's streamable HTTP transport
(docs/mcp.md), served by the official `mcp` SDK inside this app (api/edge/mcp_server.py).

`/mcp` is an ordinary route, not an `app.mount`: BlackSheep dispatches a mount before the middleware (so it would
skip the keys, the request id, CORS and the JSON errors) and, once any app is mounted, makes every request of
every path try the mount's pattern first. As a route it passes the one middleware like every endpoint (no key or
a wrong one: 401 before the SDK sees anything) and costs the chat path nothing.

Stateless: a fresh transport per request and no session id, because a client's next request may land on another
Granian worker. So GET (the server-to-client stream) and DELETE (ending a session) are 405, as the transport
allows; the app's fallback answers them, naming POST.

The SDK is loaded on a worker's first `/mcp` request (its import runs on a thread), and its session manager then
runs until the app stops.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING

from blacksheep import Application, Request, Response

if TYPE_CHECKING:
    from api.edge.mcp_server import McpEndpoint

PATH = "/mcp"


class LazyMcp:
    """A worker's MCP endpoint, built on first use."""

    def __init__(self) -> None:
        self.endpoint: McpEndpoint | None = None
        self._building: asyncio.Future[McpEndpoint] | None = None

    async def get(self) -> McpEndpoint:
        if self.endpoint is None:
            if self._building is None:  # one build, which a request that goes away meanwhile does not cancel
                self._building = asyncio.ensure_future(self._build())
            self.endpoint = await asyncio.shield(self._building)
        return self.endpoint

    @staticmethod
    async def _build() -> McpEndpoint:
        module = await asyncio.to_thread(importlib.import_module, "api.edge.mcp_server")
        endpoint: McpEndpoint = module.McpEndpoint()
        await endpoint.start()
        return endpoint

    async def stop(self, _app: Application) -> None:
        if self.endpoint is not None:
            await self.endpoint.stop()


def register(app: Application) -> None:
    mcp = LazyMcp()
    app.on_stop += mcp.stop

    @app.router.post(PATH)
    async def mcp_route(request: Request) -> Response:
        return await (await mcp.get()).handle(request)
