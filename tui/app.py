"""The Gatehouse terminal UI: configuration, server state, live activity, a playground, the LocalDocs
collections and the models (loaded or not).

It knows the server only through its admin API and the config file. Started by `gatehouse`,
it runs the server under the supervisor (in a thread) and stops it on quit; with `--attach`
it shows a server started elsewhere, its configuration read-only.

Each tab is handed the `Session` at compose time; what a tab changes comes back up as a message
(tui/messages.py), and so do the supervisor's events: the app alone writes the config file for
them, follows the server's state and says what happened.
"""

from __future__ import annotations

import asyncio
import os
import signal
from contextlib import suppress
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.theme import Theme
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
from tui.commands import GatehouseCommands
from tui.config_document import SaveConflict, SaveResult
from tui.messages import ConfigEdit, ConfigSaved, ServerStateChanged, SupervisorReported, ThemeSaved
from tui.screens import ConfirmScreen, HelpScreen
from tui.session import ConfigStore, Session, Unreadable
from tui.supervisor import Supervisor
from tui.tabs.activity import ActivityTab
from tui.tabs.config import ConfigTab
from tui.tabs.documents import DocumentsTab
from tui.tabs.models import ModelsTab, crash_text
from tui.tabs.playground import PlaygroundTab
from tui.tabs.server import ServerTab
from tui.themes import BUILTIN_THEMES_DIR, DEFAULT_THEME, load_themes, user_themes_dir

