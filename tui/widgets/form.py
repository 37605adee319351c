"""A form over one table of the config file: a labelled input per key, its error right under it.

The form only turns what is typed into TOML values and reports them (`Form.Edited`); the
Configuration tab applies them to the document and hands back the problems to show.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static, Switch, TextArea

from tui.widgets.masked import SecretInput


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    """The key inside the table (`base_url`)."""
    kind: str = "text"
    """text, secret, int, float, bool, choice, list, numbers or multiline."""
    help: str = ""
    choices: tuple[str, ...] = ()
    """For `choice`: the values offered (the blank choice means "not set")."""
    default: object = None
    """What applies when the key is not in the file (shown by a switch)."""


def parse(field: Field, raw) -> object:
    """What the typed text means in TOML; None removes the key. Text that is not a number stays
    text, so validation names the key and says what it must be."""
    if field.kind == "bool":
        return bool(raw)
    if field.kind == "choice":
        return None if raw in (Select.NULL, "") else raw
    text = str(raw).strip() if field.kind != "multiline" else str(raw)
    if text == "":
        return None
    if field.kind == "list":
        return [item.strip() for item in text.split(",") if item.strip()]
    if field.kind == "numbers":
        return [_number(item.strip(), integer=False) for item in text.split(",") if item.strip()]
    if field.kind in ("int", "float"):
        return _number(text, integer=field.kind == "int")
    return text


def _number(text: str, integer: bool) -> object:
    """The number typed (120 stays 120, not 120.0), or the text itself when it is not one."""
    for convert in (int,) if integer else (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return text


def shown(field: Field, value) -> str:
    """A TOML value as the form's text."""
    if value is None:
        return ""
    if field.kind in ("list", "numbers"):
        return ", ".join(f"{item:g}" if isinstance(item, float) else str(item) for item in value)
    return str(value)


class Form(VerticalScroll):
    """Inputs for `fields` of the table at `path` (e.g. `providers.openai`), filled from `values`."""

    class Edited(Message):
        def __init__(self, form: Form, key: str, value) -> None:
            super().__init__()
            self.form, self.key, self.value = form, key, value

    def __init__(self, path: str, fields: tuple[Field, ...], values: dict, *, read_only: bool = False,
                 id: str | None = None) -> None:
        super().__init__(id=id, classes="form")
        self.path = path
        self.fields = {field.key: field for field in fields}
        self.values = values
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        for field in self.fields.values():
            yield Label(field.key, classes="field-label")
            yield self._input(field, self.values.get(field.key, field.default))
            if field.help:
                yield Static(field.help, classes="field-help")
            yield Static("", id=f"error-{field.key}", classes="field-error", markup=False)

    def _input(self, field: Field, value):
        name, disabled = f"input-{field.key}", self.read_only
        if field.kind == "bool":
            return Switch(bool(value), id=name, disabled=disabled)
        if field.kind == "choice":
            options = [(choice, choice) for choice in field.choices]
            if value is not None and value not in field.choices:
                options.append((str(value), value))
            return Select(options, value=value if value is not None else Select.NULL, id=name,
                          disabled=disabled, compact=True)
        if field.kind == "multiline":
            return TextArea(shown(field, value), id=name, read_only=disabled, soft_wrap=True)
        if field.kind == "secret":
            return SecretInput(shown(field, value), id=name, disabled=disabled)
        return Input(shown(field, value), id=name, disabled=disabled, compact=True, select_on_focus=False)

    def show_problems(self, problems: dict[str, str]) -> None:
        """Put each key's problem under its input (and clear the others). A form whose fields are not mounted
        (still being built, or being replaced after a save) shows nothing: it is shown again once mounted."""
        for key in self.fields:
            for error in self.query(f"#error-{key}").results(Static):
                error.update(problems.get(key, ""))
                error.display = key in problems

    def _edited(self, widget_id: str | None, raw) -> None:
        key = (widget_id or "").removeprefix("input-")
        if key not in self.fields or self.read_only:
            return
        value = parse(self.fields[key], raw)
        if value != self.values.get(key, self.fields[key].default):  # widgets report their first value too
            self.values[key] = value
            self.post_message(self.Edited(self, key, value))

    @on(Input.Changed)
    @on(Switch.Changed)
    @on(Select.Changed)
    def _changed(self, event) -> None:
        event.stop()
        self._edited(event.control.id, event.value)

    @on(TextArea.Changed)
    def _text_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._edited(event.text_area.id, event.text_area.text)
