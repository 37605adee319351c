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


def _record(number: int, client: str, model: str, status: int, cost: float | None, **fields) -> dict:
    return {"id": number, "request_id": f"req-{number}", "time": f"2026-12-04T21:0{number}:00+00:00",
            "ts": 1796418000.0 + 60 * number, "client": client,
            "model": model, "path": "/v1/chat/completions", "status": status, "error": None, "latency_ms": 840.0,
            "input_tokens": 1200, "output_tokens": 310, "total_tokens": 1510, "tokens_estimated": False,
            "cost": cost, "limited": None, "tool": None, **fields}


RECORDS = [_record(1, "writer", "openai:gpt-4.1-mini", 200, 0.00072),
           _record(2, "ci", "anthropic:claude-sonnet-4-5", 200, 0.0081),
           _record(3, "ci", "local:gemma", 200, 0.0),
           _record(4, "ci", "anthropic:claude-sonnet-4-5", 429, None, limited="rpm", latency_ms=1.0,
                   input_tokens=None, output_tokens=None, total_tokens=None),
           _record(5, "tools", "route:smart", 200, 0.0123, route="smart")]
LIMITS = [{"client": "ci", "rpm": {"limit": 60, "remaining": 0, "reset_s": 0.9}, "tpm": None,
           "max_concurrent": {"limit": 4, "in_flight": 1},
           "budget": {"amount": 5.0, "currency": "usd", "period": "month", "spent": 1.2345, "remaining": 3.7655,
                      "unpriced_requests": 0, "period_start": "2026-12-01T00:00:00+00:00",
                      "resets_at": "2027-01-01T00:00:00+00:00"}},
          {"client": "writer", "rpm": None, "tpm": {"limit": 40000, "remaining": 12300, "reset_s": 20.0},
           "max_concurrent": None,
           "budget": {"amount": 100000.0, "currency": "tokens", "period": "day", "spent": 61200.0,
                      "remaining": 38800.0, "unpriced_requests": 0, "period_start": "2026-12-04T00:00:00+00:00",
                      "resets_at": "2026-12-05T00:00:00+00:00"}}]


@pytest.mark.parametrize("theme", THEMES)
def test_activity_tab_with_costs_a_refusal_and_budgets(snap_compare, still_app, monkeypatch, theme):
    """Tab 3 at 80x24 with records (costs, a free local answer, a request refused by its client's rpm) and the
    spend of two clients against their budgets (fixed content: no server answers)."""
    from tui.tabs.activity import ActivityTab

    async def fill(pilot) -> None:
        await pilot.press("3")
        tab = pilot.app.query_one(ActivityTab)
        tab.pending.extend(RECORDS)
        tab.flush()
        tab.show_spends(LIMITS)
        await pilot.pause()
    assert snap_compare(still_app(theme), press=["_"], terminal_size=(80, 24), run_before=fill)


def test_server_tab_with_a_clients_limits(snap_compare, still_app):
    """Tab 2 at 80x24 showing a client's limits with what is left of each (fixed content)."""
    from tui.tabs.server import ServerTab

    async def fill(pilot) -> None:
        await pilot.press("2")
        pilot.app.query_one(ServerTab).show_limits("ci", "ci", LIMITS)
        await pilot.pause()
    assert snap_compare(still_app("gatehouse-dark"), press=["_"], terminal_size=(80, 24), run_before=fill)
