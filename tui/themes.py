"""Themes are TOML data files turned into Textual `Theme` objects.

The built-in ones ship in `themes/`; a user adds or overrides themes in `user_themes_dir()`.
The format is described in docs/themes.md.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.css.stylesheet import Stylesheet, StylesheetParseError
from textual.css.tokenizer import TokenError
from textual.theme import Theme

from api.config.locations import user_config_path

DEFAULT_THEME = "gatehouse-dark"
COLOURS = ("primary", "secondary", "accent", "warning", "error", "success",
           "foreground", "background", "surface", "panel", "boost")
KEY_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str, "dark": bool, "ansi": bool, "luminosity_spread": (int, float), "text_alpha": (int, float),
    "variables": dict, **dict.fromkeys(COLOURS, str),
}
"""Every key a theme file may have (one per field of textual.theme.Theme) and the TOML type of its value."""
ANSI_VARIABLES = ("ansi-background", "ansi-foreground")
"""Textual derives these for other themes; a theme with `ansi = true` must set them."""


def _builtin_themes_dir() -> Path:
    """`builtin_themes` inside the installed package (a wheel), or `themes/` at the top of a source checkout."""
    packaged = Path(__file__).with_name("builtin_themes")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "themes"


BUILTIN_THEMES_DIR = _builtin_themes_dir()


class ThemeError(ValueError):
    """A theme file that cannot be used; the message names the file and the problem."""


def user_themes_dir() -> Path:
    return user_config_path().parent / "themes"


def _variable_problem(name: str, value: object) -> str | None:
    """Why a `[variables]` entry would break Textual's CSS, or None.

    Textual's variables are colours (`"#81a1c1 35%"`, `"auto 87%"`, `"ansi_blue"`) except those
    named `*style*`, which are text styles (`"bold reverse"`, `"none"`).
    """
    if not isinstance(value, str):
        return f"variable {name!r} must be a string"
    kind = "text-style" if "style" in name else "color"
    sheet = Stylesheet(variables={name: value})
    sheet.add_source(f"* {{ {kind}: ${name}; }}", read_from=("", name))
    try:
        sheet.parse()
    except (StylesheetParseError, TokenError):
        return f"variable {name!r}: {value!r} is not a valid {kind} value"
    return None


def _problem(data: dict) -> str | None:
    """What is wrong with a theme file's contents, or None."""
    for key, value in data.items():
        if key not in KEY_TYPES:
            return f"unknown key {key!r} (a theme has {', '.join(KEY_TYPES)})"
        if not isinstance(value, KEY_TYPES[key]):
            return f"{key!r} has the wrong type ({type(value).__name__})"
    for key in ("name", "primary"):
        if not data.get(key):
            return f"missing {key!r}"
    for key in [key for key in COLOURS if key in data]:
        try:
            Color.parse(data[key])
        except ColorParseError as error:
            return f"{key!r}: {error}"
    variables = data.get("variables", {})
    if data.get("ansi") and not all(name in variables for name in ANSI_VARIABLES):
        return "an ansi theme needs the variables 'ansi-background' and 'ansi-foreground' (Textual's CSS uses them)"
    for name, value in variables.items():
        if problem := _variable_problem(name, value):
            return problem
    return None


def load_theme(path: Path) -> Theme:
    """The theme in one TOML file; ThemeError names the file and what is wrong with it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ThemeError(f"theme file {path}: {error}") from error
    if problem := _problem(data):
        raise ThemeError(f"theme file {path}: {problem}")
    return Theme(**data)


def load_themes(*directories: Path) -> tuple[list[Theme], list[str]]:
    """The themes in every `*.toml` of the directories, and one message per file that was skipped.

    A theme in a later directory replaces one of the same name from an earlier directory.
    A directory that does not exist holds no themes.
    """
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    for directory in directories:
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme(path)
            except ThemeError as error:
                errors.append(str(error))
                continue
            themes[theme.name] = theme
    return list(themes.values()), errors
