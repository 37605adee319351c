"""A provider whose base_url points back at Gatehouse itself (issue 21, item 24): every request Gatehouse
sends upstream names it in `gatehouse-instance`; one that comes back is refused at once (508), the client's
request fails fast naming the provider, /v1/models lists the other providers' models without waiting for a
timeout; another Gatehouse in the chain (its own id) still works. And a timeout names the limit that fired.

Provider `loop` names the gateway's own address (known from the config alone); `proxied` and `proxiedant`
reach it through a TCP forwarder, as another name of the machine or a proxy would: only the header tells."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from api.config.settings import parse_config
from api.upstream.http_client import HttpClient
from api.upstream.providers import PROVIDER_CLASSES
from api.wire.errors import ApiError
from tests.conftest import UPSTREAM_KEY, upstream_record
from tests.fixtures.raw_server import raw_server, read_request
from tests.gateway import SERVER_KEY, free_port, start_gateway

ADMIN = {"x-api-key": SERVER_KEY}
FAST_S = 3.0
"""Well under model discovery's 10 s: what a looping provider may cost a request at most."""

LOOPING = f"""
[server]
api_key = "{SERVER_KEY}"
port = {{port}}
data_dir = "{{data_dir}}"
workers = 2
request_timeout_s = 30

[providers.fake]
type = "openai"
base_url = "{{upstream}}/v1"
api_key = "{UPSTREAM_KEY}"

[providers.loop]
type = "openai"
base_url = "http://127.0.0.1:{{port}}/v1"
api_key = "{SERVER_KEY}"

[providers.proxied]
type = "openai"
base_url = "http://127.0.0.1:{{proxy}}/v1"
api_key = "{SERVER_KEY}"

[providers.proxiedant]
type = "anthropic"
base_url = "http://127.0.0.1:{{proxy}}"
"""

FRONT = f"""
[server]
api_key = "{SERVER_KEY}"
port = {{port}}
data_dir = "{{data_dir}}"

[providers.fake]
type = "openai"
base_url = "{{upstream}}/v1"
api_key = "{UPSTREAM_KEY}"

[providers.back]
type = "openai"
base_url = "{{back}}/v1"
api_key = "{SERVER_KEY}"
"""


@contextlib.contextmanager
def forwarder(port: int):
    """A TCP forwarder on 127.0.0.1 to 127.0.0.1:`port`, in a thread of its own; yields its port."""
    loop = asyncio.new_event_loop()

    async def pipe(reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle(reader, writer) -> None:
        try:
            target_reader, target_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, target_writer), pipe(target_reader, writer))

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@contextlib.contextmanager
def looping_gateway(upstream: str, directory: Path):
    port = free_port()
    with forwarder(port) as proxy:
        server = start_gateway(LOOPING.replace("{upstream}", upstream).replace("{proxy}", str(proxy)),
                               directory, port=port)
        server.proxy_url = f"http://127.0.0.1:{proxy}"  # type: ignore[attr-defined]
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def looping(upstream, tmp_path_factory):
    with looping_gateway(upstream, tmp_path_factory.mktemp("looping")) as server:
        yield server


@pytest.fixture(scope="module")
def chained(upstream, tmp_path_factory):
    """Two gateways: `front`, whose provider `back` is the other one (which serves the fake upstream)."""
    with looping_gateway(upstream, tmp_path_factory.mktemp("back")) as back:
        front = start_gateway(FRONT.replace("{upstream}", upstream).replace("{back}", back.base_url),
                              tmp_path_factory.mktemp("front"))
        try:
            yield front, back
        finally:
            front.stop()


def _loop_message(provider: str, base_url: str) -> str:
    return f"provider '{provider}' points back at this Gatehouse (base_url {base_url}"


