"""The Gatehouse terminal UI: server state and settings, live activity — keyboard-driven.

It knows the server only through its admin API. Started by `gatehouse`, it runs the
server under the supervisor (in a thread) and stops it on quit.
"""

from __future__ import annotations

import asyncio
from collections import deque

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import DataTable, Footer, Select, Static, TabbedContent, TabPane, Tree

from tui.admin_client import AdminClient, AdminError
from tui.supervisor import Supervisor

ACTIVITY_ROWS = 500
"""Rows kept in the activity table (the oldest go first)."""
COLUMNS = ("time", "client", "model", "status", "latency", "tokens")


def _uptime(seconds: float) -> str:
    minutes, second = divmod(int(seconds), 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour:d}:{minute:02d}:{second:02d}"


def activity_cells(record: dict) -> tuple[str, ...]:
    tokens = "-" if record["total_tokens"] is None else (
        f"{'~' if record['tokens_estimated'] else ''}{record['input_tokens'] or 0}+{record['output_tokens'] or 0}")
    return (record["time"][11:19], record["client"], record["model"] or record["path"], str(record["status"]),
            f"{record['latency_ms']:.0f} ms", tokens)


class GatehouseApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "Gatehouse"
    BINDINGS = [
        Binding("1", "show_tab('server')", "Server"),
        Binding("2", "show_tab('activity')", "Activity"),
        Binding("r", "refresh", "Refresh"),
        Binding("p", "toggle_live", "Live on/off"),
        Binding("s", "server_only", "Only server"),
        Binding("q", "quit", "Quit"),
    ]

    state: reactive[str] = reactive("starting")
    live: reactive[bool] = reactive(True)
    server_only: reactive[bool] = reactive(False)

    def __init__(self, base_url: str, key: str, supervisor: Supervisor | None = None) -> None:
        super().__init__()
        self.base_url = base_url
        self.admin = AdminClient(base_url, key)
        self.supervisor = supervisor
        self.records: deque[dict] = deque(maxlen=ACTIVITY_ROWS)
        self.status: dict = {}
        self.client_names: list[str] = ["server"]

    def compose(self) -> ComposeResult:
        yield Static(id="status-line")
        with TabbedContent(initial="server"):
            with TabPane("1 Server", id="server"):
                yield Static("Waiting for the server…", id="server-status")
                yield Select([("server", "server")], value="server", allow_blank=False, id="client-select")
                yield Tree("client settings", id="client-tree")
            with TabPane("2 Activity", id="activity"):
                yield Static(id="activity-filter")
                yield DataTable(id="activity-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#activity-table", DataTable).add_columns(*COLUMNS)
        if self.supervisor is None:
            self.state = "attached"
        else:
            self.supervise()
        self.set_interval(2, self.action_refresh)
        self.follow_activity()
        self._show_filter()

    # --- server state ---------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="supervisor")
    def supervise(self) -> None:
        healthy = self.supervisor.start()
        self.call_from_thread(setattr, self, "state", "running" if healthy else "stopped")
        if healthy:
            self.call_from_thread(self.action_refresh)
            self.supervisor.run()

    def supervisor_said(self, line: str) -> None:
        """The supervisor's log lines, as state changes and notifications (called from its thread)."""
        if "restarting" in line:
            self.state = "restarting"
        elif "now serves" in line or "is back" in line:
            self.state = "running"
        self.notify(line, title="Supervisor")

    def watch_state(self) -> None:
        self._show_status_line()

    def _show_status_line(self) -> None:
        uptime = f"  up {_uptime(self.status['uptime_s'])}" if self.status else ""
        self.query_one("#status-line", Static).update(f"Gatehouse ● {self.state}  {self.base_url}{uptime}")

    async def action_refresh(self) -> None:
        if self.state in ("starting", "stopped"):
            return
        try:
            self.status = await self.admin.get("/admin/status")
            clients = await self.admin.get("/admin/clients")
        except AdminError as error:
            self.query_one("#server-status", Static).update(f"Cannot read the server's state: {error}")
            return
        status = self.status
        self.query_one("#server-status", Static).update("\n".join([
            f"URL               {self.base_url}",
            f"pid / workers     {status['pid']} / {status['workers']}",
            f"config            {status['config_path']} (generation {status['config_generation']})",
            f"last reload       {status['last_reload'] or '-'}",
            f"last reload error {status['last_reload_error'] or '-'}",
        ]))
        self._show_status_line()
        select = self.query_one("#client-select", Select)
        names = [client["name"] for client in clients["data"]]
        if names != self.client_names:  # keep the choice across refreshes
            self.client_names = names
            select.set_options([(name, name) for name in names])
            select.value = select.value if select.value in names else "server"
        await self.show_client(str(select.value))

    async def on_select_changed(self, event: Select.Changed) -> None:
        if self.state not in ("starting", "stopped"):
            await self.show_client(str(event.value))

    async def show_client(self, name: str) -> None:
        try:
            settings = await self.admin.get(f"/admin/clients/{name}")
        except AdminError as error:
            self.notify(str(error), severity="error")
            return
        tree = self.query_one("#client-tree", Tree)
        tree.clear()
        tree.add_json(settings)
        tree.root.set_label(f"client '{name}': effective settings")
        tree.root.expand_all()

    # --- activity ---------------------------------------------------------------------------

    @work(exclusive=True, group="activity")
    async def follow_activity(self) -> None:
        """Follow the server's live activity; reconnect when it goes away (restarts)."""
        while True:
            try:
                async for record in self.admin.tail():
                    self.records.append(record)
                    if self.live and self._shown(record):
                        self._add_row(record)
            except AdminError:
                pass
            await asyncio.sleep(1)

    def _shown(self, record: dict) -> bool:
        return not self.server_only or record["client"] == "server"

    def _add_row(self, record: dict) -> None:
        table = self.query_one("#activity-table", DataTable)
        table.add_row(*activity_cells(record), key=str(record["id"]))
        if table.row_count > ACTIVITY_ROWS:
            table.remove_row(next(iter(table.rows)))

    def _rebuild_table(self) -> None:
        table = self.query_one("#activity-table", DataTable)
        table.clear()
        for record in self.records:
            if self._shown(record):
                table.add_row(*activity_cells(record), key=str(record["id"]))
        self._show_filter()

    def _show_filter(self) -> None:
        self.query_one("#activity-filter", Static).update(
            f"live: {'on' if self.live else 'paused'}   clients: {'only server' if self.server_only else 'all'}")

    def action_toggle_live(self) -> None:
        self.live = not self.live
        self._rebuild_table()

    def action_server_only(self) -> None:
        self.server_only = not self.server_only
        self._rebuild_table()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    async def on_unmount(self) -> None:
        await self.admin.close()
        if self.supervisor is not None:
            await asyncio.to_thread(self.supervisor.stop)
