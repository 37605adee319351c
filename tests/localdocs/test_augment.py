"""Snippets into requests and sources into answers, per dialect (api/localdocs/augment.py), and which collections
a request may search (api/localdocs/selection.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from api.config.settings import parse_config
from api.localdocs import augment
from api.localdocs.index import Hit
from api.localdocs.selection import asked_for, select
from api.wire.errors import ApiError

HITS = [Hit(7, "notes", "/docs/a.md", "A", None, None, "alpha text", 0.5),
        Hit(9, "notes", "/docs/b.pdf", "B", "Intro", 3, "beta text", 0.25)]


def test_the_question_is_the_last_user_turn():
    body = {"messages": [{"role": "user", "content": "first"}, {"role": "assistant", "content": "x"},
                         {"role": "user", "content": [{"type": "text", "text": "second"}]}]}
    assert augment.question(body, "chat") == "second"
    assert augment.question({"input": "plain"}, "responses") == "plain"
    assert augment.question({"input": [{"role": "user", "content": [{"type": "input_text", "text": "q"}]}]},
                            "responses") == "q"
    assert augment.question({"messages": [{"role": "assistant", "content": "x"}]}, "messages") == ""


def test_chat_gets_numbered_sources_before_the_question():
    body = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "why?"}]}
    augment.augment(body, "/chat/completions", HITS)
    text = body["messages"][1]["content"]
    assert text.endswith("\n\nwhy?") and "[1] A (/docs/a.md)\nalpha text" in text
    assert "[2] B (/docs/b.pdf, page 3)" in text and "[1]" in augment.INSTRUCTION
    assert body["messages"][0] == {"role": "system", "content": "s"}


def test_anthropic_gets_search_result_blocks_with_citations():
    body = {"messages": [{"role": "user", "content": "why?"}]}
    augment.augment(body, "/messages", HITS)
    blocks = body["messages"][0]["content"]
    assert blocks[0] == {"type": "search_result", "source": "/docs/a.md", "title": "A",
                         "content": [{"type": "text", "text": "alpha text"}], "citations": {"enabled": True}}
    assert blocks[-1] == {"type": "text", "text": "why?"}


def test_a_native_responses_request_gets_input_text():
    body = {"input": "why?"}
    augment.augment(body, "/responses", HITS)
    parts = body["input"][0]["content"]
    assert body["input"][0]["role"] == "user" and parts[-1] == {"type": "input_text", "text": "why?"}
    assert "alpha text" in parts[0]["text"]


def test_the_budget_keeps_the_best_and_at_least_one():
    long = Hit(1, "n", "/p", "T", None, None, "x" * (augment.PROMPT_BUDGET_CHARS + 10), 1.0)
    assert augment.fitted([long, HITS[0]]) == [long]


def test_sources_are_spliced_into_a_whole_answer():
    found = augment.sources(HITS)
    body = augment.with_sources_body(b'{"id": "x", "choices": []}\n', found)
    assert orjson.loads(body)["localdocs"]["sources"][1] == {
        "id": 2, "collection": "notes", "path": "/docs/b.pdf", "title": "B", "page": 3, "text": "beta text",
        "score": 0.25, "chunk_id": 9}
    assert orjson.loads(augment.with_sources_body(b"{}", found))["localdocs"] == found


@pytest.mark.parametrize(("dialect", "events", "end"), [
    ("openai", [b"data: {}\n\n", b"data: [DONE]\n\n"], b"data: [DONE]"),
    ("anthropic", [b"event: message_delta\ndata: {}\n\nevent: message_stop\ndata: {}\n\n"], b"event: message_stop"),
    ("responses", [b"event: response.completed\ndata: {}\n\n"], b"event: response.completed"),
])
def test_the_sources_event_comes_right_before_the_end(dialect, events, end):
    async def stream():
        for event in events:
            yield event

    async def collect():
        return b"".join([chunk async for chunk in augment.with_sources_stream(stream, {"sources": []}, dialect)()])

    body = asyncio.run(collect())
    assert body.index(b"localdocs.sources") < body.index(end)
    assert body.count(b"localdocs.sources") == (1 if dialect == "openai" else 2)  # the event name and its type


CONFIG = """
[server]
api_key = "server-key-0123456789"
[collections.notes]
paths = ["notes"]
[collections.other]
paths = ["other"]
[clients.limited]
api_key = "limited-key-0123456789"
collections = ["notes"]
"""


def _config():
    import tomllib
    return parse_config(tomllib.loads(CONFIG), Path("/etc/gatehouse/config.toml"))


def test_collection_paths_are_under_the_config_folder():
    assert _config().collections["notes"].folders(Path("/etc/gatehouse/config.toml")) == (
        Path("/etc/gatehouse/notes"),)


def test_a_client_key_reaches_only_its_clients_collections():
    config = _config()
    assert [c.name for c in select(config, "limited", False, None, None).collections] == ["notes"]
    with pytest.raises(ApiError) as caught:
        select(config, "limited", False, ["other"], None)
    assert caught.value.status == 403
    assert [c.name for c in select(config, "limited", True, ["other"], None).collections] == ["other"]
    assert select(config, "server", True, None, None) is None  # the server client has none of its own
    assert len(select(config, "server", True, None, None, everything_by_default=True).collections) == 2


@pytest.mark.parametrize(("field", "param"), [
    ({"collections": ["nope"]}, "localdocs.collections"), ({"collections": [1]}, "localdocs.collections"),
    ({"top_k": 101}, "localdocs.top_k"), ({"top_k": True}, "localdocs.top_k"), ([], "localdocs"),
])
def test_a_wrong_field_names_itself(field, param):
    with pytest.raises(ApiError) as caught:
        names, top_k = asked_for(field, None)
        select(_config(), "server", True, names, top_k)
    assert caught.value.status == 400 and caught.value.param == param


def test_the_header_is_read_when_the_field_says_nothing():
    assert asked_for(None, b"notes, other") == (["notes", "other"], None)
    assert asked_for({"collections": []}, b"notes") == ([], None)


def test_collection_config_problems_are_named():
    import tomllib

    from api.config.settings import ConfigError
    text = """
[server]
api_key = "server-key-0123456789"
[collections."bad:name"]
paths = ["x"]
[collections.empty]
paths = []
embedding_model = "no-provider-here"
[collections.typo]
path = ["x"]
[clients.c]
collections = ["nope"]
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(text), Path("/c/config.toml"))
    problems = dict(caught.value.problems)
    assert "collection names use" in problems['collections.bad:name']
    assert problems["collections.empty.paths"] == "name at least one folder or file"
    assert "provider:model" in problems["collections.empty.embedding_model"]
    assert any(key.startswith("collections.typo") and "path" in message for key, message in problems.items())
    assert problems["clients.c.collections"].startswith("no [collections.nope]")
