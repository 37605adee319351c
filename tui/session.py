"""What the app hands each tab at compose time: the server's admin API, the config file (unless
attached) and the supervisor (when the TUI runs the server).

Tabs read what they need from their `Session`; what they change goes up to the app as messages
(tui/messages.py), which carries it out and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from api.config.settings import ConfigError
from tui.admin_client import AdminClient
from tui.config_document import ConfigDocument, SaveResult
from tui.supervisor import Supervisor


class Unreadable(ConfigError):
    """The config file cannot be read (the message says why); nothing was written."""


@dataclass(frozen=True, slots=True)
class Edited:
    """A few keys written into the config file by `ConfigStore.edit`."""

    changes: dict[str, object]
    result: SaveResult
    before: tuple
    """The file's stamp before the write: a document that knew the file so can take `changes` over."""
    after: tuple
    """The file's stamp after the write."""


class ConfigStore:
    """The config file the TUI shows and writes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> ConfigDocument:
        """The file as it is on disk now; ConfigError if it cannot be read."""
        return ConfigDocument.load(self.path)

    def edit(self, changes: dict[str, object]) -> Edited:
        """Write `changes` (key path → value; None removes the key) into the file as it is on disk now,
        so that the unsaved edits of another document stay its own.

        Raises Unreadable, ConfigError (the problems of the result) or SaveConflict; nothing is
        written then."""
        try:
            document = self.load()
        except ConfigError as error:
            raise Unreadable(str(error), error.problems) from error
        before = document.stamp
        for key, value in changes.items():
            document.set(key, value)
        return Edited(changes, document.save(), before, document.stamp)


@dataclass(frozen=True, slots=True)
class Session:
    """What every tab is handed: it reads from this, and posts its changes to the app."""

    admin: AdminClient
    config: ConfigStore | None
    """None when attached to a server started elsewhere: its configuration is read-only here."""
    supervisor: Supervisor | None
    """None when the server runs elsewhere: nothing to stop or start."""

    @property
    def read_only(self) -> bool:
        return self.config is None


def read_only_note(what: str) -> str:
    """What is said when `what` is to be changed while the configuration is read-only."""
    return f"Attached: {what} cannot be changed here; the configuration is read-only."
