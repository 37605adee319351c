"""The terminal UI driven with Textual's Pilot against real server processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import tomllib
from pathlib import Path

import httpx
import orjson
import pytest
from textual.command import CommandPalette
from textual.widgets import DataTable, Input, Select, Static, Switch, TabbedContent, Tree

from api.config.settings import load_config
from tests.conftest import UPSTREAM_KEY, gateway_config
from tests.fixtures.raw_server import raw_server, read_request
from tests.gateway import SERVER_KEY, answers, free_port, start_gateway, write_config
from tests.tui.test_headless import processes_using
from tui.app import GatehouseApp
from tui.commands import GatehouseCommands
from tui.messages import SupervisorReported
from tui.screens import ConfirmScreen
from tui.supervisor import Supervisor, SupervisorEvent
from tui.tabs.config import ConfigTab
from tui.tabs.server import ServerTab

ADMIN = {"X-API-Key": SERVER_KEY}
TUI_CLIENT = """
[clients.tui]
model = "fake:gpt-fake-mini"
prompt = "poet"
temperature = 0.4
"""


async def until(pilot, check, timeout: float = 10) -> None:
    """Let the app run until `check()` holds (the app talks to a real server meanwhile)."""
    for _ in range(int(timeout / 0.1)):
        if check():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"not true after {timeout}s: {check}")


def tree_text(app: GatehouseApp, selector: str) -> str:
    lines = []

    def walk(node) -> None:
        lines.append(str(node.label))
        for child in node.children:
            walk(child)

    walk(app.query_one(selector, Tree).root)
    return "\n".join(lines)


def static_text(app: GatehouseApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def notes(app: GatehouseApp) -> str:
    return "\n".join(str(notification.message) for notification in app._notifications)


def config_file(app: GatehouseApp) -> Path:
    assert app.session.config is not None, "attached: no config file"
    return app.session.config.path


def file_config(app: GatehouseApp) -> dict:
    return tomllib.loads(config_file(app).read_text())


async def type_into(pilot, selector: str, text: str) -> None:
    """Focus an input, clear it and type `text`, key by key."""
    field = pilot.app.query_one(selector, Input)
    field.focus()
    await pilot.pause()
    await pilot.press("end", *["backspace"] * len(field.value), *text)


@contextlib.asynccontextmanager
async def supervised(upstreams, tmp_path, size=(100, 30), extra: str = ""):
    """The app as `gatehouse` runs it: supervising its own server over a config file."""
    config_path = write_config(gateway_config(upstreams) + TUI_CLIENT + extra, tmp_path, free_port())
    config = load_config(config_path)
    log = open(tmp_path / "server.log", "ab")
    supervisor = Supervisor(config_path, config, on_event=lambda event: app.post_message(SupervisorReported(event)),
                            output=log)
    app = GatehouseApp(supervisor.base_url, config.server.api_key, supervisor, user_themes=tmp_path / "themes")
    try:
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.state == "running", 30)
            yield app, pilot
    finally:
        log.close()
        supervisor.stop()


def server_pid(app: GatehouseApp) -> int:
    """The pid the server reports (its worker's)."""
    return httpx.get(f"{app.session.admin.base_url}/admin/status", headers=ADMIN).json()["pid"]


def models(app: GatehouseApp) -> list[str]:
    response = httpx.get(f"{app.session.admin.base_url}/v1/models", headers=ADMIN)
    return [model["id"] for model in response.json()["data"]]


async def test_attached_app_shows_status_client_settings_and_live_activity(gateway):
    await asyncio.to_thread(httpx.post, f"{gateway.openai_url}/chat/completions",  # before the app starts
                            json={"messages": [{"role": "user", "content": "hi"}]},
                            headers={"X-API-Key": SERVER_KEY, "X-Client-Id": "earlier"})
    app = GatehouseApp(gateway.base_url, SERVER_KEY)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: "generation" in static_text(app, "#server-status"))
        assert "attached" in static_text(app, "#status-line")
        await until(pilot, lambda: "id='fake:gpt-fake'" in tree_text(app, "#client-tree"))
        footer = screen_lines(app)[-1]
        assert "k Show key" in footer and not any(key in footer for key in ("Stop", "Start", "Restart"))

        await pilot.press("3")
        table = app.query_one("#activity-table", DataTable)
        for client in ("server", "someone", "[/b]odd"):  # a client names itself: '[' is not markup here
            await asyncio.to_thread(httpx.post, f"{gateway.openai_url}/chat/completions",
                                    json={"messages": [{"role": "user", "content": "hi"}]},
                                    headers={"X-API-Key": SERVER_KEY, "X-Client-Id": client})
        await pilot.press("f")  # status: ok only; tab 4 asked for /v1/models as client "tui" meanwhile
        await until(pilot, lambda: table.row_count >= 2)

        def rows() -> list:
            every = ([str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count))
            return [row for row in every if row[1] != "tui"]
        await until(pilot, lambda: rows() and rows()[-1][1] == "[/b]odd")
        assert ["server", "fake:gpt-fake", "200"] == rows()[-3][1:4]
        assert [row[1] for row in rows()[-2:]] == ["someone", "[/b]odd"]
        assert "earlier" in [row[1] for row in rows()]  # the last records are there from the start
        assert table.cursor_row == table.row_count - 1  # the newest row in view

        table.focus()
        await pilot.press("s")  # only the server client
        assert {str(table.get_row_at(i)[1]) for i in range(table.row_count)} == {"server"}
        assert "only server" in static_text(app, "#activity-filter")
        assert "status: ok" in static_text(app, "#activity-filter")

        await pilot.press("end", "enter")  # the record in full
        assert '"client": "server"' in str(app.screen.query(Static)[1].render())
        await pilot.press("escape")


