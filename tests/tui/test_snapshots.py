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


MODELS = [{"id": "local:gemma", "provider_type": "llamacpp", "size_bytes": 253113024},
          {"id": "local:qwen3-coder", "provider_type": "llamacpp", "size_bytes": 1_100_000_000},
          {"id": "ollama:llama3.2:latest", "provider_type": "ollama"},
          {"id": "openai:gpt-4.1-mini", "provider_type": "openai"},
          {"id": "anthropic:claude-sonnet-4-5", "provider_type": "anthropic"}]
LOADED = [{"model": "local:gemma", "provider": "local", "embedding": False, "pid": 4242, "memory_mb": 359.1,
           "state": "ready", "active": 0, "requests": 12, "tokens_per_s": 48.6, "pinned": True, "expires_at": None,
           "loaded_at": "2026-12-04T21:00:00+00:00", "prompt_progress": []},
          {"model": "local:qwen3-coder", "provider": "local", "embedding": False, "pid": 4250, "memory_mb": 1210.0,
           "state": "ready", "active": 1, "requests": 3, "tokens_per_s": 9.4, "pinned": False, "expires_at": None,
           "loaded_at": "2026-12-04T21:02:00+00:00", "prompt_progress": [{"processed": 8192, "total": 19000}]},
          {"model": "ollama:llama3.2:latest", "provider": "ollama", "embedding": False, "pid": None,
           "memory_mb": 2900.0, "state": "ready", "active": 0, "requests": 1, "tokens_per_s": 22.0, "pinned": False,
           "expires_at": "2026-12-04T21:09:30+00:00", "loaded_at": None}]
CRASHES = [{"model": "local:gemma", "embedding": False, "at": "2026-12-04T21:04:00+00:00",
            "how": "was killed by SIGKILL", "pid": 4200, "restarts": 1}]


@pytest.mark.parametrize("theme", THEMES)
def test_models_tab(snap_compare, still_app, monkeypatch, theme):
    """Tab 6 with loaded local and Ollama models, a long prompt read, cloud models and a crash (fixed content
    and a fixed clock: no server answers)."""
    import time
    from datetime import datetime

    from tui.tabs.models import ModelsTab
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()

    async def no_server() -> None:  # showing the tab reads the server: none answers here, at its own pace
        pass
    monkeypatch.setattr(ModelsTab, "refresh_models", lambda _tab: no_server())

    async def fill(pilot) -> None:
        await pilot.press("6")
        tab = pilot.app.query_one(ModelsTab)
        tab.now = lambda: datetime.fromisoformat("2026-12-04T21:05:00+00:00").timestamp()
        tab.show(MODELS, LOADED)
        tab.show_crashes(CRASHES)
        await pilot.pause()
    try:
        assert snap_compare(still_app(theme), press=["_"], terminal_size=(80, 24), run_before=fill)
    finally:
        monkeypatch.undo()
        time.tzset()
