"""How the Activity tab labels requests that name no model: LocalDocs searches and MCP calls."""

from __future__ import annotations

from tui.tabs.activity import activity_cells

BASE = {"time": "2026-12-04T20:00:00", "client": "tui", "status": 200, "error": None, "latency_ms": 3.2,
        "total_tokens": None, "input_tokens": None, "output_tokens": None, "tokens_estimated": False,
        "model": None, "tool": None, "localdocs_snippets": None}


def _cells(**record) -> list[str]:
    return [str(cell) for cell in activity_cells(BASE | record)]


def test_a_search_shows_its_label_and_what_it_found():
    cells = _cells(path="/v1/localdocs/search", localdocs_snippets=4)
    assert cells[2] == "localdocs search" and cells[5] == "4 found"


def test_an_mcp_call_shows_its_method_or_tool():
    assert _cells(path="/mcp", tool="initialize")[2] == "mcp initialize"
    cells = _cells(path="/mcp", tool="tools/call search_documents", localdocs_snippets=2)
    assert cells[2] == "mcp search_documents" and cells[5] == "2 found"


def test_a_chat_keeps_its_model_and_tokens():
    cells = _cells(path="/v1/chat/completions", model="fake:gpt-fake", total_tokens=12, input_tokens=10,
                   output_tokens=2, localdocs_snippets=3)
    assert cells[2] == "fake:gpt-fake" and cells[5] == "10+2"
