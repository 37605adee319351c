"""What the tabs tell the app. A tab never changes the app's state itself: it posts one of these,
and the app carries it out (writes the file, shows the theme or the server's state, says so)."""

from __future__ import annotations

from collections.abc import Callable

from textual.message import Message

from tui.config_document import SaveResult
from tui.supervisor import ServerState, SupervisorEvent


class ConfigEdit(Message):
    """Write a few keys (key path → value; None removes the key) into the config file as it is on disk
    now; the Configuration tab's unsaved edits stay its own and take the change over."""

    def __init__(self, changes: dict[str, object], what: str, on_saved: Callable[[], object] | None = None) -> None:
        super().__init__()
        self.changes = changes
        self.what = what
        """The change in words, for the notifications ("the new server key")."""
        self.on_saved = on_saved
        """Called once the change is saved (not when it was refused)."""


class ConfigSaved(Message):
    """The Configuration tab saved its edits: the app says what they change."""

    def __init__(self, result: SaveResult) -> None:
        super().__init__()
        self.result = result


class ThemeSaved(Message):
    """`[tui] theme` was saved: the app shows that theme now, not only at the next start."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class ServerStateChanged(Message):
    """The Server tab is stopping, starting or restarting the server, or has done so."""

    def __init__(self, state: ServerState) -> None:
        super().__init__()
        self.state = state


class SupervisorReported(Message):
    """An event of the supervisor (posted from its thread)."""

    def __init__(self, event: SupervisorEvent) -> None:
        super().__init__()
        self.event = event
