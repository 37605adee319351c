"""A provider refusing Gatehouse's key for it: its message (which quotes part of that key) reaches only the server
key's holder and the activity record, never a client key's holder."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import activity_of
from tests.gateway import SERVER_KEY, SERVER_SECTION, start_gateway

WRONG_KEY = "sk-WRONG-provider-key-0123456789b7e"
CLIENT_KEY = "client-own-key-0123456789"
CONFIG = SERVER_SECTION + f'''
[providers.fake]
type = "openai"
base_url = "{{upstream}}/v1"
api_key = "{WRONG_KEY}"
models = ["gpt-fake"]

[clients.app]
api_key = "{CLIENT_KEY}"
'''


@pytest.fixture(scope="module")
def refused(upstream, tmp_path_factory):
    server = start_gateway(CONFIG.replace("{upstream}", upstream), tmp_path_factory.mktemp("credentials"))
    yield server
    server.stop()


def _chat(server, key: str, request_id: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/chat/completions", headers={"authorization": f"Bearer {key}",
                                                                         "x-request-id": request_id},
                      json={"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)


def test_a_client_key_never_sees_a_fragment_of_the_providers_key(refused):
    response = _chat(refused, CLIENT_KEY, "credentials-client")
    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert "refused Gatehouse's credentials" in message
    assert "sk-" not in message and "b7e" not in message
    with httpx.Client(base_url=refused.base_url, timeout=30) as http:
        record = activity_of(http, "credentials-client")
    assert "Incorrect API key" in record["error"]  # the operator can still read it
    operator = _chat(refused, SERVER_KEY, "credentials-server").json()["error"]["message"]
    assert "Incorrect API key" in operator