async def test_a_stream_broken_off_after_its_200_is_among_the_errors(gateway):
    app = GatehouseApp(gateway.base_url, SERVER_KEY)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        table = app.query_one("#activity-table", DataTable)
        for fake in ({}, {"chunks": 4, "error_event_after_chunks": 2}):
            await asyncio.to_thread(httpx.post, f"{gateway.base_url}/v1/messages", headers={
                "X-API-Key": SERVER_KEY, "X-Client-Id": "broken-off", "anthropic-version": "2023-06-01"},
                json={"model": "anth:claude-fake-sonnet", "max_tokens": 50, "stream": True, "fake": fake,
                      "messages": [{"role": "user", "content": "hi"}]})

        def rows() -> list[list[str]]:
            every = ([str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count))
            return [row[1:4] for row in every if row[1] == "broken-off"]
        await until(pilot, lambda: len(rows()) == 2)
        assert [status for _, _, status in rows()] == ["200", "200 ✗"]
        await pilot.press("f", "f")  # status: errors
        assert "status: errors" in static_text(app, "#activity-filter")
        await until(pilot, lambda: rows() == [["broken-off", "anth:claude-fake-sonnet", "200 ✗"]])


def visible_lines(widget) -> list[str]:
    """The lines of `widget` as they are on screen (what is cut off is not in them)."""
    return [widget.render_line(y).text for y in range(widget.size.height)]


