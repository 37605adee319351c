"""Modal screens: the key map, a yes/no question, a name to type, one record in full, the server key."""

from __future__ import annotations

from typing import ClassVar

import orjson
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static

KEY_MAP = """\
[b]Everywhere[/b]
  1 2 3 4    tabs (from a text field: escape first) ?  this help
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

[b]3 Activity[/b]
  p  live on/off   s  only 'server'   f  status all/ok/errors
  m  model filter  enter  one record in full   r  reload

[b]4 Playground[/b]
  enter  send    escape  stop the answer    ctrl+n  new chat
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
