"""Tab 2, Server: the server's state, its key, start/stop, and any client's effective settings."""

from __future__ import annotations

import asyncio
import secrets

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Button, Select, Static, Tree

from tui.admin_client import AdminError
from tui.screens import ConfirmScreen

COPIED_CLIENT_KEYS = ("model", "prompt", "temperature", "top_p", "max_tokens", "collections")
"""What "copy the TUI settings to the server client" moves: everything but the key."""
NOT_SERVING = {
    "starting": "Waiting for the server…",
    "restarting": "The server is restarting…",
    "stopping": "The server is stopping…",
    "stopped": "The server is stopped: t starts it.",
}
"""What the tab says, instead of a state that is gone, while the app's state is one of these."""
SUPERVISOR_ACTIONS = ("stop_server", "start_server", "restart_server")


def masked(key: str) -> str:
    return f"{key[:4]}{'•' * 8} ({len(key)} characters)" if key else "-"


def new_server_key() -> str:
    return "gh-" + secrets.token_urlsafe(32)


class ServerTab(Vertical):
    BINDINGS = [  # the rare g and u are left to the help (?), so the footer fits 80 columns
        Binding("c", "copy_key", "Copy key"),
        Binding("g", "new_key", "New key", show=False),
        Binding("x", "stop_server", "Stop"),
        Binding("t", "start_server", "Start"),
        Binding("R", "restart_server", "Restart"),
        Binding("u", "copy_tui_settings", "TUI→server", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="server-tab")
        self.client_names: list[str] = ["server"]

    def compose(self) -> ComposeResult:
        yield Static(id="server-status", markup=False)
        with Horizontal(id="server-actions"):
            for label, action in (("Copy key", "copy_key"), ("New key", "new_key"), ("Stop", "stop_server"),
                                  ("Start", "start_server"), ("Restart", "restart_server"),
                                  ("TUI settings → server", "copy_tui_settings")):
                yield Button(label, id=f"do-{action}", compact=True)
        yield Select([("server", "server")], value="server", allow_blank=False, id="client-select", compact=True)
        yield Tree("client settings", id="client-tree")

    def on_mount(self) -> None:
        self.watch(self.app, "state", self._show_state)
        if self.app.supervisor is None:
            for action in SUPERVISOR_ACTIONS:
                self.query_one(f"#do-{action}", Button).display = False
        if self.app.read_only:
            for action in ("new_key", "copy_tui_settings"):
                self.query_one(f"#do-{action}", Button).disabled = True

    def check_action(self, action: str, parameters: tuple) -> bool:
        """Attached to a server started elsewhere, there is nothing to stop or start: those keys are
        off, and gone from the footer, as their buttons are from the tab."""
        return self.app.supervisor is not None or action not in SUPERVISOR_ACTIONS

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        await self.run_action(event.button.id.removeprefix("do-"))

    # --- state ------------------------------------------------------------------------------

    async def refresh_state(self) -> None:
        try:
            await self._refresh_state()
        except NoMatches:  # the app closed while the server was being asked
            pass

    def _show_state(self, state: str) -> None:
        """A server stopped (starting, …) is said at once: its pid and generation are gone."""
        if state in NOT_SERVING:
            self._show_status(NOT_SERVING[state])

    def _show_status(self, text: str) -> None:
        """What was read from the server, unless it is stopped (or stopping, …) by now: then that
        is said instead, never a pid or generation of a server that is gone."""
        self.query_one("#server-status", Static).update(NOT_SERVING.get(self.app.state, text))

    async def _refresh_state(self) -> None:
        app = self.app
        try:
            status = await app.admin.get("/admin/status")
            clients = await app.admin.get("/admin/clients")
        except AdminError as error:
            self._show_status(f"Cannot read the server's state: {error}")
            return
        app.status = status
        self._show_status("\n".join([
            f"URL           {app.admin.base_url}",
            f"pid, workers  {status['pid']}, {status['workers']}",
            f"server key    {masked(app.admin.key)}",
            f"config        {status['config_path']} (generation {status['config_generation']})",
            f"last reload   {status['last_reload'] or '-'}",
            f"reload error  {status['last_reload_error'] or '-'}",
        ]))
        select = self.query_one("#client-select", Select)
        names = [client["name"] for client in clients["data"]]
        if names != self.client_names:  # keep the choice across refreshes
            self.client_names = names
            select.set_options([(name, name) for name in names])
            select.value = select.value if select.value in names else "server"
        await self.show_client(str(select.value))

    async def on_select_changed(self, event: Select.Changed) -> None:
        if self.app.state not in ("starting", "stopped"):
            await self.show_client(str(event.value))

    async def show_client(self, name: str) -> None:
        try:
            settings = await self.app.admin.get(f"/admin/clients/{name}")
        except AdminError as error:
            self.notify(str(error), severity="error")
            return
        try:
            tree = self.query_one("#client-tree", Tree)
        except NoMatches:  # the app closed while the server was being asked
            return
        tree.clear()
        tree.add_json(settings)
        tree.root.set_label(Text(f"client '{name}': effective settings"))
        tree.root.expand_all()

    # --- actions ----------------------------------------------------------------------------

    def action_copy_key(self) -> None:
        self.app.copy_to_clipboard(self.app.admin.key)
        self.notify("The server key is on the clipboard (OSC 52: your terminal must allow it).")

    @work(exclusive=True, group="server-key")
    async def action_new_key(self) -> None:
        if not self.app.editable("the server key"):
            return
        if not await self.app.push_screen_wait(ConfirmScreen(
                "Make a new server key? Every client using the old one stops working.")):
            return
        key = new_server_key()
        if self.app.edit_config({"server.api_key": key}, "the new server key"):
            self.app.admin.key = key
            await asyncio.sleep(0.3)  # the server reloads the file
            await self.refresh_state()

    def action_copy_tui_settings(self) -> None:
        if not self.app.editable("the TUI settings on client 'server'"):
            return
        document = self.app.load_document()
        if document is None:
            return
        changes = {f"clients.server.{key}": document.get(f"clients.tui.{key}") for key in COPIED_CLIENT_KEYS}
        self.app.edit_config(changes, "the TUI settings on client 'server'")

    @work(thread=True, exclusive=True, group="server-control")
    def action_stop_server(self) -> None:
        if supervisor := self.app.supervisor:  # None when attached (the key is off then)
            self.app.call_from_thread(setattr, self.app, "state", "stopping")
            supervisor.hold()
            self.app.call_from_thread(setattr, self.app, "state", "stopped")

    @work(thread=True, exclusive=True, group="server-control")
    def action_start_server(self) -> None:
        self._start(restart=False)

    @work(thread=True, exclusive=True, group="server-control")
    def action_restart_server(self) -> None:
        self._start(restart=True)

    def _start(self, restart: bool) -> None:
        if supervisor := self.app.supervisor:
            self.app.call_from_thread(setattr, self.app, "state", "restarting" if restart else "starting")
            healthy = supervisor.restart() if restart else supervisor.release()
            self.app.call_from_thread(setattr, self.app, "state", "running" if healthy else "stopped")
            self.app.call_from_thread(self.app.action_refresh)
