"""Themes: the shipped files load, register in a Textual app and read well; broken files are reported and skipped."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.color import Color
from textual.theme import Theme
from textual.widgets import DataTable, Footer, Input, Select, Static, TabbedContent, Tree

from tui import config_fields, themes
from tui.themes import BUILTIN_THEMES_DIR, ThemeError, load_theme, load_themes
from tui.widgets.form import Form

SHIPPED = {"gatehouse-dark": True, "gatehouse-light": False, "gatehouse-contrast": True}
"""The shipped themes and whether each is dark."""
GOOD = 'name = "mine"\nprimary = "#336699"\n'


class WidgetsApp(App):
    """The widgets and the stylesheet of the Gatehouse UI, to have every theme variable they use resolved."""

    CSS_PATH = Path(themes.__file__).with_name("app.tcss")

    def compose(self) -> ComposeResult:
        with TabbedContent("one", "two"):
            yield Select([("a", "a")], value="a", allow_blank=False)
            yield Tree("tree")
            yield Input("text")
        yield DataTable(zebra_stripes=True)
        yield Footer()


def shipped() -> dict[str, Theme]:
    loaded, errors = load_themes(BUILTIN_THEMES_DIR)
    assert errors == []
    return {theme.name: theme for theme in loaded}


def contrast_ratio(one: Color, other: Color) -> float:
    """WCAG 2 contrast ratio: 1 (none) to 21 (black on white)."""
    def luminance(color: Color) -> float:
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in color.normalized)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    lighter, darker = sorted((luminance(one), luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_theme_files_have_the_keys_of_textual_themes():
    assert set(themes.KEY_TYPES) == {field.name for field in dataclasses.fields(Theme)}


async def test_every_shipped_theme_registers_and_applies_in_a_textual_app():
    loaded = shipped()
    assert set(loaded) == set(SHIPPED) and themes.DEFAULT_THEME in loaded
    app = WidgetsApp()
    async with app.run_test(size=(80, 24)) as pilot:
        for name, theme in loaded.items():
            app.register_theme(theme)
            app.theme = name
            await pilot.pause()
            assert app.current_theme is theme and app.has_class(f"-theme-{name}")
            assert app.has_class("-dark-mode") == theme.dark


def test_dark_and_light_flags():
    assert {name: theme.dark for name, theme in shipped().items()} == SHIPPED


@pytest.mark.parametrize("name", ["gatehouse-dark", "gatehouse-light"])
def test_text_is_readable_on_every_background(name):
    theme = shipped()[name]
    for background in (theme.background, theme.surface, theme.panel):
        assert contrast_ratio(Color.parse(theme.foreground), Color.parse(background)) >= 4.5, background


class FormApp(App):
    """One field of the Configuration tab's form (its value, then its help), in the Gatehouse stylesheet."""

    CSS_PATH = WidgetsApp.CSS_PATH

    def compose(self) -> ComposeResult:
        yield Form("server", config_fields.SERVER[:1], {"host": "127.0.0.1"})


@pytest.mark.parametrize("name", list(SHIPPED))
async def test_a_fields_value_and_its_help_are_told_apart(name):
    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.register_theme(shipped()[name])
        app.theme = name
        await pilot.pause()
        value = next(s.style for s in app.query_one(Input).render_line(0) if "127.0.0.1" in s.text)
        help_ = next(s.style for s in app.query_one(".field-help", Static).render_line(0) if s.text.strip())
        assert help_.color != value.color and not help_.dim
        if not shipped()[name].ansi:  # exact colours: the help still reads well on its background
            assert contrast_ratio(Color.from_rich_color(help_.color), Color.from_rich_color(help_.bgcolor)) >= 4.5


def test_contrast_theme_uses_only_the_16_ansi_colours():
    theme = shipped()["gatehouse-contrast"]
    data = tomllib.loads((BUILTIN_THEMES_DIR / "gatehouse-contrast.toml").read_text())
    assert theme.ansi and all(data[key].startswith("ansi_") for key in themes.COLOURS if key in data)
    # What Textual derives from the theme too: no colour outside the terminal's palette.
    for variable, value in theme.to_color_system().generate().items():
        if "style" not in variable:
            assert all(word.startswith("ansi_") or word == "transparent" or word.endswith("%")
                       for word in value.split()), (variable, value)


@pytest.mark.parametrize(("content", "problem"), [
    ('name = "mine\nprimary = "#336699"\n', "Illegal character"),
    (GOOD.replace("#336699", "#33669"), "'primary': failed to parse '#33669' as a color"),
    (GOOD + 'background = "darkish"\n', "'background': failed to parse 'darkish'"),
    (GOOD + 'colour = "#000000"\n', "unknown key 'colour'"),
    ('primary = "#336699"\n', "missing 'name'"),
    ('name = "mine"\n', "missing 'primary'"),
    (GOOD + "dark = 1\n", "'dark' has the wrong type (int)"),
    (GOOD + '[variables]\nborder = "blu"\n', "variable 'border': 'blu' is not a valid color value"),
    (GOOD + '[variables]\nblock-cursor-text-style = "fat"\n', "'fat' is not a valid text-style value"),
    (GOOD + "ansi = true\n", "an ansi theme needs the variables 'ansi-background' and 'ansi-foreground'"),
])
def test_a_broken_file_is_reported_and_skipped(tmp_path, content, problem):
    (tmp_path / "broken.toml").write_text(content)
    (tmp_path / "fine.toml").write_text(GOOD.replace("mine", "fine"))
    loaded, errors = load_themes(BUILTIN_THEMES_DIR, tmp_path)
    assert {theme.name for theme in loaded} == set(SHIPPED) | {"fine"}
    assert len(errors) == 1 and errors[0].startswith(f"theme file {tmp_path / 'broken.toml'}: ")
    assert problem in errors[0]
    with pytest.raises(ThemeError, match="broken.toml"):
        load_theme(tmp_path / "broken.toml")


def test_a_user_theme_overrides_the_builtin_of_the_same_name(tmp_path):
    text = (BUILTIN_THEMES_DIR / "gatehouse-dark.toml").read_text()
    (tmp_path / "my-dark.toml").write_text(text.replace('primary = "', 'primary = "#ff0000" # was "', 1))
    loaded, errors = load_themes(BUILTIN_THEMES_DIR, tmp_path, tmp_path / "missing")
    assert errors == [] and [theme.name for theme in loaded].count("gatehouse-dark") == 1
    assert {theme.name: theme for theme in loaded}["gatehouse-dark"].primary == "#ff0000"


def test_user_themes_live_in_the_config_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert themes.user_themes_dir() == tmp_path / "gatehouse" / "themes"
