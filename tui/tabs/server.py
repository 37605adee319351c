"""Tab 2, Server: the server's state, its key, start/stop, and any client's effective settings."""

from __future__ import annotations

import asyncio
import secrets
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.widgets import Button, Select, Static, Tree

from api.config.settings import ConfigError
from tui.admin_client import AdminError
from tui.limits_text import limit_lines
from tui.messages import ConfigEdit, ServerStateChanged
from tui.screens import ConfirmScreen, KeyScreen
from tui.session import ConfigStore, Session, read_only_note
from tui.tabs.models import crash_text

COPIED_CLIENT_KEYS = ("model", "prompt", "temperature", "top_p", "max_tokens", "collections")
"""What "copy the TUI settings to the server client" moves: everything but the key."""
NOT_SERVING = {
    "starting": "Waiting for the server…",
    "restarting": "The server is restarting…",
    "stopping": "The server is stopping…",
    "stopped": "The server is stopped: t starts it.",
}
"""What the tab says, instead of a state that is gone, while the server's state is one of these."""
SUPERVISOR_ACTIONS = ("stop_server", "start_server", "restart_server")


def masked(key: str) -> str:
    return f"{key[:4]}{'•' * 8} ({len(key)} characters)" if key else "-"


def new_server_key() -> str:
    return "gh-" + secrets.token_urlsafe(32)


