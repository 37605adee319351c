"""The MCP server behind `POST /mcp` (api/edge/routes/mcp.py, docs/mcp.md): the official `mcp` SDK's `MCPServer`
with Gatehouse's LocalDocs tools, and its streamable HTTP session manager, stateless with JSON answers.

Imported on a worker's first `/mcp` request, not at start: the SDK (with starlette and pydantic) costs a worker
about 0.45 s and 30 MB, which a server nobody asks for MCP should not pay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from contextlib import suppress
from typing import Annotated, Any

import orjson
from blacksheep import Content, Request, Response
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field

from api import __version__
from api.edge.body import receive_body, receive_of
from api.edge.context import RequestContext, context_of
from api.edge.routes.localdocs import collections_shown, search, visible
from api.localdocs import documents
from api.localdocs.selection import MAX_TOP_K
from api.wire.errors import ApiError

_SCOPE_KEY = "gatehouse.mcp"
"""Where the request's context rides in the scope the SDK is given (its tools see the scope, not the request)."""

INSTRUCTIONS = ("Gatehouse LocalDocs: the user's own documents, indexed in collections. search_documents finds "
                "ranked snippets (with path and page); read_document reads a whole document (or one PDF page) by "
                "the path a search returned; list_collections says what this key may search.")


def _context(ctx: Context) -> RequestContext:
    request = ctx.request_context.request
    scope = getattr(request, "scope", None) or {}
    context = scope.get(_SCOPE_KEY)
    if not isinstance(context, RequestContext):  # only reachable through this module's route
        raise ToolError("No Gatehouse request context: call the tools through POST /mcp.")
    return context


def build_server() -> MCPServer:
    """The MCP server with Gatehouse's LocalDocs tools (one per worker)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server: MCPServer = MCPServer("gatehouse", instructions=INSTRUCTIONS, version=__version__)
    root.handlers[:], root.level = handlers, level  # MCPServer calls logging.basicConfig: the server's stays
    logging.getLogger("mcp").setLevel(logging.WARNING)  # not a line per request ("Terminating session: None")

    @server.tool(description="Search the user's LocalDocs collections: the best-matching snippets, best first, "
                             "each with its collection, file path, title, PDF page, score and text.")
    async def search_documents(
        query: Annotated[str, Field(description="What to look for, in words.")],
        ctx: Context,
        collections: Annotated[list[str] | None, Field(
            description="Collection names to search (list_collections); default: every one this key may.")] = None,
        top_k: Annotated[int | None, Field(ge=1, le=MAX_TOP_K, description="How many snippets (default 10).")] = None,
    ) -> dict[str, Any]:
        if not query.strip():
            raise ToolError("'query' must not be empty.")
        context = _context(ctx)
        try:
            found = await search(context, query, collections, top_k)
        except ApiError as error:
            raise ToolError(error.message) from None
        return {"results": found}

    @server.tool(description="The LocalDocs collections this key may search and read, with their state (ready, "
                             "indexing, error), folders, files and chunks.")
    async def list_collections(ctx: Context) -> dict[str, Any]:
        context = _context(ctx)
        try:
            names = [collection.name for collection in visible(context.state, context.identity)]
        except ApiError as error:
            raise ToolError(error.message) from None
        return {"collections": await collections_shown(context.state, names)}

    @server.tool(description="Read one document of a collection (a path as search_documents returns it, or one "
                             "relative to a collection's folder): its whole text, or one page of a PDF.")
    async def read_document(
        path: Annotated[str, Field(description="The document's path, as search_documents returns it.")],
        ctx: Context,
        page: Annotated[int | None, Field(ge=1, description="A PDF's page (1-based); default: all of it.")] = None,
    ) -> dict[str, Any]:
        context = _context(ctx)
        state = context.state
        try:
            allowed = visible(state, context.identity)
            text = await asyncio.to_thread(documents.read, state.config.server.data_dir, path, page, allowed,
                                           state.config)
        except (ApiError, documents.DocumentError) as error:
            raise ToolError(error.message if isinstance(error, ApiError) else str(error)) from None
        return {"collection": text.collection, "path": text.path, "title": text.title, "page": text.page,
                "pages": text.pages, "text": text.text, "truncated": text.truncated}

    return server


class McpEndpoint:
    """One worker's MCP server and its SDK session manager, run for the app's lifetime."""

    def __init__(self) -> None:
        self.server = build_server()
        # DNS-rebinding protection is off: every request needs a Gatehouse key, which a rebound page does not have.
        self.server.streamable_http_app(
            json_response=True, stateless_http=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        self.manager: StreamableHTTPSessionManager = self.server.session_manager
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Run the session manager (an anyio task group) in a task of its own, entered and left in that task
        whichever tasks start and stop the app."""
        started = asyncio.Event()

        async def run() -> None:
            async with self.manager.run():
                started.set()
                await self._stop.wait()

        self._task = asyncio.create_task(run(), name="mcp-session-manager")
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait({self._task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            waiting.cancel()
            self._task.result()  # its error

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with suppress(asyncio.CancelledError):
                await self._task

    async def handle(self, request: Request) -> Response:
        context = context_of(request)
        settings = context.state.config.server
        body = await context.body_deadlines.read(
            receive_body(receive_of(request), request.get_first_header(b"content-length"), settings.max_body_bytes),
            settings.body_timeout_s)
        if (called := _called(body)) is not None:
            context.recording.called(called)
        channel = receive_of(request)
        delivered = False

        async def receive() -> dict:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await channel()  # only a disconnect can follow

        status, headers, parts = 500, [], []

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))

        await self.manager.handle_request({**request.scope, _SCOPE_KEY: context}, receive, send)
        content_type = next((value for name, value in headers if name.lower() == b"content-type"), None)
        kept = [(name, value) for name, value in headers if name.lower() not in (b"content-type", b"content-length")]
        payload = b"".join(parts)
        return Response(status, kept, Content(content_type or b"application/json", payload) if payload else None)



def _called(body: bytes) -> str | None:
    """What an MCP request asks, for its activity record: its JSON-RPC method, and for a tool call the tool."""
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    method = message.get("method") if isinstance(message, dict) else None
    if not isinstance(method, str):
        return None
    params = message.get("params")
    if method == "tools/call" and isinstance(params, dict) and isinstance(params.get("name"), str):
        return f"{method} {params['name']}"[:120]
    return method[:120]
