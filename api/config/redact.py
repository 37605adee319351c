"""The effective config as the admin API shows it: plain JSON data, every secret replaced."""

from __future__ import annotations

from dataclasses import Field, fields, is_dataclass
from typing import Any

from api.config.schema import setting_of
from api.config.settings import Config

REDACTED = "<redacted>"


def redacted(config: Config) -> dict:
    """`config` as JSON-ready data (paths as text, tuples as lists) with the keys declared `secret` replaced:
    a key by "<redacted>" ("" when not set), a table of them (a provider's headers) value by value."""
    return {part.name: _plain(getattr(config, part.name)) for part in fields(config) if part.name != "stamp"}


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return {part.name: (_hidden if _secret(part) else _plain)(getattr(value, part.name)) for part in fields(value)}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _secret(part: Field) -> bool:
    described = setting_of(part)
    return described is not None and described.secret


def _hidden(value: Any) -> Any:
    if isinstance(value, str):
        return REDACTED if value else ""
    if isinstance(value, dict):
        return dict.fromkeys(value, REDACTED)
    return _plain(value)