def test_the_model_list_is_quick_and_lists_the_other_providers(looping):
    started = time.monotonic()
    response = httpx.get(f"{looping.openai_url}/models", headers=ADMIN, timeout=30)
    assert time.monotonic() - started < FAST_S
    assert response.status_code == 200
    ids = [model["id"] for model in response.json()["data"]]
    assert "fake:gpt-fake" in ids and not any(model.startswith(("loop:", "proxied")) for model in ids)

    def providers() -> dict:
        data = httpx.get(f"{looping.base_url}/admin/providers", headers=ADMIN, timeout=30).json()["data"]
        return {entry["id"]: entry for entry in data}
    listed = providers()
    assert listed["fake"]["reachable"] is True
    assert listed["loop"]["reachable"] is False  # its address is this server's: known from the config
    assert _loop_message("loop", looping.openai_url) in listed["loop"]["error"]
    status = httpx.get(f"{looping.base_url}/admin/status", headers=ADMIN, timeout=30).json()
    shown = {entry["id"]: entry for entry in status["providers"]}
    assert shown["loop"]["reachable"] is False and "points back at this Gatehouse" in shown["loop"]["error"]
    # Through the forwarder only the request that comes back tells. A worker's first look, while it
    # starts, finds nothing listening yet (Granian listens once the workers have started): also a failure.
    for pid, base_url in (("proxied", f"{looping.proxy_url}/v1"), ("proxiedant", looping.proxy_url)):
        assert providers()[pid]["reachable"] is False and shown[pid]["reachable"] is not True
        asked = httpx.get(f"{looping.base_url}/admin/providers/{pid}", params={"refresh": "true"}, headers=ADMIN,
                          timeout=30).json()  # what the TUI's `t` asks
        assert asked["reachable"] is False and _loop_message(pid, base_url) in asked["error"]


@pytest.mark.parametrize("provider", ["loop", "proxied"])
def test_a_chat_request_to_the_looping_provider_fails_fast_in_openai_dialect(looping, provider):
    base_url = looping.openai_url if provider == "loop" else f"{looping.proxy_url}/v1"
    client = openai.OpenAI(base_url=looping.openai_url, api_key=SERVER_KEY, max_retries=0, timeout=15)
    for stream in (False, True):
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model=f"{provider}:gpt-fake", stream=stream,
                                           messages=[{"role": "user", "content": "hi"}])
        assert time.monotonic() - started < FAST_S
        error = caught.value
        assert error.status_code == 508
        assert _loop_message(provider, base_url) in error.message
        assert error.body["code"] == "loop_detected" and error.body["type"] == "server_error"
        assert error.response.headers["x-should-retry"] == "false"  # the SDKs would retry a 5xx otherwise
        assert "gatehouse-instance" not in error.response.headers  # only in the refusal of the request that came back


def test_messages_to_the_looping_providers_fail_fast_in_anthropic_dialect(looping):
    client = anthropic.Anthropic(base_url=looping.base_url, api_key=SERVER_KEY, max_retries=0, timeout=15)
    for model, provider, base_url in (("proxiedant:claude-x", "proxiedant", looping.proxy_url),
                                      ("proxied:gpt-fake", "proxied", f"{looping.proxy_url}/v1"),  # translated
                                      ("loop:gpt-fake", "loop", looping.openai_url)):
        started = time.monotonic()
        with pytest.raises(anthropic.APIStatusError) as caught:
            client.messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        assert time.monotonic() - started < FAST_S
        assert caught.value.status_code == 508
        assert caught.value.body["type"] == "error" and caught.value.body["error"]["type"] == "api_error"
        assert _loop_message(provider, base_url) in caught.value.body["error"]["message"]


