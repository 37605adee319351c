"""Each config key declared once (api/config/schema.py): what is derived from the declarations agrees with them,
and config.example.toml documents every key."""

from __future__ import annotations

import json
import re
from dataclasses import is_dataclass

import pytest

from api.config import settings
from api.config.redact import REDACTED, redacted
from api.config.schema import FORM_KINDS, declared
from api.config.settings import RESTART_KEYS, ConfigError, example_config_text, parse_config
from tui import config_fields

TABLES = {
    settings.ServerSettings: "server",
    settings.ProviderSettings: "providers.ID",
    settings.LocalSettings: "providers.ID",  # a llamacpp provider's keys, beside its type
    settings.LocalModelSettings: "providers.ID.models.NAME",
    settings.PromptSettings: "prompts.NAME",
    settings.ClientSettings: "clients.NAME",
    settings.BudgetSettings: "clients.NAME.budget",
    settings.CollectionSettings: "collections.NAME",
    settings.RouteSettings: "routes.NAME",
    settings.ActivitySettings: "activity",
    settings.TuiSettings: "tui",
}
"""Each settings class and the table whose keys it declares."""


def declared_paths(which) -> list[str]:
    """Key paths of the declared keys whose declaration passes `which`."""
    return [f"{table}.{field.name}" for settings_class, table in TABLES.items()
            for field, described in declared(settings_class) if which(described)]


def test_every_settings_class_is_known_here():
    found = {value for value in vars(settings).values()
             if isinstance(value, type) and is_dataclass(value) and declared(value)}
    assert found == set(TABLES)


EXAMPLE_PARTS = {
    settings.ServerSettings: "[server]",
    settings.ProviderSettings: "# Providers: one table per upstream",
    settings.LocalSettings: "# Local models, run in-process",
    settings.LocalModelSettings: "# One table per model",
    None: "[providers.openai]",  # examples of providers, nothing more to document
    settings.RouteSettings: "# Routes:",
    settings.ActivitySettings: "[activity]",
    settings.PromptSettings: "# Prompts:",
    settings.ClientSettings: "# Clients:",
    settings.BudgetSettings: "#     amount     how much per period",
    settings.CollectionSettings: "# LocalDocs:",
    settings.TuiSettings: "[tui]",
}
"""Where config.example.toml documents each table: from this line up to the next part."""


def example_parts() -> dict[type, str]:
    text = example_config_text()
    starts = sorted((text.index(line), settings_class) for settings_class, line in EXAMPLE_PARTS.items())
    ends = [start for start, _ in starts[1:]] + [len(text)]
    return {settings_class: text[start:end] for (start, settings_class), end in zip(starts, ends, strict=True)
            if settings_class is not None}


def documents(part: str, key: str) -> bool:
    """Whether a part of the example sets the key (`key = ...`), shows it commented out (`# key = ...`) or lists
    it with what it does (`#   key   what it does`)."""
    return re.search(rf"^#?[ \t]*{re.escape(key)}(?:[ \t]*=|[ \t]{{2,}}\S)", part, re.MULTILINE) is not None


def test_the_example_config_documents_every_key():
    parts = example_parts()
    undocumented = [f"{TABLES[settings_class]}.{field.name}" for settings_class in TABLES
                    for field, _ in declared(settings_class) if not documents(parts[settings_class], field.name)]
    assert undocumented == []


def test_a_key_missing_from_the_example_is_noticed():
    server = example_parts()[settings.ServerSettings]
    assert documents(server, "workers") and documents("# workers = 1\n", "workers")
    assert not documents(server.replace("workers = 1", ""), "workers")
    assert not documents("# Worker processes (Granian).\n", "workers")


def known_keys(data: dict, table: str) -> list[str]:
    """The keys the server knows in a table: those it lists when a key it cannot place is in it."""
    with pytest.raises(ConfigError) as caught:
        parse_config({"server": {"api_key": "0123456789"}} | data, path=None, environ={})
    [message] = [message for key_path, message in caught.value.problems if key_path == f"{table}.zzzzzz"]
    return message.removeprefix("unknown key; known keys: ").split(", ")


UNKNOWN = {"zzzzzz": 1}


@pytest.mark.parametrize("form, data, table, in_the_file_only", [
    (config_fields.SERVER, {"server": {"api_key": "0123456789"} | UNKNOWN}, "server", []),
    (config_fields.PROVIDER, {"providers": {"x": {"type": "openai"} | UNKNOWN}}, "providers.x",
     ["headers", "num_ctx_models", "prices"]),
    (config_fields.LOCAL_PROVIDER, {"providers": {"x": {"type": "llamacpp", "models_dir": "/m"} | UNKNOWN}},
     "providers.x", ["models"]),
    (config_fields.LOCAL_MODEL,
     {"providers": {"x": {"type": "llamacpp", "models": {"m": {"path": "/m.gguf"} | UNKNOWN}}}},
     "providers.x.models.m", []),
    (config_fields.PROMPT, {"prompts": {"p": {"text": "Be brief."} | UNKNOWN}}, "prompts.p", []),
    (config_fields.client_fields(["p"]), {"clients": {"c": UNKNOWN}}, "clients.c", ["budget"]),
    (config_fields.ROUTE, {"routes": {"r": {"targets": ["a:b"]} | UNKNOWN}}, "routes.r", []),
    (config_fields.ACTIVITY, {"activity": UNKNOWN}, "activity", []),
    (config_fields.tui_fields(["gatehouse-dark"]), {"tui": UNKNOWN}, "tui", []),
], ids=["server", "provider", "llamacpp provider", "local model", "prompt", "client", "route", "activity", "tui"])
def test_each_form_offers_exactly_the_keys_the_server_knows(form, data, table, in_the_file_only):
    known = known_keys(data, table)
    assert [field.key for field in form] == [key for key in known if key not in in_the_file_only]
    assert all(field.help and field.kind in FORM_KINDS for field in form)


def test_restart_keys_are_the_declared_ones():
    assert RESTART_KEYS == ("server.host", "server.port", "server.workers", "server.data_dir", "server.metrics_port",
                            "server.metrics_host")
    assert declared_paths(lambda described: described.restart) == list(RESTART_KEYS)


def test_secrets_are_declared_and_never_shown():
    assert declared_paths(lambda described: described.secret) == [
        "server.api_key", "providers.ID.api_key", "providers.ID.headers", "clients.NAME.api_key"]
    config = parse_config({
        "server": {"api_key": "SERVER-SECRET-1"},
        "providers": {"x": {"type": "openai", "api_key": "PROVIDER-SECRET-2",
                            "headers": {"Authorization": "Bearer HEADER-SECRET-3"}},
                      "y": {"type": "openai", "api_key_env": "Y_KEY"}},
        "clients": {"c": {"api_key": "CLIENT-SECRET-4", "temperature": 1}, "d": {"model": "x:m"}},
    }, path=None, environ={})
    shown = redacted(config)
    assert shown["server"]["api_key"] == REDACTED and shown["clients"]["c"]["api_key"] == REDACTED
    assert shown["providers"]["x"]["api_key"] == REDACTED
    assert shown["providers"]["x"]["headers"] == {"Authorization": REDACTED}
    assert shown["providers"]["y"]["api_key"] == "" and shown["clients"]["d"]["api_key"] == ""  # not set
    assert shown["providers"]["y"]["api_key_env"] == "Y_KEY" and shown["clients"]["c"]["temperature"] == 1
    assert "stamp" not in shown and isinstance(shown["server"]["data_dir"], str)
    for text in (json.dumps(shown), repr(config)):
        assert "SECRET" not in text
