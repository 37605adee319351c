"""Which keys the Configuration tab's forms offer for each kind of table, with a line of help each.

The keys, their kinds, help and defaults are declared once, on the settings dataclasses in
api/config/settings.py (see api.config.schema); this module only makes form fields of them.
"""

from __future__ import annotations

from dataclasses import replace

from api.config.schema import FORM_KINDS, declared, default_of
from api.config.settings import (
    ActivitySettings,
    ClientSettings,
    LocalModelSettings,
    LocalSettings,
    PromptSettings,
    ProviderSettings,
    RouteSettings,
    ServerSettings,
    TuiSettings,
)
from tui.widgets.form import Field


def form(settings: type) -> tuple[Field, ...]:
    """A form field for each key `settings` declares that a form edits (a table of its own is edited in the file).

    A field's default is shown when the file does not set the key: a plain value, not an empty one, and not for
    a choice, whose blank means "not set".
    """
    return tuple(
        Field(part.name, described.kind, described.help, described.choices,
              default if isinstance(default, (str, int, float)) and default != "" and described.kind != "choice"
              else None)
        for part, described in declared(settings) if described.kind in FORM_KINDS
        for default in (default_of(part),)
    )


SERVER = form(ServerSettings)
PROVIDER = form(ProviderSettings)
LOCAL_PROVIDER = (replace(PROVIDER[0], help="llamacpp: GGUF models run inside Gatehouse"), *form(LocalSettings))
"""A llamacpp provider's table: its `type` (ProviderSettings', told for this type), then LocalSettings' keys."""
LOCAL_MODEL = form(LocalModelSettings)
PROMPT = form(PromptSettings)
CLIENT = form(ClientSettings)
ROUTE = form(RouteSettings)
ACTIVITY = form(ActivitySettings)
TUI = form(TuiSettings)


def client_fields(prompts: list[str]) -> tuple[Field, ...]:
    """The client form, its prompt choice offering the prompts that exist."""
    return tuple(replace(field, choices=tuple(prompts)) if field.key == "prompt" else field for field in CLIENT)


def tui_fields(themes: list[str]) -> tuple[Field, ...]:
    return (replace(TUI[0], choices=tuple(themes)),)