def test_a_request_carrying_the_gateways_own_id_is_refused_before_its_key_is_checked(looping, upstream):
    """What the request that comes back sees: 508 naming the loop, the same id echoed (so that the sender
    knows it was itself), in the endpoint's dialect; the id is what the gateway sends upstream."""
    request_id = "loop-own-id-1"
    answered = httpx.post(f"{looping.openai_url}/chat/completions", headers={**ADMIN, "x-request-id": request_id},
                          json={"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]})
    assert answered.status_code == 200
    own = upstream_record(upstream, request_id)["headers"]["gatehouse-instance"]
    assert len(own) == 16 and SERVER_KEY not in own and UPSTREAM_KEY not in own
    for headers in ({}, ADMIN, {"x-api-key": "not-a-key", "anthropic-version": "2023-06-01"}):
        refused = httpx.get(f"{looping.openai_url}/models", headers={**headers, "gatehouse-instance": own})
        assert refused.status_code == 508 and refused.headers["gatehouse-instance"] == own
        assert "points back at this Gatehouse" in str(refused.json())
    refused = httpx.post(f"{looping.openai_url}/messages", headers={"gatehouse-instance": own},
                         json={"model": "fake:gpt-fake", "max_tokens": 5, "messages": []})
    assert refused.status_code == 508 and refused.json()["error"]["type"] == "api_error"
    other = httpx.get(f"{looping.openai_url}/models", headers={**ADMIN, "gatehouse-instance": "0" * 16}, timeout=30)
    assert other.status_code == 200  # another Gatehouse's request


def test_a_gateway_in_front_of_another_works(chained, upstream):
    front, back = chained
    started = time.monotonic()
    listed = httpx.get(f"{front.openai_url}/models", headers=ADMIN, timeout=30).json()["data"]
    assert time.monotonic() - started < FAST_S
    assert "back:fake:gpt-fake" in [model["id"] for model in listed]
    client = openai.OpenAI(base_url=front.openai_url, api_key=SERVER_KEY, max_retries=0, timeout=15)
    answer = client.chat.completions.with_raw_response.create(
        model="back:fake:gpt-fake", messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-request-id": "chain-1"})
    assert answer.status_code == 200 and answer.parse().choices[0].message.content
    client.chat.completions.create(model="fake:gpt-fake", messages=[{"role": "user", "content": "hi"}],
                                   extra_headers={"x-request-id": "chain-front-1"})
    seen_from_back = upstream_record(upstream, "chain-1")["headers"]["gatehouse-instance"]
    seen_from_front = upstream_record(upstream, "chain-front-1")["headers"]["gatehouse-instance"]
    assert seen_from_back != seen_from_front  # each server its own id; `back` did not refuse `front`'s
    # And the gateway behind still refuses its own loop, also when asked through the one in front.
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="back:proxied:gpt-fake", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 508
    assert _loop_message("proxied", f"{back.proxy_url}/v1") in caught.value.message


def test_the_workers_of_one_server_share_its_id(looping, upstream):
    """The id is made once by the main process: every worker sends (and so recognises) the same."""
    ids = set()
    for n in range(12):
        request_id = f"loop-workers-{n}"
        httpx.post(f"{looping.openai_url}/chat/completions", headers={**ADMIN, "x-request-id": request_id},
                   json={"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]})
        ids.add(upstream_record(upstream, request_id)["headers"]["gatehouse-instance"])
    assert len(ids) == 1


def _provider(base_url: str, tmp_path: Path, request_timeout_s: float):
    config = parse_config({"server": {"api_key": SERVER_KEY, "data_dir": str(tmp_path),
                                      "request_timeout_s": request_timeout_s},
                           "providers": {"slow": {"type": "openai", "base_url": f"{base_url}/v1"}}},
                          tmp_path / "config.toml", environ={})
    settings = config.providers["slow"]
    return PROVIDER_CLASSES[settings.type](settings, config.server, HttpClient())


async def test_a_discovery_timeout_names_the_discovery_limit_not_request_timeout_s(tmp_path):
    done = asyncio.Event()

    async def silent(reader, writer):
        await read_request(reader)
        await done.wait()

    async with raw_server(silent) as (url, _):
        provider = _provider(url, tmp_path, 600)
        assert provider.discovery_read_timeout_s == 10
        provider.discovery_read_timeout_s = 0.3  # the limit, shortened for the test; the words are the same
        with pytest.raises(ApiError) as caught:
            await provider.discover()
        await provider.http.close()
    message = caught.value.message
    assert caught.value.status == 504
    assert "provider 'slow' did not answer in time: nothing within 0.3 s (model discovery" in message
    assert "request_timeout_s=600" not in message and url in message

    async with raw_server(silent) as (url, _):
        provider = _provider(url, tmp_path, 1)
        with pytest.raises(ApiError) as caught:
            await provider.post("/chat/completions", b"{}", "req-1")
        await provider.http.close()
    assert "nothing within 1 s (request_timeout_s)" in caught.value.message
    done.set()  # the silent connections end