def screen_lines(app: GatehouseApp) -> list[str]:
    """The screen's lines as the terminal shows them, every widget composed (Textual has no public call
    for the text of the whole screen; its compositor renders it)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_a_long_client_name_or_model_leaves_the_other_activity_columns_in_view(gateway):
    name = "a-client-that-names-itself-at-length-" + "x" * 23  # 60 characters
    model = "ollama:nomic-embed-text:latest"
    app = GatehouseApp(gateway.base_url, SERVER_KEY)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await asyncio.to_thread(httpx.post, f"{gateway.openai_url}/embeddings", json={"model": model, "input": "hi"},
                                headers={"X-API-Key": SERVER_KEY, "X-Client-Id": name})
        table = app.query_one("#activity-table", DataTable)
        await until(pilot, lambda: any(name[:11] in line for line in visible_lines(table)))
        row = next(line for line in visible_lines(table) if name[:11] in line)
        assert "…" in row and name not in row and model not in row
        assert re.search(r" ollama:nomic-embed-… +200 +\d+ ms +\d+\+\d+ +\$0", row)  # status, latency, tokens, cost
        table.focus()
        await pilot.press("end", "enter")  # the full name is in the record's detail view
        assert f'"client": "{name}"' in str(app.screen.query(Static)[1].render())


async def test_the_model_filter_matches_a_path_shown_in_the_model_column(upstreams, tmp_path):
    gateway = start_gateway(gateway_config(upstreams), tmp_path)  # its own: the activity holds these requests only
    app = GatehouseApp(gateway.base_url, SERVER_KEY)
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(gateway.stop)
        pilot = await stack.enter_async_context(app.run_test(size=(100, 30)))
        await pilot.press("3")
        for path in ("/v1/models", "/v1/models/fake:gpt-fake"):  # no model asked for: the path is shown
            await asyncio.to_thread(httpx.get, f"{gateway.base_url}{path}", headers=ADMIN)
        await asyncio.to_thread(httpx.post, f"{gateway.openai_url}/chat/completions", headers=ADMIN,
                                json={"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]})
        table = app.query_one("#activity-table", DataTable)

        def models() -> set[str]:
            return {str(table.get_row_at(i)[2]) for i in range(table.row_count)}
        await until(pilot, lambda: {"/v1/models/fake:gpt-fake", "fake:gpt-fake"} <= models())
        await pilot.press("m", *"v1/models", "enter")
        assert models() == {"/v1/models", "/v1/models/fake:gpt-fake"}
        await pilot.press("m", *["backspace"] * 9, *"gpt-fake", "enter")
        assert {"fake:gpt-fake", "/v1/models/fake:gpt-fake"} <= models()
        assert all("gpt-fake" in model for model in models())


async def test_attached_app_shows_the_config_read_only_and_refuses_edits(gateway):
    before = gateway.config_path.read_bytes()
    app = GatehouseApp(gateway.base_url, SERVER_KEY)
    async with app.run_test(size=(80, 24)) as pilot:
        assert "read-only" in static_text(app, "#banner")
        await until(pilot, lambda: "fixed" in tree_text(app, "#config-nav"))
        nav = app.query_one("#config-nav", Tree)
        nav.focus()
        await pilot.press("down", "down", "down")  # Server, Providers, fake, fixed
        await until(pilot, lambda: app.query("#input-base_url"))
        assert app.query_one("#input-base_url", Input).disabled
        assert app.query_one("#input-api_key", Input).value == "<redacted>"
        footer = screen_lines(app)[-1]  # saving and dropping edits do nothing here: not offered
        assert "? Help" in footer and "Save" not in footer and "Drop edits" not in footer
        await pilot.press("a", "ctrl+s", "d")
        await pilot.press("2", "g")
        await pilot.pause(0.2)
        assert "read-only" in notes(app)
        assert not app.screen.is_modal
    assert gateway.config_path.read_bytes() == before


async def test_editing_a_provider_changes_the_file_and_the_gateways_models(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        await until(pilot, lambda: "fixed" in tree_text(app, "#config-nav"))
        app.query_one("#config-nav", Tree).focus()
        await pilot.press("down", "down", "down")
        await until(pilot, lambda: app.query("#input-models"))
        await type_into(pilot, "#input-models", "gpt-fake, gpt-new")
        assert "Unsaved" in static_text(app, "#config-footer")
        await pilot.press("ctrl+s")
        assert file_config(app)["providers"]["fixed"]["models"] == ["gpt-fake", "gpt-new"]
        await until(pilot, lambda: "fixed:gpt-new" in models(app))
        assert "fixed:gpt-fake-fixed" not in models(app)


async def test_a_bad_value_is_shown_at_its_field_and_never_saved(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        before = config_file(app).read_bytes()
        app.query_one("#config-nav", Tree).focus()
        await until(pilot, lambda: app.query("#input-port"))
        await type_into(pilot, "#input-port", "80x")
        await pilot.pause()
        assert "must be an integer" in static_text(app, "#error-port")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert config_file(app).read_bytes() == before
        assert "Not saved" in notes(app)
        await pilot.press("ctrl+z")
        await until(pilot, lambda: app.query_one("#input-port", Input).value.isdigit())


async def test_a_broken_file_fixed_outside_the_app_is_shown_again(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        good = config_file(app).read_text()
        port = str(load_config(config_file(app)).server.port)
        await until(pilot, lambda: app.query("#input-port"))
        config_file(app).write_text(good + "\n[broken\n")  # an editor saves a typo
        await until(pilot, lambda: "not valid TOML" in static_text(app, "#config-message"))
        assert not app.query("#input-port")  # no form of a file that is not there any more
        assert "shown again once it is fixed" in static_text(app, "#config-footer")

        config_file(app).write_text(good)  # and fixes it (undo: the same text as before)
        await until(pilot, lambda: app.query("#input-port"))
        assert app.query_one("#input-port", Input).value == port
        assert not app.query_one("#config-message").display


async def test_moving_in_the_list_while_the_file_is_reloaded_keeps_the_entry_moved_to(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        await until(pilot, lambda: app.query("#input-port"))
        config_file(app).write_text(config_file(app).read_text() + "\n# an editor's save\n")
        nav = app.query_one("#config-nav", Tree)
        nav.focus()
        nav.move_cursor(next(node for node in _nodes(nav.root) if node.data == ("tui", None)))
        await app.query_one(ConfigTab).file_changed()  # the watcher's turn comes before the highlight's
        await until(pilot, lambda: app.query("#input-theme"))
        await pilot.pause(0.3)
        assert app.query("#input-theme") and not app.query("#input-port")
        assert nav.cursor_node.data == ("tui", None)


async def test_every_unreachable_providers_error_can_be_read_in_models_all(upstreams, tmp_path):
    unreachable = "".join(f'\n[providers.gone{n}]\ntype = "openai"\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n'
                          for n in range(4))
    async with supervised(upstreams, tmp_path, extra=unreachable) as (app, pilot):
        nav = app.query_one("#config-nav", Tree)
        nav.focus()
        nav.move_cursor(next(node for node in _nodes(nav.root) if node.data == ("models", None)))
        await until(pilot, lambda: app.query("#models-table") and app.query_one("#models-table").row_count)
        providers = httpx.get(f"{app.session.admin.base_url}/admin/providers", headers=ADMIN).json()["data"]
        errors = {p["id"]: f"{p['id']}: {p['error']}" for p in providers if not p["reachable"]}
        assert len(errors) == 5  # down and gone0…gone3
        message = app.query_one("#config-message", Static)

        def shown() -> str:
            return " ".join(" ".join(visible_lines(message)).split())
        await until(pilot, lambda: all(name in shown() for name in errors))  # which ones, at once
        await pilot.press("tab")  # into the table: each row's provider error, one at a time
        table = app.query_one("#models-table", DataTable)
        assert app.focused is table
        seen = set()
        for _ in range(table.row_count):
            seen |= {name for name, error in errors.items() if " ".join(error.split()) in shown()}
            await pilot.press("down")
        assert seen == set(errors)


async def test_unsaved_edits_survive_a_setting_the_app_saves_meanwhile(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        app.query_one("#config-nav", Tree).focus()
        await until(pilot, lambda: app.query("#input-max_body_bytes"))
        await type_into(pilot, "#input-max_body_bytes", "2000000")  # unsaved in tab 1
        await pilot.press("escape", "4")
        await until(pilot, lambda: app.query_one("#play-model").value == "fake:gpt-fake-mini")
        await type_into(pilot, "#play-temperature", "0.5")
        await pilot.press("enter")  # the Playground saves [clients.tui] temperature itself
        await pilot.press("escape", "1")
        app.query_one(TabbedContent).query_one("Tabs").focus()  # on the tab strip: the app's ctrl+s saves too
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = file_config(app)
        assert saved["server"]["max_body_bytes"] == 2000000 and saved["clients"]["tui"]["temperature"] == 0.5
        assert "changed on disk" not in notes(app)


async def test_escape_leaves_a_switch_or_a_choice_for_the_list_of_tables(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        nav = app.query_one("#config-nav", Tree)
        for table, field in ((("activity", None), Switch), (("providers", "fake"), Select)):
            nav.focus()
            nav.move_cursor(next(node for node in _nodes(nav.root) if node.data == table))
            await pilot.press("enter")  # into its form: the first field
            await until(pilot, lambda: isinstance(app.focused, field))
            await pilot.press("escape")
            assert app.focused is nav


def _nodes(node):
    yield node
    for child in node.children:
        yield from _nodes(child)


async def test_quitting_with_unsaved_edits_asks_first(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        app.query_one("#config-nav", Tree).focus()
        await until(pilot, lambda: app.query("#input-port"))
        await type_into(pilot, "#input-port", "8999")
        await pilot.press("escape", "q")  # out of the field, then quit
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # stays, edits kept
        await pilot.pause()
        assert app.is_running and app.query_one("#input-port", Input).value == "8999"
        await pilot.press("ctrl+c", "y")
        await until(pilot, lambda: not app.is_running)


async def test_adding_a_provider_from_the_keyboard(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        app.query_one("#config-nav", Tree).focus()
        await pilot.press("down")  # Providers
        await pilot.press("a", *"extra", "enter")
        await until(pilot, lambda: app.query("#input-base_url"))
        await type_into(pilot, "#input-base_url", f"{upstreams[0]}/v1")
        await type_into(pilot, "#input-api_key_env", "")  # the fake upstream's key goes in the file instead
        await type_into(pilot, "#input-api_key", UPSTREAM_KEY)
        await pilot.press("ctrl+s")
        assert file_config(app)["providers"]["extra"]["base_url"] == f"{upstreams[0]}/v1"
        await until(pilot, lambda: "extra:gpt-fake" in models(app))
        app.query_one("#config-nav", Tree).focus()
        await pilot.press("t")  # test it through the gateway
        await until(pilot, lambda: "✓" in static_text(app, "#config-message"))
        assert "extra:gpt-fake" in static_text(app, "#config-message")
        # With its models configured (one misspelt), the test still asks the provider for its list.
        await type_into(pilot, "#input-models", "gpt-fake, gpt-fak")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "extra:gpt-fak" in models(app))
        app.query_one("#config-nav", Tree).focus()
        await pilot.press("t")
        await until(pilot, lambda: "✗" in static_text(app, "#config-message"))
        assert "the provider does not list gpt-fak" in static_text(app, "#config-message")


async def test_testing_a_provider_that_points_back_at_the_gateway_says_so_at_once(upstreams, tmp_path):
    loop = f'\n[providers.loop]\ntype = "openai"\nbase_url = "http://127.0.0.1:{{port}}/v1"\napi_key = "{SERVER_KEY}"\n'
    async with supervised(upstreams, tmp_path, extra=loop) as (app, pilot):
        nav = app.query_one("#config-nav", Tree)
        nav.focus()
        await until(pilot, lambda: any(node.data == ("providers", "loop") for node in _nodes(nav.root)))
        nav.move_cursor(next(node for node in _nodes(nav.root) if node.data == ("providers", "loop")))
        await pilot.press("t")
        await until(pilot, lambda: "✗" in static_text(app, "#config-message"), 5)  # not model discovery's 10 s
        message = static_text(app, "#config-message")
        assert "provider 'loop' points back at this Gatehouse" in message and "request_timeout_s" not in message


async def test_copying_the_tui_settings_to_the_server_client(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        await pilot.press("2")
        app.query_one("#client-tree", Tree).focus()
        await pilot.press("u")
        server = file_config(app)["clients"]["server"]
        assert server == {"model": "fake:gpt-fake-mini", "prompt": "poet", "temperature": 0.4}

        def effective() -> dict:
            return httpx.get(f"{app.session.admin.base_url}/admin/clients/server", headers=ADMIN).json()
        await until(pilot, lambda: effective()["model"]["id"] == "fake:gpt-fake-mini")


async def test_the_server_is_stopped_and_started_from_the_server_tab(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path, size=(80, 24)) as (app, pilot):
        await pilot.press("2")
        app.query_one("#client-tree", Tree).focus()
        first = server_pid(app)
        await until(pilot, lambda: f"pid, workers  {first}," in static_text(app, "#server-status"))
        await pilot.press("x")
        await until(pilot, lambda: app.state == "stopped", 20)
        assert not answers(f"{app.session.admin.base_url}/health")
        await app.query_one(ServerTab).refresh_state()  # a refresh meanwhile shows no stale state either
        assert static_text(app, "#server-status") == "The server is stopped: t starts it."

        await pilot.press("t")
        await until(pilot, lambda: app.state == "running", 30)
        assert answers(f"{app.session.admin.base_url}/health")
        second = server_pid(app)
        assert second != first
        await until(pilot, lambda: f"pid, workers  {second}," in static_text(app, "#server-status"))

        await pilot.press("R")
        await until(pilot, lambda: answers(f"{app.session.admin.base_url}/health") and server_pid(app) != second, 30)
        third = server_pid(app)
        await until(pilot, lambda: f"pid, workers  {third}," in static_text(app, "#server-status"))


async def test_the_status_line_shows_the_state_and_url_of_a_supervisor_event(gateway):
    app = GatehouseApp(gateway.base_url, SERVER_KEY)
    elsewhere = f"http://127.0.0.1:{free_port()}"
    async with app.run_test(size=(100, 30)) as pilot:
        app.post_message(SupervisorReported(SupervisorEvent("restarting", elsewhere, None, "the words do not count")))
        await until(pilot, lambda: f"● restarting  {elsewhere}" in static_text(app, "#status-line"))
        assert "the words do not count" in notes(app)
        app.post_message(SupervisorReported(SupervisorEvent("running", gateway.base_url, 1, "nor these")))
        await until(pilot, lambda: f"● running  {gateway.base_url}" in static_text(app, "#status-line"))


async def test_the_status_line_follows_the_supervisor_bringing_a_dead_server_back(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        supervisor = app.session.supervisor
        supervisor._backoff = 2  # long enough to be seen
        os.kill(supervisor.server.pid, signal.SIGKILL)
        await until(pilot, lambda: "● restarting" in static_text(app, "#status-line"))
        assert "the server died (SIGKILL); restarting it in 2s" in notes(app)
        await until(pilot, lambda: "● running" in static_text(app, "#status-line"), 30)
        assert "the server is back" in notes(app)


async def test_the_footer_shows_each_tabs_main_keys_help_and_quit_at_80_columns(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path, size=(80, 24)) as (app, pilot):
        for tab, keys in (("1", ["^s Save"]), ("2", ["k Show key", "x Stop", "t Start", "R Restart"]),
                          ("3", ["p Live on/off", "f Status", "m Model"])):
            await pilot.press(tab)
            await pilot.pause()
            footer = screen_lines(app)[-1]
            for key in [*keys, "? Help", "q Quit"]:
                assert key in footer, f"tab {tab}: {key!r} not in view in {footer!r}"
        await pilot.press("question_mark")  # the keys left out of the footer are in the help
        help_text = str(app.screen.query_one(Static).render())
        assert all(key in help_text for key in ("a  add", "d  delete", "g  new server key", "u  copy", "r  reload"))


async def palette_run(pilot, command: str) -> None:
    """Open the command palette, type `command` and run the best match."""
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    await pilot.press(*command)
    await pilot.pause(0.5)  # the palette searches
    await pilot.press("enter")
    await pilot.pause(0.2)


async def test_every_tabs_actions_are_in_the_command_palette(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path, size=(80, 24)) as (app, pilot):
        names = [name for name, _, _ in GatehouseCommands(app.screen).commands()]
        for name in ("Configuration: Save", "Configuration: Test provider", "Server: New key", "Server: Show key",
                     "Server: Copy key", "Server: Stop", "Server: Restart", "Server: Copy the TUI settings to client "
                     "server", "Activity: Reload", "Playground: New chat", "Activity: show the tab", "Refresh"):
            assert name in names, f"{name!r} not in the palette: {names}"
        await palette_run(pilot, "Server: New key")  # a key that is not in the footer, from the palette
        assert isinstance(app.screen, ConfirmScreen) and app.query_one(TabbedContent).active == "server"
        await pilot.press("n")


async def test_the_palette_leaves_out_what_does_nothing_when_attached(gateway):
    app = GatehouseApp(gateway.base_url, SERVER_KEY)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        names = [name for name, _, _ in GatehouseCommands(app.screen).commands()]
        assert "Server: Show key" in names and "Configuration: Test provider" in names
        assert not {"Configuration: Save", "Configuration: Drop edits", "Server: Stop", "Server: Start"} & set(names)


async def test_the_playground_lists_a_provider_added_while_it_runs(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        await pilot.press("4")
        select = app.query_one("#play-model", Select)

        def options() -> list[str]:
            return [str(value) for _, value in select._options]
        await until(pilot, lambda: "fake:gpt-fake" in options())
        assert not any(name.startswith("later:") for name in options())
        with config_file(app).open("a") as file:  # as an editor would: the server reloads it
            file.write(f'\n[providers.later]\ntype = "openai"\nbase_url = "{upstreams[0]}/v1"\n'
                       f'api_key = "{UPSTREAM_KEY}"\n')
        await until(pilot, lambda: "later:gpt-fake" in options(), 15)


async def test_the_playground_streams_an_answer_as_client_tui(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        await pilot.press("4")
        await until(pilot, lambda: app.query_one("#play-model").value == "fake:gpt-fake-mini")
        await type_into(pilot, "#play-input", "hello gatehouse")
        await pilot.press("enter")
        await until(pilot, lambda: any("echo: hello gatehouse" in str(w.render())
                                       for w in app.query(".chat-assistant")))

        def chats() -> list[dict]:
            records = httpx.get(f"{app.session.admin.base_url}/admin/activity", params={"client": "tui"}, headers=ADMIN)
            return [record for record in records.json()["data"] if record["path"] == "/v1/chat/completions"]
        await until(pilot, chats)  # records are written in batches
        assert chats()[0]["model"] == "fake:gpt-fake-mini" and chats()[0]["status"] == 200

        await type_into(pilot, "#play-temperature", "1.5")
        await pilot.press("enter")
        assert file_config(app)["clients"]["tui"]["temperature"] == 1.5
        await type_into(pilot, "#play-temperature", "0.25")
        await pilot.press("tab")  # leaving the field applies it too
        await until(pilot, lambda: file_config(app)["clients"]["tui"]["temperature"] == 0.25)


async def stalling_upstream(reader, writer) -> None:
    """An OpenAI-compatible upstream that streams the first words of an answer, then nothing more until
    the gateway goes away."""
    head = await read_request(reader)
    if not head.startswith(b"POST"):
        writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
        return
    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "stalls",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": "the first words"},
                          "finish_reason": None}]}
    event = b"data: " + orjson.dumps(chunk) + b"\n\n"
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                 + f"{len(event):x}\r\n".encode() + event + b"\r\n")
    await writer.drain()
    await reader.read()  # stalls until the connection is closed


def answers_shown(app: GatehouseApp) -> list[str]:
    return [str(widget.render()) for widget in app.query(".chat-assistant")]


async def test_an_answer_stopped_or_superseded_says_stopped(upstreams, tmp_path):
    async with raw_server(stalling_upstream) as (url, connections):
        slow = f'\n[providers.slow]\ntype = "openai"\nbase_url = "{url}/v1"\nmodels = ["stalls"]\n'
        async with supervised(upstreams, tmp_path, extra=slow) as (app, pilot):
            await pilot.press("4")
            await until(pilot, lambda: app.query_one("#play-model").value == "fake:gpt-fake-mini")
            app.query_one("#play-model", Select).value = "slow:stalls"
            await type_into(pilot, "#play-input", "one")
            await pilot.press("enter")
            await until(pilot, lambda: answers_shown(app) == ["the first words"])
            await pilot.press(*"two", "enter")  # a new message supersedes the answer being streamed
            await until(pilot, lambda: answers_shown(app) == ["the first words (stopped)", "the first words"])
            await pilot.press("escape")  # stops the answer being streamed
            await until(pilot, lambda: answers_shown(app)[-1] == "the first words (stopped)")
            assert "Answer stopped." in notes(app)
            await until(pilot, lambda: len(connections) == 2 and all(c.is_closing() for c in connections))


async def test_a_message_sent_while_the_server_is_stopped_names_the_stopped_server(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        await pilot.press("2")
        app.query_one("#client-tree", Tree).focus()
        await pilot.press("x")
        await until(pilot, lambda: app.state == "stopped", 20)
        await pilot.press("4")
        await type_into(pilot, "#play-input", "anyone there?")
        await pilot.press("enter")
        await until(pilot, lambda: app.query(".chat-error"))
        assert answers_shown(app) == [f"[error] {app.session.admin.base_url} is not answering; is the server running?"]


async def test_a_theme_picked_is_remembered_and_a_broken_one_reported(upstreams, tmp_path):
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "broken.toml").write_text('name = "broken"\nprimary = "not a colour"\n')
    async with supervised(upstreams, tmp_path) as (app, pilot):
        assert app.theme == "gatehouse-dark"
        assert "broken.toml" in notes(app)
        assert {"gatehouse-light", "gatehouse-contrast"} <= set(app.available_themes)
        app.theme = "gatehouse-light"  # what the palette's theme picker does
        await pilot.pause()
        assert file_config(app)["tui"]["theme"] == "gatehouse-light"

        nav = app.query_one("#config-nav", Tree)  # a theme saved in tab 1 is shown at once too
        nav.focus()
        nav.move_cursor(next(node for node in _nodes(nav.root) if node.data == ("tui", None)))
        # the whole form is mounted (a Select sets its value through its overlay, composed last)
        await until(pilot, lambda: app.query("#error-theme") and app.query("#input-theme SelectOverlay"))
        await pilot.pause()
        app.query_one("#input-theme", Select).value = "gatehouse-contrast"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.theme == "gatehouse-contrast")


async def test_supervised_app_starts_the_server_and_stops_it_on_quit(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path, size=(80, 24)) as (app, pilot):
        base_url = app.session.admin.base_url
        assert answers(f"{base_url}/health")
        await pilot.press("2")
        await until(pilot, lambda: "generation 1" in static_text(app, "#server-status"))
        await pilot.press("q")
    assert not answers(f"{base_url}/health")
    assert processes_using(config_file(app)) == []


@pytest.fixture(autouse=True)
def _reset_tmp_themes(monkeypatch, tmp_path):
    """Themes in the user's own theme folder never leak into a test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


