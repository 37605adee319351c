"""Where Gatehouse keeps its files: config path resolution and XDG directories."""

from __future__ import annotations

import os
from pathlib import Path

APP = "gatehouse"
CONFIG_ENV = "GATEHOUSE_CONFIG"
LOG_REQUESTS_ENV = "GATEHOUSE_LOG_REQUESTS"
"""Set to 1 (headless mode does) to have the server print one line per API request."""


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else Path.home() / fallback


def user_config_path() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / APP / "config.toml"


def default_data_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / APP


def model_cache_dir() -> Path:
    """Where GGUF files written out by model packages are kept, shared by every config (a cache:
    deleting it costs only the time to write them again)."""
    return _xdg("XDG_CACHE_HOME", ".cache") / APP / "models"


def resolve_config_path(explicit: str | None) -> Path:
    """`--config`, else $GATEHOUSE_CONFIG, else ./config.toml if present, else the user config dir."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser().resolve()
    local = Path("config.toml")
    if local.is_file():
        return local.resolve()
    return user_config_path()


def example_config_path() -> Path:
    """config.example.toml: inside the installed package, or at the top of a source checkout."""
    packaged = Path(__file__).with_name("config.example.toml")
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "config.example.toml"
