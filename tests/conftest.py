"""Shared fixtures: a fake OpenAI upstream and a Gatehouse server, both real processes on free ports."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from tests.fixtures.fake_anthropic import start_fake_anthropic, stop_fake_anthropic
from tests.fixtures.fake_openai import start_fake_openai, stop_fake_openai
from tests.gateway import SERVER_KEY, Gateway, free_port, start_gateway, wait_until

UPSTREAM_KEY = "sk-upstream-0123456789abcdef"
WRITER_KEY = "writer-key-0123456789"

GATEWAY_CONFIG = """
[server]
api_key = "{server_key}"
port = {port}
data_dir = "{data_dir}"

[providers.fake]
type = "openai"
base_url = "{upstream}/v1"
api_key = "{upstream_key}"

[providers.fixed]
type = "openai"
base_url = "{upstream}/v1"
api_key_env = "TEST_FIXED_KEY"
models = ["gpt-fake", "gpt-fake-fixed"]

[providers.ollama]
type = "ollama"
base_url = "{upstream}"
api_key = "{upstream_key}"

[providers.anth]
type = "anthropic"
base_url = "{anthropic}"
api_key = "{upstream_key}"

[providers.down]
type = "openai"
base_url = "http://127.0.0.1:{closed_port}/v1"

[routes.either]
targets = ["fixed:gpt-fake", "fixed:gpt-fake-fixed"]

[prompts.poet]
text = "You are a poet."

[clients.server]
model = "fake:gpt-fake"

[clients.writer]
api_key = "{writer_key}"
model = "fake:gpt-fake-mini"
prompt = "poet"
temperature = 0.3
top_p = 0.9
max_tokens = 50
"""


@pytest.fixture(scope="session")
def upstream():
    """A fake OpenAI upstream (with Ollama's model list)."""
    process, base_url = start_fake_openai(api_key=UPSTREAM_KEY)
    yield base_url
    stop_fake_openai(process)


@pytest.fixture(scope="session")
def anthropic_upstream():
    """A fake Anthropic upstream."""
    process, base_url = start_fake_anthropic(api_key=UPSTREAM_KEY)
    yield base_url
    stop_fake_anthropic(process)


@pytest.fixture(scope="session")
def upstreams(upstream, anthropic_upstream) -> tuple[str, str]:
    return upstream, anthropic_upstream


def gateway_config(upstreams: tuple[str, str], **server: object) -> str:
    """The test gateway's config; `server` adds or overrides [server] keys."""
    upstream, anthropic = upstreams
    text = GATEWAY_CONFIG.replace("{server_key}", SERVER_KEY).replace("{upstream}", upstream)
    text = text.replace("{anthropic}", anthropic)
    text = text.replace("{upstream_key}", UPSTREAM_KEY).replace("{writer_key}", WRITER_KEY)
    text = text.replace("{closed_port}", str(free_port()))
    extra = "".join(f"{key} = {value!r}\n".replace("'", '"') for key, value in server.items())
    return text.replace("[server]\n", "[server]\n" + extra, 1)


@pytest.fixture(scope="session")
def gateway(upstreams, tmp_path_factory):
    server = start_gateway(gateway_config(upstreams), tmp_path_factory.mktemp("gateway"),
                           env={"TEST_FIXED_KEY": UPSTREAM_KEY})
    yield server
    print(server.stop())


def openai_sdk(server: Gateway) -> openai.OpenAI:
    """The official OpenAI SDK pointed at a gateway (no retries: every status is seen as sent)."""
    return openai.OpenAI(base_url=server.openai_url, api_key=SERVER_KEY, max_retries=0)


def anthropic_sdk(server: Gateway) -> anthropic.Anthropic:
    """The official Anthropic SDK pointed at a gateway (no retries)."""
    return anthropic.Anthropic(base_url=server.base_url, api_key=SERVER_KEY, max_retries=0)


@pytest.fixture
def client(gateway):
    return openai_sdk(gateway)


@pytest.fixture
def http(gateway):
    with httpx.Client(base_url=gateway.base_url, timeout=30) as session:
        yield session


def upstream_record(upstream: str, request_id: str) -> dict:
    """What the fake upstream received for the request with this x-request-id."""
    response = httpx.get(f"{upstream}/_fake/requests/{request_id}")
    assert response.status_code == 200, f"the upstream never saw request {request_id}"
    return response.json()


def activity_of(http: httpx.Client, request_id: str) -> dict:
    """The gateway's activity record of a request, once written."""
    found = []

    def written() -> bool:
        page = http.get("/admin/activity", params={"limit": 1000}, headers={"x-api-key": SERVER_KEY}).json()
        found.extend(record for record in page["data"] if record["request_id"] == request_id)
        return bool(found)

    wait_until(written, 5, f"the activity record of {request_id}")
    return found[0]
