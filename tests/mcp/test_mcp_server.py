"""LocalDocs as an MCP server: a real gateway process (two workers) with collections of real files it indexes,
spoken to over a real socket with the official `mcp` SDK client (streamable HTTP), and with plain HTTP for what
a client SDK never sends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from api.config.settings import parse_config
from api.localdocs import documents, index
from tests.gateway import SERVER_KEY, Gateway, start_gateway
from tests.localdocs.test_extract import write_pdf

LIMITED_KEY = "mcp-limited-key-0123456789"
FACT = "The capital of Zorblax is Quintaria, founded by glassblowers in 1312."
SECRET = "The vault code of the Zorblax embassy is 4471."
INDEXED_WITHIN_S = 90  # the first index: the embedder loads once
TOOLS = {"search_documents", "list_collections", "read_document"}

CONFIG = """
[server]
api_key = "{server_key}"
port = {port}
data_dir = "{data_dir}"
workers = 2

[providers.none]
type = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key = "unused"
models = ["m"]

[collections.notes]
paths = ["{notes}"]

[collections.other]
paths = ["{other}"]

[clients.limited]
api_key = "{limited_key}"
model = "none:m"
collections = ["notes"]
"""


def _write_documents(root: Path) -> tuple[Path, Path, Path]:
    notes, other, outside = root / "notes", root / "other", root / "outside"
    for folder in (notes, other, outside):
        folder.mkdir()
    (notes / "zorblax.md").write_text(f"# Zorblax\n\n## Geography\n\n{FACT}\n\n## Trade\n\nZorblax exports "
                                      "violet salt and copper bells to its neighbours.\n")
    (notes / "gardening.txt").write_text("Tomatoes need full sun and regular watering. Prune the suckers weekly.\n")
    write_pdf(notes / "atlas.pdf", ["Page one lists the northern rivers", "The Ostmark lighthouse is painted teal"],
              title="Atlas")
    (other / "secret.md").write_text(f"# Vault\n\n{SECRET}\n")
    (outside / "private.txt").write_text("Nothing here belongs to any collection.\n")
    return notes, other, outside


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path, Path]:
    return _write_documents(tmp_path_factory.mktemp("documents"))


@pytest.fixture(scope="module")
def gateway(folders, tmp_path_factory):
    notes, other, _ = folders
    text = CONFIG.replace("{server_key}", SERVER_KEY).replace("{limited_key}", LIMITED_KEY)
    server = start_gateway(text.replace("{notes}", str(notes)).replace("{other}", str(other)),
                           tmp_path_factory.mktemp("mcp"))
    with httpx.Client(base_url=server.base_url, timeout=30, headers={"x-api-key": SERVER_KEY}) as http:
        deadline = time.monotonic() + INDEXED_WITHIN_S
        while True:
            data = {entry["name"]: entry for entry in http.get("/admin/collections").json()["data"]}
            if all(data.get(name, {}).get("state") == "ready" and data[name]["chunks"] for name in ("notes", "other")):
                break
            assert time.monotonic() < deadline, data
            time.sleep(0.3)
    yield server
    print(server.stop())


@asynccontextmanager
async def mcp_session(gateway: Gateway, key: str = SERVER_KEY, header: str = "authorization",
                      request_id: str | None = None) -> AsyncIterator[ClientSession]:
    value = f"Bearer {key}" if header == "authorization" else key
    headers = {header: value} | ({"x-request-id": request_id} if request_id else {})
    async with (httpx2.AsyncClient(headers=headers, timeout=30) as http,
                streamable_http_client(f"{gateway.base_url}/mcp", http_client=http) as (read, write),
                ClientSession(read, write) as session):
        await session.initialize()
        yield session


def _error_text(result) -> str:
    assert result.is_error, result
    return " ".join(part.text for part in result.content)


def _structured(result) -> dict:
    assert not result.is_error, result.content
    return result.structured_content


async def test_lists_its_three_tools_with_their_arguments(gateway):
    async with mcp_session(gateway) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(tools) == TOOLS
    assert tools["search_documents"].input_schema["required"] == ["query"]
    assert {"query", "collections", "top_k"} == set(tools["search_documents"].input_schema["properties"])
    assert {"path", "page"} == set(tools["read_document"].input_schema["properties"])
    assert "ctx" not in json.dumps([tool.input_schema for tool in tools.values()])


async def test_search_finds_the_one_document_holding_the_fact(gateway):
    async with mcp_session(gateway, header="x-api-key") as session:
        found = _structured(await session.call_tool("search_documents", {"query": "capital of Zorblax",
                                                                         "top_k": 3}))["results"]
    assert Path(found[0]["path"]).name == "zorblax.md" and "Quintaria" in found[0]["text"]
    assert found[0]["collection"] == "notes" and found[0]["score"] > 0
    assert {"collection", "path", "title", "page", "score", "text", "chunk_id"} <= found[0].keys()
    assert len(found) <= 3


async def test_a_client_key_sees_and_reads_only_its_collections(gateway, folders):
    _, other, _ = folders
    async with mcp_session(gateway, LIMITED_KEY) as session:
        listed = _structured(await session.call_tool("list_collections", {}))["collections"]
        assert [entry["name"] for entry in listed] == ["notes"]
        assert listed[0]["state"] == "ready" and listed[0]["files"] == 3 and listed[0]["chunks"] >= 3
        refused = _error_text(await session.call_tool("search_documents", {"query": "vault code",
                                                                           "collections": ["other"]}))
        assert "'other' is not one of client 'limited''s collections" in refused
        found = _structured(await session.call_tool("search_documents", {"query": "vault code embassy"}))["results"]
        assert {hit["collection"] for hit in found} <= {"notes"}
        assert SECRET not in json.dumps(found)
        unread = _error_text(await session.call_tool("read_document", {"path": str(other / "secret.md")}))
        assert "collection 'other', which this key may not read" in unread
        unknown = _error_text(await session.call_tool("search_documents", {"query": "x", "collections": ["nope"]}))
        assert "Unknown LocalDocs collection 'nope' (known: notes, other)" in unknown
    async with mcp_session(gateway) as session:  # the server key sees every collection
        listed = _structured(await session.call_tool("list_collections", {}))["collections"]
        assert [entry["name"] for entry in listed] == ["notes", "other"]
        read = _structured(await session.call_tool("read_document", {"path": str(other / "secret.md")}))
        assert SECRET in read["text"] and read["collection"] == "other"


async def test_read_document_whole_relative_and_by_pdf_page(gateway, folders):
    notes, _, _ = folders
    async with mcp_session(gateway, LIMITED_KEY) as session:
        hit = _structured(await session.call_tool("search_documents", {"query": "Quintaria"}))["results"][0]
        read = _structured(await session.call_tool("read_document", {"path": hit["path"]}))
        assert FACT in read["text"] and "copper bells" in read["text"] and read["title"] == "Zorblax"
        assert read["path"] == str(notes / "zorblax.md") and not read["truncated"]
        relative = _structured(await session.call_tool("read_document", {"path": "gardening.txt"}))
        assert "Tomatoes" in relative["text"] and relative["path"] == str(notes / "gardening.txt")
        page = _structured(await session.call_tool("read_document", {"path": str(notes / "atlas.pdf"), "page": 2}))
        assert page["text"] == "The Ostmark lighthouse is painted teal" and page["pages"] == 2
        beyond = _error_text(await session.call_tool("read_document", {"path": "atlas.pdf", "page": 9}))
        assert "Page 9 is out of range: 'atlas.pdf' has 2 pages" in beyond
        assert "'page' is for PDFs" in _error_text(await session.call_tool("read_document", {"path": "gardening.txt",
                                                                                             "page": 1}))


async def test_paths_outside_the_collections_are_refused(gateway, folders):
    notes, _, outside = folders
    (notes / "escape.txt").symlink_to(outside / "private.txt")  # never indexed: it leads outside
    async with mcp_session(gateway, LIMITED_KEY) as session:
        for path in ("../other/secret.md", f"{notes}/../other/secret.md"):
            text = _error_text(await session.call_tool("read_document", {"path": path}))
            assert "which this key may not read" in text, path
        for path in ("../outside/private.txt", str(outside / "private.txt"), "/etc/passwd", "escape.txt",
                     f"{notes}/../../../../../etc/passwd", "nothing-here.md"):
            text = _error_text(await session.call_tool("read_document", {"path": path}))
            assert "is not a document of any collection this key may read (notes)" in text, path
        assert "must be a file path" in _error_text(await session.call_tool("read_document", {"path": " "}))


def test_a_document_that_becomes_a_symlink_out_is_refused(tmp_path):
    """The index names the file, but it now leads outside its collection: its real path decides."""
    notes, _, outside = _write_documents(tmp_path)
    config = parse_config({"server": {"api_key": "a-server-key-0123", "data_dir": str(tmp_path / "data")},
                           "collections": {"notes": {"paths": [str(notes)]}}}, tmp_path / "config.toml")
    db = index.connect(config.server.data_dir)
    with index.transaction(db):
        db.execute("INSERT INTO documents (collection, path, size, mtime, hash, title) VALUES (?, ?, 1, 1, 'h', 't')",
                   ("notes", str(notes / "gardening.txt")))
    db.close()
    allowed = list(config.collections.values())
    assert "Tomatoes" in documents.read(config.server.data_dir, "gardening.txt", None, allowed, config).text
    (notes / "gardening.txt").unlink()
    os.symlink(outside / "private.txt", notes / "gardening.txt")
    with pytest.raises(documents.DocumentError, match="outside collection 'notes''s paths"):
        documents.read(config.server.data_dir, "gardening.txt", None, allowed, config)
    with pytest.raises(documents.DocumentError, match="not a document"):
        documents.read(config.server.data_dir, "zorblax.md", None, allowed, config)  # on disk, not indexed


async def test_unknown_tools_and_bad_arguments_are_tool_errors(gateway):
    async with mcp_session(gateway) as session:
        assert "Unknown tool" in _error_text(await session.call_tool("delete_everything", {}))
        assert "top_k" in _error_text(await session.call_tool("search_documents", {"query": "x", "top_k": 0}))
        assert "query" in _error_text(await session.call_tool("search_documents", {}))
        assert "must not be empty" in _error_text(await session.call_tool("search_documents", {"query": "  "}))
        assert "page" in _error_text(await session.call_tool("read_document", {"path": "x.md", "page": "two"}))
        assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS  # still serving


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "raw", "version": "0"}}}
ACCEPT = {"accept": "application/json, text/event-stream"}


def test_no_key_or_a_wrong_key_is_401_and_the_right_one_is_served(gateway):
    with httpx.Client(base_url=gateway.base_url, timeout=30, headers=ACCEPT) as http:
        for headers in ({}, {"authorization": "Bearer wrong-key-0123456789"}, {"x-api-key": "wrong"}):
            refused = http.post("/mcp", json=INITIALIZE, headers=headers)
            assert refused.status_code == 401 and refused.json()["error"]["code"] in ("missing_api_key",
                                                                                      "invalid_api_key")
        served = http.post("/mcp", json=INITIALIZE, headers={"authorization": f"Bearer {LIMITED_KEY}"})
        assert served.status_code == 200, served.text
        assert served.json()["result"]["serverInfo"]["name"] == "gatehouse"
        assert "mcp-session-id" not in served.headers  # stateless


def test_bad_requests_are_4xx_and_nothing_breaks(gateway):
    headers = {**ACCEPT, "authorization": f"Bearer {SERVER_KEY}", "content-type": "application/json"}
    with httpx.Client(base_url=gateway.base_url, timeout=30, headers=headers) as http:
        cases = {
            "garbage": http.post("/mcp", content=b"{not json"),
            "not an object": http.post("/mcp", content=b"[1, 2"),
            "no jsonrpc": http.post("/mcp", json={"hello": "world"}),
            "wrong content type": http.post("/mcp", content=b"{}", headers={"content-type": "text/plain"}),
            "accepts nothing usable": http.post("/mcp", json=INITIALIZE, headers={"accept": "text/html"}),
            "GET stream without session": http.get("/mcp", headers={"accept": "text/event-stream"}),
            "DELETE": http.delete("/mcp"),
            "huge body": http.post("/mcp", content=b"{" + b" " * (11 * 1024 * 1024) + b"}"),
        }
        for what, response in cases.items():
            assert 400 <= response.status_code < 500, (what, response.status_code, response.text)
        assert cases["GET stream without session"].status_code == 405
        assert cases["GET stream without session"].headers["allow"] == "POST"
        assert cases["huge body"].status_code == 413
        assert http.post("/mcp", json=INITIALIZE).status_code == 200  # still serving
        assert http.get("/health").status_code == 200


def test_calls_without_a_session_on_fresh_connections_reach_both_workers(gateway):
    """Stateless: each request stands alone, so a call on a new connection (either of the two workers) works
    without an initialize before it on the same worker."""
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "search_documents", "arguments": {"query": "Quintaria", "top_k": 1}}}
    for _ in range(8):
        with httpx.Client(base_url=gateway.base_url, timeout=30,
                          headers={**ACCEPT, "x-api-key": SERVER_KEY, "connection": "close"}) as http:
            answer = http.post("/mcp", json=call)
            assert answer.status_code == 200, answer.text
            assert "Quintaria" in answer.json()["result"]["structuredContent"]["results"][0]["text"]



def test_a_server_loads_the_sdk_only_when_mcp_is_asked_for():
    """Starting a worker does not import the SDK (about 0.45 s and 30 MB a worker); the first /mcp request does."""
    code = ("import asyncio, sys; from pathlib import Path; from api.config.settings import parse_config; "
            "from api.edge.app import configure_application; from api.edge.routes.mcp import LazyMcp; "
            "configure_application(parse_config({'server': {'api_key': 'a-server-key-0123'}}, Path('c.toml'))); "
            "loaded = lambda: [name for name in ('mcp', 'starlette', 'api.edge.mcp_server') if name in sys.modules]; "
            "print(loaded()); lazy = LazyMcp(); "
            "asyncio.run(lazy.get()); print(loaded())")
    started = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                             cwd=Path(__file__).resolve().parents[2])
    assert started.stdout.split("\n")[:2] == ["[]", "['mcp', 'starlette', 'api.edge.mcp_server']"], \
        started.stdout + started.stderr


async def test_each_mcp_call_is_recorded_with_its_method_tool_and_results(gateway):
    async with mcp_session(gateway, LIMITED_KEY, request_id="mcp-activity-1") as session:
        found = _structured(await session.call_tool("search_documents", {"query": "capital of Zorblax",
                                                                         "top_k": 2}))["results"]
    with httpx.Client(base_url=gateway.base_url, timeout=30, headers={"x-api-key": SERVER_KEY}) as http:
        deadline = time.monotonic() + 10
        while True:
            rows = [row for row in http.get("/admin/activity", params={"limit": 1000}).json()["data"]
                    if row["request_id"] == "mcp-activity-1"]
            if {row["tool"] for row in rows} >= {"initialize", "tools/call search_documents"}:
                break  # each request's record, whichever worker's writer stores it first
            assert time.monotonic() < deadline, rows
            time.sleep(0.2)
    assert {row["tool"] for row in rows} >= {"initialize", "tools/call search_documents"}
    assert {row["path"] for row in rows} == {"/mcp"} and {row["client"] for row in rows} == {"limited"}
    call = next(row for row in rows if row["tool"] == "tools/call search_documents")
    assert call["status"] == 200 and call["localdocs_collections"] == "notes"
    assert call["localdocs_snippets"] == len(found) == 2