class ServerTab(Vertical):
    # c, g, u and l are left to the help (?) and the palette (ctrl+p), so the footer fits 80 columns
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "show_key", "Show key"),
        Binding("c", "copy_key", "Copy key", show=False),
        Binding("g", "new_key", "New key", show=False),
        Binding("x", "stop_server", "Stop"),
        Binding("t", "start_server", "Start"),
        Binding("R", "restart_server", "Restart"),
        Binding("u", "copy_tui_settings", "Copy the TUI settings to client server", show=False),
        Binding("l", "choose_client", "Show a client's limits and settings", show=False),
    ]

    state: reactive[str] = reactive("starting")
    """The server's state, as the app knows it (bound to the app's)."""

    def __init__(self, session: Session) -> None:
        super().__init__(id="server-tab")
        self.session = session
        self.client_names: list[str] = ["server"]
        self.config_path = str(session.config.path) if session.config else "the server's config file"
        """The config file, as the server says once read (attached, this TUI has none of its own)."""

    def compose(self) -> ComposeResult:
        yield Static(id="server-status", markup=False)
        with Horizontal(id="server-actions"):
            for label, action in (("Show key", "show_key"), ("Copy key", "copy_key"), ("New key", "new_key"),
                                  ("Stop", "stop_server"), ("Start", "start_server"), ("Restart", "restart_server"),
                                  ("TUI settings → server", "copy_tui_settings")):
                yield Button(label, id=f"do-{action}", compact=True)
        yield Select([("server", "server")], value="server", allow_blank=False, id="client-select", compact=True)
        yield Static(id="client-limits", markup=False)
        yield Tree("client settings", id="client-tree")

    def on_mount(self) -> None:
        if self.session.supervisor is None:
            for action in SUPERVISOR_ACTIONS:
                self.query_one(f"#do-{action}", Button).display = False
        if self.session.read_only:
            for action in ("new_key", "copy_tui_settings"):
                self.query_one(f"#do-{action}", Button).disabled = True

    def check_action(self, action: str, parameters: tuple) -> bool:
        """Attached to a server started elsewhere, there is nothing to stop or start: those keys are
        off, and gone from the footer, as their buttons are from the tab."""
        return self.session.supervisor is not None or action not in SUPERVISOR_ACTIONS

    def action_choose_client(self) -> None:
        """The list of clients opened, to pick the one whose limits and settings the tab shows."""
        select = self.query_one("#client-select", Select)
        select.focus()
        select.action_show_overlay()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        await self.run_action((event.button.id or "").removeprefix("do-"))

    # --- state ------------------------------------------------------------------------------

    async def refresh_state(self) -> dict | None:
        """Read the server's state again and show it; its /admin/status (None if it was not read)."""
        try:
            return await self._refresh_state()
        except NoMatches:  # the app closed while the server was being asked
            return None

    def watch_state(self, state: str) -> None:
        """A server stopped (starting, …) is said at once: its pid and generation are gone."""
        if state in NOT_SERVING:
            self._show_status(NOT_SERVING[state])

    def _show_status(self, text: str) -> None:
        """What was read from the server, unless it is stopped (or stopping, …) by now: then that
        is said instead, never a pid or generation of a server that is gone."""
        self.query_one("#server-status", Static).update(NOT_SERVING.get(self.state, text))

    async def _refresh_state(self) -> dict | None:
        admin = self.session.admin
        try:
            status = await admin.get("/admin/status")
            clients = await admin.get("/admin/clients")
        except AdminError as error:
            self._show_status(f"Cannot read the server's state: {error}")
            return None
        self.config_path = status["config_path"]
        self._show_status("\n".join([
            f"URL           {admin.base_url}",
            f"pid, workers  {status['pid']}, {status['workers']}",
            f"server key    {masked(admin.key)}",
            f"config        {status['config_path']} (generation {status['config_generation']})",
            f"last reload   {status['last_reload'] or '-'}",
            f"reload error  {status['last_reload_error'] or '-'}",
            *[f"model crash   {crash_text(crash)}" for crash in (status.get("local_model_crashes") or [])[-1:]],
        ]))
        select = self.query_one("#client-select", Select)
        names = [client["name"] for client in clients["data"]]
        if names != self.client_names:  # keep the choice across refreshes
            self.client_names = names
            select.set_options([(name, name) for name in names])
            select.value = select.value if select.value in names else "server"
        await self.show_client(str(select.value))
        return status

    async def on_select_changed(self, event: Select.Changed) -> None:
        if self.state not in ("starting", "stopped"):
            await self.show_client(str(event.value))

    async def show_client(self, name: str) -> None:
        """A client's limits with what is left of them now, and its effective settings."""
        try:
            settings = await self.session.admin.get(f"/admin/clients/{name}")
            limits = (await self.session.admin.get("/admin/limits"))["data"]
        except AdminError as error:
            self.notify(str(error), severity="error")
            return
        try:
            tree = self.query_one("#client-tree", Tree)
        except NoMatches:  # the app closed while the server was being asked
            return
        self.show_limits(name, settings["settings_from"], limits)
        tree.clear()
        tree.add_json(settings)
        tree.root.set_label(Text(f"client '{name}': effective settings"))
        tree.root.expand_all()

    def show_limits(self, name: str, settings_from: str, entries: list[dict]) -> None:
        """The client's limits with what is left of them (GET /admin/limits `entries`); a client without a table
        of its own has those of the client whose settings it gets, `server` (and counts as it)."""
        entry = next((entry for entry in entries if entry["client"] == settings_from), None)
        owner = "" if settings_from == name else f" (those of '{settings_from}')"
        self.query_one("#client-limits", Static).update(f"limits{owner}: " + "\n  ".join(limit_lines(entry)))

    # --- actions ----------------------------------------------------------------------------

    def action_copy_key(self) -> None:
        self.app.copy_to_clipboard(self.session.admin.key)
        self.notify("The server key is on the clipboard if your terminal allows OSC 52 (tmux and many SSH "
                    "terminals drop it): k shows the key.")

    @work(exclusive=True, group="server-key")
    async def action_show_key(self) -> None:
        """The key on screen, after a yes, with its file and a line that reads it: works where OSC 52 does not."""
        if not await self.app.push_screen_wait(ConfirmScreen("Show the server key on screen?")):
            return
        await self.app.push_screen(KeyScreen(self.session.admin.key, self.config_path))

    def _config(self, what: str) -> ConfigStore | None:
        """The config file, to change `what` in; None, with a note, when attached (it is read-only then)."""
        if self.session.config is None:
            self.notify(read_only_note(what), severity="warning")
        return self.session.config

    @work(exclusive=True, group="server-key")
    async def action_new_key(self) -> None:
        if self._config("the server key") is None:
            return
        if not await self.app.push_screen_wait(ConfirmScreen(
                "Make a new server key? Every client using the old one stops working.")):
            return
        key = new_server_key()
        self.post_message(ConfigEdit({"server.api_key": key}, "the new server key",
                                     on_saved=lambda: self._use_key(key)))

    @work(group="server-key-use")
    async def _use_key(self, key: str) -> None:
        """The new key, saved: ask with it from now on, and show the server with it."""
        self.session.admin.key = key
        await asyncio.sleep(0.3)  # the server reloads the file
        await self.refresh_state()

    def action_copy_tui_settings(self) -> None:
        what = "the TUI settings on client 'server'"
        if (config := self._config(what)) is None:
            return
        try:
            document = config.load()
        except ConfigError as error:
            self.notify(str(error), severity="error")
            return
        changes = {f"clients.server.{key}": document.get(f"clients.tui.{key}") for key in COPIED_CLIENT_KEYS}
        self.post_message(ConfigEdit(changes, what))

    @work(thread=True, exclusive=True, group="server-control")
    def action_stop_server(self) -> None:
        if supervisor := self.session.supervisor:  # None when attached (the key is off then)
            self.post_message(ServerStateChanged("stopping"))
            supervisor.hold()
            self.post_message(ServerStateChanged("stopped"))

    @work(thread=True, exclusive=True, group="server-control")
    def action_start_server(self) -> None:
        self._start(restart=False)

    @work(thread=True, exclusive=True, group="server-control")
    def action_restart_server(self) -> None:
        self._start(restart=True)

    def _start(self, restart: bool) -> None:
        if supervisor := self.session.supervisor:
            self.post_message(ServerStateChanged("restarting" if restart else "starting"))
            healthy = supervisor.restart() if restart else supervisor.release()
            self.post_message(ServerStateChanged("running" if healthy else "stopped"))
