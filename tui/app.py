"""The Gatehouse terminal UI: configuration, server state, live activity and a playground.

It knows the server only through its admin API and the config file. Started by `gatehouse`,
it runs the server under the supervisor (in a thread) and stops it on quit; with `--attach`
it shows a server started elsewhere, its configuration read-only.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.widgets import (
    Footer,
    Input,
    Select,
    Static,
    Switch,
    TabbedContent,
    TabPane,
    TextArea,
)
from watchfiles import awatch

from api.config.settings import ConfigError, load_config
from api.core.reload import WATCH_OPTIONS, only
from tui.admin_client import AdminClient
from tui.config_document import ConfigDocument, SaveConflict, SaveResult
from tui.screens import ConfirmScreen, HelpScreen
from tui.supervisor import Supervisor
from tui.tabs.activity import ActivityTab
from tui.tabs.config import ConfigTab
from tui.tabs.playground import PlaygroundTab
from tui.tabs.server import ServerTab
from tui.themes import BUILTIN_THEMES_DIR, DEFAULT_THEME, load_themes, user_themes_dir

TABS = ("config", "server", "activity", "playground")
FOCUS = {"config": "#config-nav", "server": "#client-tree", "activity": "#activity-table", "playground": "#play-input"}
"""Where the keyboard goes when a tab is shown."""
HOME = {**FOCUS, "playground": "#chat"}
"""Where escape takes the keyboard from a text field (somewhere digits switch tabs)."""


def _uptime(seconds: float) -> str:
    minutes, second = divmod(int(seconds), 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour:d}:{minute:02d}:{second:02d}"


class GatehouseApp(App):
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "Gatehouse"
    BINDINGS = [
        *(Binding(str(number), f"show_tab('{tab}')", tab.capitalize(), show=False)
          for number, tab in enumerate(TABS, 1)),
        *(Binding(f"alt+{number}", f"show_tab('{tab}')", tab.capitalize(), show=False, priority=True)
          for number, tab in enumerate(TABS, 1)),
        Binding("escape", "leave_field", "Leave field", show=False),
        Binding("ctrl+s", "save_config", "Save", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False),
    ]

    REFRESH_S = 2.0
    """How often the server's state is read again."""

    state: reactive[str] = reactive("starting")

    def __init__(self, base_url: str, key: str, supervisor: Supervisor | None = None,
                 config_path: Path | None = None, user_themes: Path | None = None) -> None:
        super().__init__()
        self.admin = AdminClient(base_url, key)
        self.supervisor = supervisor
        self.config_path = config_path or (supervisor.config_path if supervisor else None)
        self.read_only = self.config_path is None
        """Attached to a server started elsewhere: its config is shown, never written."""
        self.user_themes = user_themes if user_themes is not None else user_themes_dir()
        self.status: dict = {}
        self._saved_theme: str | None = None
        self.theme_problems = self._load_themes()

    def notify(self, message: str, **options) -> None:
        """Every notification is plain text: the names, URLs and errors in them may hold '[', which
        Textual would read as markup (a client named '[/b]' used to crash the app)."""
        super().notify(message, **{**options, "markup": False})

    def compose(self) -> ComposeResult:
        yield Static(id="status-line", markup=False)
        if self.read_only:
            yield Static(f"Attached to {self.admin.base_url}: configuration read-only, no start/stop.",
                         id="banner", markup=False)
        with TabbedContent(initial="config"):
            with TabPane("1 Configuration", id="config"):
                yield ConfigTab()
            with TabPane("2 Server", id="server"):
                yield ServerTab()
            with TabPane("3 Activity", id="activity"):
                yield ActivityTab()
            with TabPane("4 Playground", id="playground"):
                yield PlaygroundTab()
        yield Footer()

    def on_mount(self) -> None:
        for problem in self.theme_problems:
            self.notify(problem, title="Theme skipped", severity="warning", timeout=10)
        if self.supervisor is None:
            self.state = "attached"
        else:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.exit)
            signal.signal(signal.SIGHUP, self._hang_up)
            self.supervise()
        if self.config_path is not None:
            self.watch_config_file()
        self.set_interval(self.REFRESH_S, self.action_refresh)
        self.theme_changed_signal.subscribe(self, self._remember_theme)

    # --- themes -----------------------------------------------------------------------------

    def _load_themes(self) -> list[str]:
        """Register the theme files and start with `[tui] theme`; the problems found, for the user."""
        themes, problems = load_themes(BUILTIN_THEMES_DIR, self.user_themes)
        for theme in themes:
            self.register_theme(theme)
        wanted = DEFAULT_THEME
        if self.config_path is not None:
            try:
                wanted = load_config(self.config_path).tui.theme
            except ConfigError:
                pass
        if wanted not in self.available_themes:
            problems.append(f"[tui] theme: no theme '{wanted}'; using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME
        self._saved_theme = self.theme = wanted
        return problems

    def _remember_theme(self, theme) -> None:
        """A theme picked in the palette is kept in `[tui] theme`."""
        if theme.name != self._saved_theme and not self.read_only:
            self._saved_theme = theme.name
            self.edit_config({"tui.theme": theme.name}, f"theme '{theme.name}'")

    # --- the config file --------------------------------------------------------------------

    def load_document(self) -> ConfigDocument | None:
        try:
            return ConfigDocument.load(self.config_path)
        except ConfigError as error:
            self.notify(str(error), severity="error")
            return None

    def edit_config(self, changes: dict[str, object], what: str) -> bool:
        """Write a few keys into the config file as it is on disk now (the Configuration tab's
        unsaved edits stay its own); True when saved."""
        if not self.editable(what):
            return False
        document = self.load_document()
        if document is None:
            return False
        for key, value in changes.items():
            document.set(key, value)
        before = document.stamp
        try:
            result = document.save()
        except ConfigError as error:
            problems = "; ".join(f"{path}: {message}" for path, message in error.problems)
            self.notify(f"Not saved ({what}): {problems}", severity="error", timeout=10)
            return False
        except SaveConflict:
            self.notify(f"Not saved ({what}): the file changed meanwhile; try again.", severity="error")
            return False
        self.query_one(ConfigTab).follow(changes, before, document.stamp)
        self.report_saved(result, what)
        return True

    def use_saved_theme(self, name: str) -> None:
        """`[tui] theme` as just saved in the Configuration tab, shown now (not only at the next start)."""
        if name != self.theme and name in self.available_themes:
            self._saved_theme = self.theme = name

    def report_saved(self, result: SaveResult, what: str = "the configuration") -> None:
        if not result.changed:
            self.notify(f"Saved {what}: nothing changed.")
        elif result.restart_needed:
            who = "the server restarts now" if self.supervisor else "restart the server to apply them"
            keys = result.restart_needed
            verb = "needs" if len(keys) == 1 else "need"
            self.notify(f"Saved {what}. {', '.join(keys)} {verb} a new server process: {who}.", timeout=8)
        else:
            self.notify(f"Saved {what}; the server reloads it.")

    def editable(self, what: str) -> bool:
        """True unless attached to a server started elsewhere, whose configuration is read-only
        here; then `what` (the change asked for) is refused with a note."""
        if self.read_only:
            self.notify(f"Attached: {what} cannot be changed here; the configuration is read-only.",
                        severity="warning")
        return not self.read_only

    @work(exclusive=True, group="config-watch")
    async def watch_config_file(self) -> None:
        """Show saves made elsewhere (an editor, another tab) in the Configuration tab."""
        async for _ in awatch(self.config_path.parent, watch_filter=only(self.config_path), **WATCH_OPTIONS):
            try:
                await self.query_one(ConfigTab).file_changed()
            except NoMatches:  # the app is closing
                return

    # --- server state -----------------------------------------------------------------------

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
            self.admin.base_url = self.supervisor.base_url
        self.notify(line, title="Supervisor")

    def _hang_up(self, _signum, _frame) -> None:
        """The terminal is gone (a closed window, a dropped SSH session): stop the server, then
        leave at once. A plain signal handler, not the event loop's: Textual, seeing its terminal
        go, may already be stuck in its shutdown writing to a terminal that no longer reads, and
        there is nothing left on screen to restore."""
        self.supervisor.stop()
        os._exit(0)

    def watch_state(self) -> None:
        self._show_status_line()

    def _show_status_line(self) -> None:
        uptime = f"  up {_uptime(self.status['uptime_s'])}" if self.status and self.state == "running" else ""
        for line in self.query("#status-line"):  # none while the app closes
            line.update(f"Gatehouse ● {self.state}  {self.admin.base_url}{uptime}   ? help")

    async def action_refresh(self) -> None:
        if self.state in ("starting", "stopped", "stopping"):
            return
        try:
            await self.query_one(ServerTab).refresh_state()
            self._show_status_line()
            playground = self.query_one(PlaygroundTab)
            if not playground.settings:
                await playground.load()
        except NoMatches:  # the app closed while the server was being asked
            return

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.query_one(FOCUS[event.pane.id]).focus()

    def action_leave_field(self) -> None:
        """escape in a field (text, choice or switch) gives the keys back to the tab (digits switch tabs
        again; in tab 1 the arrows move in the list of tables again)."""
        if isinstance(self.focused, (Input, TextArea, Select, Switch)):
            self.query_one(HOME[self.query_one(TabbedContent).active]).focus()

    async def action_save_config(self) -> None:
        """ctrl+s where the Configuration tab's own binding does not reach (the tab strip, another tab)."""
        config = self.query_one(ConfigTab)
        if config.dirty:
            await config.action_save()
        else:
            self.notify("No unsaved configuration edits.")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Quit; with unsaved configuration edits, only after a yes."""
        if not self.query_one(ConfigTab).dirty:
            self.exit()
            return
        question = "Quit and lose the unsaved configuration edits? (ctrl+s in tab 1 saves them)"
        self.push_screen(ConfirmScreen(question), lambda yes: self.exit() if yes else None)

    async def on_unmount(self) -> None:
        await self.admin.close()
        if self.supervisor is not None:
            await asyncio.to_thread(self.supervisor.stop)

