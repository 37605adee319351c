"""Config hot reload in a real server process: edits, atomic renames, bad files, and requests in flight."""

from __future__ import annotations

import os
import threading

import httpx
import openai
import pytest

from tests.conftest import gateway_config, upstream_record
from tests.gateway import SERVER_KEY, start_gateway, wait_until

ADMIN = {"X-API-Key": SERVER_KEY}
NEW_PROVIDER = """
[providers.extra]
type = "openai"
base_url = "{upstream}/v1"
models = ["gpt-fake-extra"]
"""


@pytest.fixture
def server(upstreams, tmp_path):
    gateway = start_gateway(gateway_config(upstreams), tmp_path)
    yield gateway
    output = gateway.stop()
    assert "Traceback" not in output, output


def status(server) -> dict:
    return httpx.get(f"{server.base_url}/admin/status", headers=ADMIN).json()


def model_ids(server) -> set[str]:
    response = httpx.get(f"{server.openai_url}/models", headers=ADMIN)
    return {model["id"] for model in response.json()["data"]}


def edit(server, transform, atomic: bool = False) -> None:
    """Rewrite the config file, in place or as editors do: write a temporary file, rename it over."""
    text = transform(server.config_path.read_text())
    if atomic:
        temporary = server.config_path.with_suffix(".toml.tmp")
        temporary.write_text(text)
        os.replace(temporary, server.config_path)
    else:
        server.config_path.write_text(text)


def test_an_added_provider_appears_without_a_restart(server, upstream):
    before = status(server)
    edit(server, lambda text: text + NEW_PROVIDER.replace("{upstream}", upstream))
    wait_until(lambda: "extra:gpt-fake-extra" in model_ids(server), 2, "the new provider's model")
    after = status(server)
    assert after["pid"] == before["pid"]  # no restart
    assert after["config_generation"] == before["config_generation"] + 1 and after["last_reload"]


def test_a_changed_prompt_reaches_the_next_request(server, upstream):
    edit(server, lambda text: text.replace('text = "You are a poet."', 'text = "You are a pirate."'), atomic=True)
    wait_until(lambda: status(server)["config_generation"] == 2, 2, "the reload")
    request_id = "reload-prompt-1"
    httpx.post(f"{server.openai_url}/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]},
               headers={**ADMIN, "X-Client-Id": "writer", "X-Request-Id": request_id})
    sent = upstream_record(upstream, request_id)["body"]["messages"]
    assert sent[0] == {"role": "system", "content": "You are a pirate."}


def test_cors_origins_change_without_a_restart(server):
    origin = "http://localhost:5173"

    def allowed() -> str | None:
        response = httpx.get(f"{server.openai_url}/models", headers={**ADMIN, "Origin": origin})
        return response.headers.get("access-control-allow-origin")

    assert allowed() is None
    edit(server, lambda text: text.replace("[server]\n", f'[server]\ncors_origins = ["{origin.upper()}"]\n', 1))
    wait_until(lambda: allowed() == origin, 2, "CORS for the new origin")
    edit(server, lambda text: text.replace(f'cors_origins = ["{origin.upper()}"]', 'cors_origins = ["*"]'))
    wait_until(lambda: allowed() == "*", 2, "CORS for any origin")
    assert status(server)["config_generation"] == 3


def test_keys_change_too(server):
    edit(server, lambda text: text.replace(SERVER_KEY, "a-brand-new-server-key"))
    wait_until(lambda: httpx.get(f"{server.openai_url}/models", headers=ADMIN).status_code == 401, 2, "the new key")
    assert httpx.get(f"{server.openai_url}/models", headers={"X-API-Key": "a-brand-new-server-key"}).status_code == 200


def test_a_stream_spanning_a_reload_completes_intact(server, upstream):
    client = openai.OpenAI(base_url=server.openai_url, api_key=SERVER_KEY, max_retries=0)
    stream = client.chat.completions.create(model="fake:gpt-fake", messages=[{"role": "user", "content": "one two"}],
                                            stream=True, extra_body={"fake": {"chunks": 6, "delay_ms": 200}})
    pieces = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
            if len(pieces) == 1:  # mid-stream: remove the very provider serving it
                threading.Thread(target=edit, args=(server, lambda t: t.replace("[providers.fake]", "[providers.gone]"))).start()
    assert "".join(pieces) == "echo: one two" and len(pieces) == 6
    wait_until(lambda: "fake:gpt-fake" not in model_ids(server), 2, "the provider's removal")


def test_a_broken_file_keeps_the_last_good_config_until_fixed(server):
    good = server.config_path.read_text()
    server.config_path.write_text(good + "\n[providers.half\ntype = \n")
    wait_until(lambda: status(server)["last_reload_error"] is not None, 2, "the rejection")
    report = status(server)
    assert "not valid TOML" in report["last_reload_error"] and "line" in report["last_reload_error"]
    assert report["config_generation"] == 1
    assert "fake:gpt-fake" in model_ids(server)  # still serving

    server.config_path.write_text(good.replace('port = ', 'workers = "two"\nport = ', 1))
    wait_until(lambda: "server.workers: must be an integer" in (status(server)["last_reload_error"] or ""), 2,
               "the invalid value's rejection")

    server.config_path.write_text(good.replace('text = "You are a poet."', 'text = "Fixed."'))
    wait_until(lambda: status(server)["last_reload_error"] is None, 2, "the recovery")
    assert status(server)["config_generation"] == 2
    log = server.stop()
    assert "config change rejected, still serving generation 1" in log
    assert "changed: prompts.poet.text" in log


def test_delete_then_create_is_picked_up(server, upstream):
    text = server.config_path.read_text()
    server.config_path.unlink()
    wait_until(lambda: status(server)["last_reload_error"] is not None, 2, "the missing file's report")
    assert "fake:gpt-fake" in model_ids(server)
    server.config_path.write_text(text + NEW_PROVIDER.replace("{upstream}", upstream))
    wait_until(lambda: "extra:gpt-fake-extra" in model_ids(server), 2, "the recreated file")


def test_reload_logs_name_keys_never_secrets(server):
    edit(server, lambda text: text.replace('api_key = "writer-key-0123456789"', 'api_key = "writer-secret-987654321"'))
    wait_until(lambda: status(server)["config_generation"] == 2, 2, "the reload")
    log = server.stop()
    assert "changed: clients.writer.api_key" in log
    assert "writer-secret-987654321" not in log and "writer-key-0123456789" not in log


def test_client_keys_cannot_read_admin_status(server):
    response = httpx.get(f"{server.base_url}/admin/status", headers={"X-API-Key": "writer-key-0123456789"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "server_key_required"
