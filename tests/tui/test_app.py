"""The terminal UI driven with Textual's Pilot against real server processes."""

from __future__ import annotations

import asyncio

import httpx
from textual.widgets import DataTable, Static, Tree

from tests.conftest import gateway_config
from tests.gateway import SERVER_KEY, answers, free_port, write_config
from tests.tui.test_headless import processes_using
from api.config import load_config
from tui.app import GatehouseApp
from tui.supervisor import Supervisor


async def until(pilot, check, timeout: float = 10) -> None:
    """Let the app run until `check()` holds (the app talks to a real server meanwhile)."""
    for _ in range(int(timeout / 0.1)):
        if check():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"not true after {timeout}s: {check}")


def tree_text(app: GatehouseApp) -> str:
    lines = []

    def walk(node) -> None:
        lines.append(str(node.label))
        for child in node.children:
            walk(child)

    walk(app.query_one("#client-tree", Tree).root)
    return "\n".join(lines)


def static_text(app: GatehouseApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def test_attached_app_shows_status_client_settings_and_live_activity(gateway):
    app = GatehouseApp(gateway.base_url, SERVER_KEY)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "generation" in static_text(app, "#server-status"))
        assert "attached" in static_text(app, "#status-line")
        await until(pilot, lambda: "id='fake:gpt-fake'" in tree_text(app))

        await pilot.press("2")
        table = app.query_one("#activity-table", DataTable)
        for client in ("server", "someone"):
            await asyncio.to_thread(httpx.post, f"{gateway.openai_url}/chat/completions",
                                    json={"messages": [{"role": "user", "content": "hi"}]},
                                    headers={"X-API-Key": SERVER_KEY, "X-Client-Id": client})
        await until(pilot, lambda: table.row_count >= 2)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert ["server", "fake:gpt-fake", "200"] == rows[-2][1:4] and rows[-1][1] == "someone"

        await pilot.press("s")  # only the server client
        assert {table.get_row_at(i)[1] for i in range(table.row_count)} == {"server"}
        assert "only server" in static_text(app, "#activity-filter")


async def test_supervised_app_starts_the_server_and_stops_it_on_quit(upstreams, tmp_path):
    config_path = write_config(gateway_config(upstreams), tmp_path, free_port())
    config = load_config(config_path)
    log = open(tmp_path / "server.log", "ab")
    supervisor = Supervisor(config_path, config, log=lambda line: None, output=log)
    app = GatehouseApp(supervisor.base_url, config.server.api_key, supervisor)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.state == "running", 30)
            assert answers(f"{supervisor.base_url}/health")
            await until(pilot, lambda: "generation 1" in static_text(app, "#server-status"))
            await pilot.press("q")
        assert not answers(f"{supervisor.base_url}/health")
        assert processes_using(config_path) == []
    finally:
        log.close()
        supervisor.stop()
