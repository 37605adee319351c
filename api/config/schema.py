"""Each config key declared once: `setting()` puts what a key means beside its dataclass field.

Derived from these declarations: the keys each table knows (and "did you mean" for the others), the
type, bounds and choices checks, the keys whose change needs a restart, the redaction of secrets in
the admin API and the TUI's form fields. Fields declared without `setting()` (an entry's name, a
provider's id) are not keys of the table.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, dataclass
from typing import Any

FORM_KINDS = ("text", "secret", "int", "float", "bool", "choice", "list", "numbers", "multiline")
"""How the TUI's form edits a key (tui.widgets.form.Field.kind)."""
KINDS = (*FORM_KINDS, "table")
"""A key's kind: a form kind, or `table` (a TOML table of its own, edited in the file, not in a form)."""

_METADATA = "setting"


@dataclass(frozen=True, slots=True)
class Setting:
    """What one key of a config table is, beside its dataclass field (see `setting`)."""

    help: str
    """One line saying what the key does, shown under it in the TUI's form."""
    kind: str = "text"
    """One of KINDS; it also says what the key's TOML value is: text, secret, multiline and choice a
    string, int an integer, float any number, bool true or false, list a list of non-empty strings, numbers a list
    of numbers (each within the bounds)."""
    minimum: float | None = None
    maximum: float | None = None
    """Bounds of an int or float key (both inclusive)."""
    choices: tuple[str, ...] = ()
    """The values a `choice` key allows; empty when they come from elsewhere in the file (checked there)."""
    required: bool = False
    """The file must set it (whatever the dataclass's default)."""
    restart: bool = False
    """A change needs a new server process (a new socket, worker count or data dir)."""
    secret: bool = False
    """Never shown: redacted in the admin API, left out of the dataclass's repr."""


def setting(default: Any = MISSING, *, help: str, kind: str = "text", minimum: float | None = None,
            maximum: float | None = None, choices: tuple[str, ...] = (), required: bool = False,
            restart: bool = False, secret: bool = False, default_factory: Any = MISSING) -> Any:
    """A dataclass field that is a key of its config table; `default` applies when the file does not set it.

    A `secret` kind is secret; a number needs both bounds.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind in ("int", "float", "numbers") and (minimum is None or maximum is None):
        raise ValueError("a number setting needs a minimum and a maximum")
    secret = secret or kind == "secret"
    described = Setting(help=help, kind=kind, minimum=minimum, maximum=maximum, choices=choices,
                        required=required, restart=restart, secret=secret)
    return dataclasses.field(default=default, default_factory=default_factory, repr=not secret,
                             metadata={_METADATA: described})


def setting_of(field: dataclasses.Field) -> Setting | None:
    """The declaration of a field made by `setting()`; None for a field that is not a key."""
    return field.metadata.get(_METADATA)


def declared(settings: type) -> tuple[tuple[dataclasses.Field, Setting], ...]:
    """The keys of a settings class's table, in declaration order, each with its declaration."""
    return tuple((field, described) for field in dataclasses.fields(settings)
                 if (described := setting_of(field)) is not None)


def keys(settings: type) -> tuple[str, ...]:
    """The names of the keys a settings class's table knows."""
    return tuple(field.name for field, _ in declared(settings))


def default_of(field: dataclasses.Field) -> Any:
    """What applies when the file does not set the key: the field's plain default, else None (a default made
    by a factory depends on where it runs, such as the user's data dir)."""
    return None if field.default is MISSING else field.default
