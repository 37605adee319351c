"""Snapshots of every tab at 80x24 and 120x40 in a dark and a light theme.

The app is shown on the example config with no server answering (port 9), so what is on
screen depends on the code alone. Review a changed snapshot in the report pytest writes
(snapshot_report.html), then accept it with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import pytest

from api.config.settings import example_config_text
from tui.app import GatehouseApp

SIZES = [(80, 24), (120, 40)]
THEMES = ["gatehouse-dark", "gatehouse-light"]
TABS = {"1": "config", "2": "server", "3": "activity", "4": "playground", "5": "documents"}


class StillApp(GatehouseApp):
    """The app with no periodic refresh, so the picture does not depend on when it is taken."""

    REFRESH_S = 3600


@pytest.fixture
def still_app(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    config_path = tmp_path / "config.toml"
    config_path.write_text(example_config_text().replace("change-me-please", "snapshot-server-key"))

    def make(theme: str) -> GatehouseApp:
        app = StillApp("http://127.0.0.1:9", "snapshot-server-key", config_path=config_path,
                       user_themes=tmp_path / "themes")
        app.theme = theme
        return app
    return make


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("key", list(TABS), ids=list(TABS.values()))
def test_tab(snap_compare, still_app, key, theme, size):
    assert snap_compare(still_app(theme), press=[key, "_"], terminal_size=size)


def test_help_screen(snap_compare, still_app):
    assert snap_compare(still_app("gatehouse-dark"), press=["question_mark", "_"])