async def test_a_new_server_key_after_a_yes_replaces_the_old_one(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        await pilot.press("2", "g", "n")  # asked, and refused
        assert file_config(app)["server"]["api_key"] == SERVER_KEY
        await pilot.press("g", "y")
        await until(pilot, lambda: file_config(app)["server"]["api_key"] != SERVER_KEY)
        new_key = file_config(app)["server"]["api_key"]
        assert app.session.admin.key == new_key and len(new_key) >= 40

        def status(key: str) -> int:
            return httpx.get(f"{app.session.admin.base_url}/admin/status", headers={"X-API-Key": key}).status_code
        await until(pilot, lambda: status(SERVER_KEY) == 401)
        assert status(new_key) == 200
        await until(pilot, lambda: new_key[:4] in static_text(app, "#server-status"))
        assert new_key not in static_text(app, "#server-status")  # masked


async def test_the_server_key_is_shown_after_a_yes_with_its_file_and_a_line_that_reads_it(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path, size=(80, 24)) as (app, pilot):
        await pilot.press("2")
        app.query_one("#client-tree", Tree).focus()
        await pilot.press("k", "n")  # asked, and refused: nothing shown
        assert not app.screen.query("#key-value")
        await pilot.press("k", "y")
        await until(pilot, lambda: bool(app.screen.query("#key-value")))
        assert SERVER_KEY in "\n".join(screen_lines(app))
        command = str(app.screen.query_one("#key-command", Static).render()).removeprefix("KEY=$(").removesuffix(")")
        assert str(config_file(app)) in command
        shown = await asyncio.to_thread(subprocess.run, command, shell=True, capture_output=True, text=True)
        assert shown.stdout.strip() == SERVER_KEY
        await pilot.press("escape")
        assert not app.screen.query("#key-value")


async def test_secrets_are_masked_until_revealed_and_entries_renamed_and_deleted(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        nav = app.query_one("#config-nav", Tree)
        nav.focus()
        await pilot.press("down", "down")  # Server, Providers, fake
        await until(pilot, lambda: app.query("#input-api_key"))
        secret = app.query_one("#input-api_key", Input)
        assert secret.password and UPSTREAM_KEY not in str(secret.render_line(0))
        secret.focus()
        await pilot.press("ctrl+r")
        assert not secret.password

        nav.focus()
        await pilot.press("e", *["backspace"] * 4, *"[/b]x", "enter")  # '[' is not markup in a name
        await until(pilot, lambda: "[/b]x" in tree_text(app, "#config-nav"))
        await pilot.press("e", *["backspace"] * 5, *"renamed", "enter")
        await until(pilot, lambda: "renamed" in tree_text(app, "#config-nav"))
        await pilot.press("ctrl+s")
        providers = file_config(app)["providers"]
        assert "renamed" in providers and "fake" not in providers
        await until(pilot, lambda: "renamed:gpt-fake" in models(app))

        await pilot.press("d", "y", "ctrl+s")
        assert "renamed" not in file_config(app)["providers"]
        await until(pilot, lambda: not any(model.startswith("renamed:") for model in models(app)))


LOCAL_PROVIDER = """
[providers.local]
type = "llamacpp"

[providers.local.models.tiny]
path = "/nowhere/tiny.gguf"
"""


async def test_attached_app_lists_a_local_providers_models(upstreams, tmp_path):
    gateway = start_gateway(gateway_config(upstreams) + LOCAL_PROVIDER, tmp_path)
    try:
        app = GatehouseApp(gateway.base_url, SERVER_KEY)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "tiny" in tree_text(app, "#config-nav"))  # the server nests them
            nav = app.query_one("#config-nav", Tree)
            nav.focus()
            nav.move_cursor(next(node for node in _nodes(nav.root) if node.data == ("providers", "local.models.tiny")))
            await until(pilot, lambda: app.query("#input-path"))
            assert app.query_one("#input-path", Input).value == "/nowhere/tiny.gguf"
            assert static_text(app, "#config-footer") == "Attached: the server's configuration, read-only."
    finally:
        gateway.stop()


async def test_a_local_provider_has_its_own_form_and_its_models_in_the_list(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path, extra=LOCAL_PROVIDER) as (app, pilot):
        await until(pilot, lambda: "tiny" in tree_text(app, "#config-nav"))
        nav = app.query_one("#config-nav", Tree)
        nav.focus()
        while nav.cursor_node.data != ("providers", "local"):
            await pilot.press("down")
        await until(pilot, lambda: app.query("#input-n_ctx"))
        assert not app.query("#input-base_url")  # an in-process provider has no URL
        await type_into(pilot, "#input-n_ctx", "2048")
        await pilot.press("ctrl+s")
        assert file_config(app)["providers"]["local"]["n_ctx"] == 2048

        nav.focus()
        await pilot.press("down")  # its model
        await until(pilot, lambda: app.query("#input-path"))
        await type_into(pilot, "#input-path", "/elsewhere/tiny.gguf")
        await pilot.press("ctrl+s")
        assert file_config(app)["providers"]["local"]["models"]["tiny"] == {"path": "/elsewhere/tiny.gguf"}

        nav.focus()
        await pilot.press("a", *"qwen", "enter")  # on a local model: another model of its provider
        await until(pilot, lambda: nav.cursor_node.data == ("providers", "local.models.qwen"))
        await pilot.press("e", *["backspace"] * 4, *"tiny", "enter")  # its sibling's name: refused, no crash
        await until(pilot, lambda: "'local' already has a model 'tiny'" in notes(app))
        await pilot.press("e", *["backspace"] * 4, *"fake", "enter")  # a provider's name is free for a model
        await until(pilot, lambda: nav.cursor_node.data == ("providers", "local.models.fake"))
        await pilot.press("ctrl+s")
        assert set(file_config(app)["providers"]["local"]["models"]) == {"tiny", "fake"}


async def test_enter_on_a_provider_goes_into_its_form_and_space_folds_its_models(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path, extra=LOCAL_PROVIDER) as (app, pilot):
        await until(pilot, lambda: "tiny" in tree_text(app, "#config-nav"))
        nav = app.query_one("#config-nav", Tree)
        nav.focus()
        provider = next(node for node in _nodes(nav.root) if node.data == ("providers", "local"))
        assert provider.is_expanded
        nav.move_cursor(provider)
        await until(pilot, lambda: app.query("#input-n_ctx"))
        await pilot.press("enter")
        await until(pilot, lambda: app.focused is not nav)
        assert provider.is_expanded  # its models stay in view
        await pilot.press("escape", "space")
        assert app.focused is nav and not provider.is_expanded
        await pilot.press("space")
        assert provider.is_expanded
        section = provider.parent  # "Providers": a list without a form, which enter folds
        nav.move_cursor(section)
        await pilot.press("enter")
        assert not section.is_expanded and app.focused is nav


async def test_the_status_line_says_when_activity_is_not_recorded(upstreams, tmp_path):
    """The server reports that it cannot write its activity (here: a data dir made immutable, which stops root
    too): the status line says so until it can again."""
    gateway = start_gateway(gateway_config(upstreams), tmp_path)
    data = tmp_path / "data"
    try:
        app = GatehouseApp(gateway.base_url, SERVER_KEY)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: "attached" in static_text(app, "#status-line"))
            assert "not recorded" not in static_text(app, "#status-line")
            data.rename(tmp_path / "old-data")
            data.mkdir()
            subprocess.run(["chattr", "+i", str(data)], check=True)
            try:
                httpx.post(f"{gateway.base_url}/v1/chat/completions", headers={"x-api-key": SERVER_KEY},
                           json={"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]})
                await until(pilot, lambda: "activity not recorded" in static_text(app, "#status-line"), 15)
            finally:
                subprocess.run(["chattr", "-i", str(data)], check=True)
            await until(pilot, lambda: "not recorded" not in static_text(app, "#status-line"), 15)
    finally:
        gateway.stop()
