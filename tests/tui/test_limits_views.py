"""Limits, budgets and costs in the TUI at 80x24: the Activity tab's cost column, the limit that refused a request
and the clients' spend against their budgets; the Server tab's limits of a client with what is left."""

from __future__ import annotations

import contextlib

import httpx
import pytest
from textual.widgets import DataTable, Select, TabbedContent

from tests.conftest import gateway_config
from tests.gateway import SERVER_KEY, start_gateway
from tests.tui.test_app import palette_run, screen_lines, static_text, until
from tui.app import GatehouseApp

METERED_KEY = "key-of-metered-0123456789"
LIMITS = f"""
[providers.fake.prices."gpt-fake"]
input = 1000
output = 2000

[clients.metered]
api_key = "{METERED_KEY}"
rpm = 2
budget = {{ amount = 5, currency = "usd", period = "month" }}
"""


@pytest.fixture(scope="module")
def limited(upstreams, tmp_path_factory):
    server = start_gateway(gateway_config(upstreams) + LIMITS, tmp_path_factory.mktemp("limits-tui"))
    statuses = [httpx.post(f"{server.openai_url}/chat/completions", headers={"authorization": f"Bearer {METERED_KEY}"},
                           json={"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]}).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def attached(server):
    app = GatehouseApp(server.base_url, SERVER_KEY)
    async with app.run_test(size=(80, 24)) as pilot:
        yield app, pilot


async def test_the_activity_shows_costs_the_refusing_limit_and_the_spend_against_budgets(limited):
    async with attached(limited) as (app, pilot):
        await pilot.press("3")
        table = app.query_one("#activity-table", DataTable)
        await until(pilot, lambda: table.row_count >= 3)

        def answered() -> list[str]:
            return [line for line in screen_lines(app) if "metered" in line and " 200 " in line]
        await until(pilot, lambda: len(answered()) == 2)  # the rows counted may be drawn a frame later
        assert all("$0.0" in line for line in answered())  # cost, in view at 80 columns
        lines = screen_lines(app)
        assert any("metered" in line and "429 rpm" in line for line in lines)
        await until(pilot, lambda: "metered $0.0" in static_text(app, "#activity-budgets"))
        assert "of $5.00 this month" in static_text(app, "#activity-budgets")


async def test_the_server_tab_shows_a_clients_limits_and_what_is_left(limited):
    async with attached(limited) as (app, pilot):
        await pilot.press("2")
        select = app.query_one("#client-select", Select)
        await until(pilot, lambda: "metered" in app.query_one("#server-tab").client_names)
        select.value = "metered"
        await until(pilot, lambda: "requests/min 2: 0 left" in static_text(app, "#client-limits"))
        shown = static_text(app, "#client-limits")
        assert "budget $5.00/month: $0.0" in shown and "left, renews" in shown
        select.value = "server"
        await until(pilot, lambda: static_text(app, "#client-limits") == "limits: none")


async def test_a_client_is_picked_from_the_keyboard_and_the_palette(limited):
    async with attached(limited) as (app, pilot):
        await pilot.press("2")
        await until(pilot, lambda: "metered" in app.query_one("#server-tab").client_names)
        await pilot.press("l")  # the list of clients opens
        select = app.query_one("#client-select", Select)
        await until(pilot, lambda: select.expanded)
        names = app.query_one("#server-tab").client_names
        await pilot.press(*["down"] * (names.index("metered") - names.index("server")), "enter")
        await until(pilot, lambda: "requests/min 2: " in static_text(app, "#client-limits"))
        await pilot.press("escape", "1")
        await palette_run(pilot, "Server: Show a client's limits")  # from another tab
        await until(pilot, lambda: app.query_one(TabbedContent).active == "server")
        await until(pilot, lambda: select.expanded)
