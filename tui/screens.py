"""Modal screens: the key map, a yes/no question, a name to type, one record in full, the server key, a text
in full (a LocalDocs chunk, a file's error) and a new collection (its name and a path typed with completion)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import orjson
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Static

KEY_MAP = """\
[b]Everywhere[/b]
  1 … 6      tabs (from a text field: escape first) ?  this help
  tab        next field        escape  leave a field / close
  ctrl+p     command palette: every action, themes
  q, ctrl+c  quit (stops the server Gatehouse started)

[b]1 Configuration[/b]
  ↑ ↓ enter  pick a table       a  add a provider, prompt, client
  ctrl+s     save (validated)   d  delete it    e  rename it
  ctrl+z     drop your edits    t  test the provider (its models)
  ctrl+r     show/hide secret   space  fold/unfold a list

[b]2 Server[/b]
  k  show the server key (asks)     g  new server key (asks)
  c  copy the server key (OSC 52: tmux and some terminals drop it)
  x  stop    t  start    R  restart    r  refresh
  u  copy the TUI's settings to the 'server' client
  l  pick the client whose limits and settings are shown

[b]3 Activity[/b]
  p  live on/off   s  only 'server'   f  status all/ok/errors
  m  model filter  enter  one record in full   r  reload

[b]4 Playground[/b]
  enter  send    escape  stop the answer    ctrl+n  new chat
  docs   the collections searched for the answer (its sources listed)

[b]5 Documents[/b]
  ↑ ↓    pick a collection  a  add a collection (name, path)
  r      reindex it         d  delete it (asks)
  space  search it or not   /  type a search (enter runs it)
  enter  a snippet or a file's error in full    tab  next list

[b]6 Models[/b]
  ↑ ↓  pick a model (every provider's; the loaded ones first)
  l    load it        u  unload it       r  refresh
  p    pin it (stays loaded), or un-pin it (its keep_alive again)
  a crash of a local model shows here, in the status line, tab 2
"""


class _Modal(ModalScreen):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]


class HelpScreen(_Modal):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help"):
            yield Static(KEY_MAP)


class ConfirmScreen(_Modal):
    """A yes/no question; dismisses with True for y."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "dismiss(True)", "Yes"), Binding("n,escape", "dismiss(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, markup=False)
            yield Static("[b]y[/b] yes   [b]n[/b] no", classes="dialog-keys")


class AskScreen(_Modal):
    """One line of text; dismisses with it (None on escape)."""

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question, self.value = question, value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, markup=False)
            yield Input(self.value, id="answer")
            yield Static("[b]enter[/b] ok   [b]escape[/b] cancel", classes="dialog-keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)


class RecordScreen(_Modal):
    """One activity record, every field."""

    def __init__(self, record: dict) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="record"):
            yield Static(Content.from_markup("[b]Request $id[/b]", id=str(self.record.get("request_id", ""))))
            yield Static(orjson.dumps(self.record, option=orjson.OPT_INDENT_2).decode(), markup=False)
            yield Static("[b]escape[/b] close", classes="dialog-keys")


def key_command(config_path: str) -> str:
    """A shell line that prints the server key from the config file at `config_path`."""
    return f"python3 -c \"import tomllib;print(tomllib.load(open('{config_path}','rb'))['server']['api_key'])\""


class KeyScreen(_Modal):
    """The server key in full, where it is kept and a line that reads it (OSC 52 may not reach the clipboard)."""

    def __init__(self, key: str, config_path: str) -> None:
        super().__init__()
        self.key, self.config_path = key, config_path

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="server-key"):
            yield Static("[b]The server key[/b] (select it with the mouse, shift+drag in tmux)")
            yield Static(self.key, id="key-value", markup=False)
            yield Static(f"It is [server].api_key in {self.config_path}; this reads it:", markup=False)
            yield Static(f"KEY=$({key_command(self.config_path)})", id="key-command", markup=False)
            yield Static("[b]escape[/b] close", classes="dialog-keys")


class TextScreen(_Modal):
    """A title and a text in full (a LocalDocs chunk, the reason a file was not indexed); the text is never
    read as markup."""

    def __init__(self, title: Content | str, text: Content | str) -> None:
        super().__init__()
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="text-screen"):
            yield Static(self.title_text, markup=False, id="text-title")
            yield Static(self.text, markup=False, id="text-body")
            yield Static("[b]escape[/b] close   [b]↑ ↓[/b] scroll", classes="dialog-keys")


class DirectorySuggester(Suggester):
    """Completes a path typed with the folders (and files) that exist: `~/no` → `~/notes/`."""

    def __init__(self, base: Path | None = None) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.base = base or Path.cwd()
        """What a relative path is relative to (the config file's folder, as the server reads `paths`)."""

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        folder, _, prefix = value.rpartition("/")
        where = Path(os.path.expanduser(folder or ("/" if value.startswith("/") else ".")))
        if not where.is_absolute():
            where = self.base / where
        try:
            names = sorted(entry.name for entry in os.scandir(where) if entry.name.startswith(prefix)
                           and (prefix.startswith(".") or not entry.name.startswith(".")))  # hidden: asked for
        except OSError:
            return None
        for name in names:  # folders first: a collection is mostly a folder
            if (where / name).is_dir() and name != prefix:
                return value + name[len(prefix):] + "/"
        for name in names:
            if name != prefix:
                return value + name[len(prefix):]
        return None


class AddCollectionScreen(_Modal):
    """A new collection's name and path; dismisses with (name, path), None on escape."""

    def __init__(self, taken: list[str], base: Path | None = None) -> None:
        super().__init__()
        self.taken, self.base = taken, base

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="add-collection"):
            yield Static("[b]A new LocalDocs collection[/b]")
            yield Static("Name (letters, digits, - and _):", markup=False)
            yield Input(id="collection-name", restrict=r"[A-Za-z0-9_\-]*", compact=True)
            yield Static("A folder or file to index (→ completes the path):", markup=False)
            yield Input(id="collection-path", suggester=DirectorySuggester(self.base), compact=True)
            yield Static("", id="add-collection-problem", markup=False, classes="field-error")
            yield Static("[b]enter[/b] next / add   [b]→[/b] complete   [b]escape[/b] cancel", classes="dialog-keys")

    def _problem(self, text: str) -> None:
        self.query_one("#add-collection-problem", Static).update(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        name = self.query_one("#collection-name", Input).value.strip()
        path = self.query_one("#collection-path", Input).value.strip()
        if event.input.id == "collection-name" and not path:
            self.query_one("#collection-path", Input).focus()
            return
        if not name:
            self._problem("The collection needs a name.")
            self.query_one("#collection-name", Input).focus()
        elif name in self.taken:
            self._problem(f"There already is a collection '{name}'.")
            self.query_one("#collection-name", Input).focus()
        elif not path:
            self._problem("Type the folder (or file) to index.")
            self.query_one("#collection-path", Input).focus()
        else:
            self.dismiss((name, path))
