"""Routes in the Configuration tab: added, filled in and saved from the keyboard, served by the gateway at once."""

from __future__ import annotations

from textual.widgets import Tree

from tests.tui.test_app import _nodes, file_config, models, static_text, supervised, type_into, until


async def test_adding_a_route_from_the_keyboard(upstreams, tmp_path):
    async with supervised(upstreams, tmp_path) as (app, pilot):
        nav = app.query_one("#config-nav", Tree)
        nav.focus()
        await until(pilot, lambda: any(node.data == ("routes", None) for node in _nodes(nav.root)))
        nav.move_cursor(next(node for node in _nodes(nav.root) if node.data == ("routes", None)))
        await pilot.press("a", *"smart", "enter")
        await until(pilot, lambda: app.query("#input-targets"))
        await type_into(pilot, "#input-targets", "down:gpt-fake, nowhere:x")
        await until(pilot, lambda: "no [providers.nowhere]" in static_text(app, "#error-targets"))
        await type_into(pilot, "#input-targets", "down:gpt-fake, fake:gpt-fake")
        await type_into(pilot, "#input-retries", "0")
        await until(pilot, lambda: not static_text(app, "#error-targets"))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "smart" in file_config(app).get("routes", {}))
        saved = file_config(app)["routes"]["smart"]
        assert saved == {"targets": ["down:gpt-fake", "fake:gpt-fake"], "retries": 0}
        await until(pilot, lambda: "route:smart" in models(app))  # the server took the saved file
