"""Gatehouse's commands in the command palette (ctrl+p): every tab's actions, those the footer has no
room for too, each run in its tab; the ones that do nothing in the current mode (attached) are left out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.widgets import TabbedContent

Command = tuple[str, str, Callable[[], object]]
"""What the palette lists: its name, its help (the key), what it runs."""
LEFT_OUT = {"show_tab", "leave_field", "stop", "help", "quit", "save_config"}
"""Actions not offered: the palette has its own way to these, or they act on a field being typed in."""


def _bindings(node: DOMNode) -> Iterator[Binding]:
    """The node's own bindings, once per action, that it allows now."""
    seen: set[str] = set()
    for binding in node.BINDINGS:
        if isinstance(binding, Binding) and binding.action.split("(")[0] not in seen | LEFT_OUT \
                and node.check_action(binding.action, ()):
            seen.add(binding.action)
            yield binding


async def _run_in_tab(app: App, tab: str, node: DOMNode, action: str) -> None:
    app.query_one(TabbedContent).active = tab
    await app.run_action(action, node)


class GatehouseCommands(Provider):
    def commands(self) -> Iterator[Command]:
        from tui.app import TABS  # the app imports this module

        app = self.app
        for number, tab in enumerate(TABS, 1):
            title = "Configuration" if tab == "config" else tab.capitalize()
            yield f"{title}: show the tab", f"key {number}", partial(app.run_action, f"show_tab('{tab}')")
            widget = app.query_one(f"#{tab}-tab")
            for binding in _bindings(widget):
                yield f"{title}: {binding.description}", f"key {binding.key}", \
                    partial(_run_in_tab, app, tab, widget, binding.action)
        for binding in _bindings(app):
            yield binding.description, f"key {binding.key}", partial(app.run_action, binding.action)

    async def discover(self) -> Hits:
        for name, help_text, callback in self.commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self.commands():
            if (score := matcher.match(name)) > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