TABS = ("config", "server", "activity", "playground", "documents", "models")
FOCUS = {"config": "#config-nav", "server": "#client-tree", "activity": "#activity-table", "playground": "#play-input",
         "documents": "#docs-table", "models": "#model-list"}
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
    COMMANDS = App.COMMANDS | {GatehouseCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
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
    """The server's state (a tui.supervisor.ServerState), or "attached" to a server started elsewhere."""

    def __init__(self, base_url: str, key: str, supervisor: Supervisor | None = None,
                 config_path: Path | None = None, user_themes: Path | None = None) -> None:
        super().__init__()
        config_path = config_path or (supervisor.config_path if supervisor else None)
        self.session = Session(AdminClient(base_url, key), ConfigStore(config_path) if config_path else None,
                               supervisor)
        self.user_themes = user_themes if user_themes is not None else user_themes_dir()
        self.status: dict = {}
        """The server's /admin/status as last read."""
        self.crashes_seen: int | None = None
        """How many model host crashes the server had reported at the last read (None before the first)."""
        self._saved_theme: str | None = None
        self.theme_problems = self._load_themes()

    def notify(self, message: str, **options: Any) -> None:
        """Every notification is plain text: the names, URLs and errors in them may hold '[', which
        Textual would read as markup (a client named '[/b]' used to crash the app)."""
        super().notify(message, **{**options, "markup": False})

    def compose(self) -> ComposeResult:
        session = self.session
        yield Static(id="status-line", markup=False)
        if session.read_only:
            yield Static(f"Attached to {session.admin.base_url}: configuration read-only, no start/stop.",
                         id="banner", markup=False)
        with TabbedContent(initial="config"):
            with TabPane("1 Configuration", id="config"):
                yield ConfigTab(session)
            with TabPane("2 Server", id="server"):
                yield ServerTab(session).data_bind(GatehouseApp.state)
            with TabPane("3 Activity", id="activity"):
                yield ActivityTab(session)
            with TabPane("4 Playground", id="playground"):
                yield PlaygroundTab(session)
            with TabPane("5 Documents", id="documents"):
                yield DocumentsTab(session)
            with TabPane("6 Models", id="models"):
                yield ModelsTab(session)
        yield Footer()

    def on_mount(self) -> None:
        for problem in self.theme_problems:
            self.notify(problem, title="Theme skipped", severity="warning", timeout=10)
        if self.session.supervisor is None:
            self.state = "attached"
        else:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.exit)
            signal.signal(signal.SIGHUP, self._hang_up)
            self.supervise(self.session.supervisor)
        if self.session.config is not None:
            self.watch_config_file(self.session.config.path)
        self.set_interval(self.REFRESH_S, self.action_refresh)
        self.theme_changed_signal.subscribe(self, self._remember_theme)

    # --- themes -----------------------------------------------------------------------------

    def _load_themes(self) -> list[str]:
        """Register the theme files and start with `[tui] theme`; the problems found, for the user."""
        themes, problems = load_themes(BUILTIN_THEMES_DIR, self.user_themes)
        for theme in themes:
            self.register_theme(theme)
        wanted = DEFAULT_THEME
        if self.session.config is not None:
            with suppress(ConfigError):  # the Configuration tab says what is wrong with the file
                wanted = load_config(self.session.config.path).tui.theme
        if wanted not in self.available_themes:
            problems.append(f"[tui] theme: no theme '{wanted}'; using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME
        self._saved_theme = self.theme = wanted
        return problems

    def _remember_theme(self, theme: Theme) -> None:
        """A theme picked in the palette is kept in `[tui] theme`."""
        if theme.name != self._saved_theme and not self.session.read_only:
            self._saved_theme = theme.name
            self._edit_config({"tui.theme": theme.name}, f"theme '{theme.name}'")

    def on_theme_saved(self, message: ThemeSaved) -> None:
        if message.name != self.theme and message.name in self.available_themes:
            self._saved_theme = self.theme = message.name

    # --- the config file --------------------------------------------------------------------

    def on_config_edit(self, message: ConfigEdit) -> None:
        if self._edit_config(message.changes, message.what) and message.on_saved is not None:
            message.on_saved()

    def _edit_config(self, changes: dict[str, object], what: str) -> bool:
        """Write a few keys into the config file as it is on disk now (the Configuration tab's
        unsaved edits stay its own, and take the change over); True when saved."""
        if self.session.config is None:
            return False  # attached: the tabs refuse changes before they ask, with a note
        try:
            edited = self.session.config.edit(changes)
        except Unreadable as error:
            self.notify(str(error), severity="error")
            return False
        except ConfigError as error:
            problems = "; ".join(f"{path}: {message}" for path, message in error.problems)
            self.notify(f"Not saved ({what}): {problems}", severity="error", timeout=10)
            return False
        except SaveConflict:
            self.notify(f"Not saved ({what}): the file changed meanwhile; try again.", severity="error")
            return False
        self.query_one(ConfigTab).follow(edited)
        self._report_saved(edited.result, what)
        return True

    def on_config_saved(self, message: ConfigSaved) -> None:
        self._report_saved(message.result, "the configuration")

    def _report_saved(self, result: SaveResult, what: str) -> None:
        if not result.changed:
            self.notify(f"Saved {what}: nothing changed.")
        elif result.restart_needed:
            who = "the server restarts now" if self.session.supervisor else "restart the server to apply them"
            keys = result.restart_needed
            verb = "needs" if len(keys) == 1 else "need"
            self.notify(f"Saved {what}. {', '.join(keys)} {verb} a new server process: {who}.", timeout=8)
        else:
            self.notify(f"Saved {what}; the server reloads it.")

    @work(exclusive=True, group="config-watch")
    async def watch_config_file(self, path: Path) -> None:
        """Show saves made elsewhere (an editor, another tab) in the Configuration tab."""
        async for _ in awatch(path.parent, watch_filter=only(path), **WATCH_OPTIONS):
            try:
                await self.query_one(ConfigTab).file_changed()
            except NoMatches:  # the app is closing
                return

    # --- server state -----------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="supervisor")
    def supervise(self, supervisor: Supervisor) -> None:
        self.post_message(ServerStateChanged("running" if supervisor.start() else "stopped"))
        supervisor.run()

    def on_server_state_changed(self, message: ServerStateChanged) -> None:
        self.state = message.state

    def on_supervisor_reported(self, message: SupervisorReported) -> None:
        """The supervisor restarted, moved or stopped the server: where it is and what it does now."""
        event = message.event
        self.session.admin.base_url = event.url
        self.state = event.state
        self.notify(event.text, title="Supervisor")

    def _hang_up(self, _signum: int, _frame: FrameType | None) -> None:
        """The terminal is gone (a closed window, a dropped SSH session): stop the server, then
        leave at once. A plain signal handler, not the event loop's: Textual, seeing its terminal
        go, may already be stuck in its shutdown writing to a terminal that no longer reads, and
        there is nothing left on screen to restore."""
        if self.session.supervisor is not None:
            self.session.supervisor.stop()
        os._exit(0)

    def watch_state(self, state: str) -> None:
        """A server running (again) is read at once, not only at the next refresh."""
        self._show_status_line()
        if state == "running":
            self.run_worker(self.action_refresh(), group="refresh")

    def _show_status_line(self) -> None:
        uptime = f"  up {_uptime(self.status['uptime_s'])}" if self.status and self.state == "running" else ""
        activity = self.status.get("activity") or {} if self.status else {}
        lost = "  ⚠ activity not recorded" if activity.get("recording") is False else ""
        crashes = self.status.get("local_model_crashes") or [] if self.status and self.state != "stopped" else []
        crashed = f"  ⚠ {crash_text(crashes[-1])}" if crashes else ""  # before the URL: 80 columns cut the end
        for line in self.query("#status-line").results(Static):  # none while the app closes
            line.update(f"Gatehouse ● {self.state}{crashed}  {self.session.admin.base_url}{uptime}{lost}   ? help")

    async def action_refresh(self) -> None:
        if self.state in ("starting", "stopped", "stopping"):
            return
        try:
            status = await self.query_one(ServerTab).refresh_state()
            if status is not None:
                self.status = status
                self._report_crashes(status.get("local_model_crashes") or [])
            self._show_status_line()
            playground = self.query_one(PlaygroundTab)
            if not playground.settings or playground.generation != self.status.get("config_generation"):
                await playground.load(self.status.get("config_generation"))
            await self.query_one(DocumentsTab).refresh_collections()
            if self.query_one(TabbedContent).active == "models":
                await self.query_one(ModelsTab).refresh_models()
        except NoMatches:  # the app closed while the server was being asked
            return

    def _report_crashes(self, crashes: list[dict]) -> None:
        """Model host crashes: the Models tab lists the last one, and one that is new since the last read is
        a notification (the server keeps the last 50; a new server starts with none)."""
        self.query_one(ModelsTab).show_crashes(crashes)
        seen, self.crashes_seen = self.crashes_seen, len(crashes)
        if seen is not None and len(crashes) != seen:
            for crash in crashes[seen:] if len(crashes) > seen else crashes[-1:]:
                self.notify(crash_text(crash), title="Local model crashed", severity="warning", timeout=10)

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        focused = self.focused
        if event.pane.id is not None and not (focused is not None and event.pane in focused.ancestors):
            self.query_one(FOCUS[event.pane.id]).focus()  # (unless an action run in the tab put the focus there)
        if event.pane.id == "models" and self.state not in ("starting", "stopped", "stopping"):
            self.run_worker(self.query_one(ModelsTab).refresh_models(), group="models-shown")

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
        await self.session.admin.close()
        if self.session.supervisor is not None:
            await asyncio.to_thread(self.session.supervisor.stop)

