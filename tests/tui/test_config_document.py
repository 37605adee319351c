"""ConfigDocument: edits keep the user's file as written, saves are validated, checked and atomic."""

from __future__ import annotations

import os
import stat
import tomllib

import pytest

from api.config.settings import ConfigError, load_config
from tests.gateway import ROOT
from tui.config_document import ConfigDocument, SaveConflict

EXAMPLE = (ROOT / "config.example.toml").read_text().replace("change-me-please", "0123456789abcdef")  # refused as a key

HAND_WRITTEN = """\
# my gateway, by hand
[server]
api_key = "0123456789abcdef"  # keep it secret
port = 8000

[providers.work]   # the office proxy
type = "openai"
base_url = "http://proxy.example/v1"

[providers.work.headers]
X-Team = "gateway"

# clients before the other providers
[clients.x]
model = "work:gpt"

# home comes last
[providers.home]
type = "ollama"

[providers]
inline = { type = "ollama", base_url = "http://127.0.0.1:11435" }

# the end
"""


@pytest.fixture
def config_file(tmp_path):
    def write(text: str = EXAMPLE, mode: int = 0o600):
        path = tmp_path / "config.toml"
        path.write_text(text)
        path.chmod(mode)
        return path
    return write


def test_an_edit_keeps_every_comment_and_the_order(config_file):
    path = config_file()
    document = ConfigDocument.load(path)
    document.set("clients.tui.temperature", 0.9)
    document.set("server.port", 9000)
    document.save()
    expected = EXAMPLE.replace("port = 8642", "port = 9000").replace("temperature = 0.7", "temperature = 0.9")
    assert path.read_text() == expected


def test_a_key_cleared_and_given_again_stays_in_its_place(config_file):
    """What a field emptied (ctrl+u) and typed into again does: the key and its comment stay put."""
    path = config_file()
    document = ConfigDocument.load(path)
    document.set("server.port", None)
    assert "\nport = " not in document.text()
    document.set("server.port", 9000)
    document.save()
    assert path.read_text() == EXAMPLE.replace("port = 8642", "port = 9000")


def test_values_keep_their_types(config_file):
    document = ConfigDocument.load(config_file(HAND_WRITTEN))
    document.set("clients.x.temperature", 0.7)
    document.set("clients.x.max_tokens", 256)
    document.set("clients.x.collections", ["docs", "notes"])
    document.set("providers.home.headers", {"X-Home": "yes"})
    document.set("server.api_key", "another-key-123")
    document.set("activity.enabled", False)
    text = document.text()
    assert "temperature = 0.7\n" in text and "max_tokens = 256\n" in text
    assert 'api_key = "another-key-123"  # keep it secret' in text  # the comment on the line stays
    data = tomllib.loads(text)
    assert data["clients"]["x"] == {"model": "work:gpt", "temperature": 0.7, "max_tokens": 256,
                                    "collections": ["docs", "notes"]}
    assert data["providers"]["home"]["headers"] == {"X-Home": "yes"}
    assert data["activity"]["enabled"] is False
    assert document.get("clients.x.temperature") == 0.7
    assert document.get("providers.work") == {"type": "openai", "base_url": "http://proxy.example/v1",
                                              "headers": {"X-Team": "gateway"}}
    assert document.get("providers.nowhere.type", "none") == "none"
    assert document.names("providers") == ["work", "home", "inline"]


def test_a_new_key_goes_after_the_last_key_not_under_the_next_comment(config_file):
    document = ConfigDocument.load(config_file())
    document.set("providers.ollama.api_key_env", "OLLAMA_KEY")
    assert ('base_url = "http://127.0.0.1:11434"\napi_key_env = "OLLAMA_KEY"\n\n# Routes: a model id'
            in document.text())


def test_a_new_provider_is_a_table_after_the_other_providers(config_file):
    path = config_file()
    document = ConfigDocument.load(path)
    document.set("providers.lan.type", "openai")
    document.set("providers.lan.base_url", "http://127.0.0.1:1234/v1")
    text = document.text()
    new = '[providers.lan]\ntype = "openai"\nbase_url = "http://127.0.0.1:1234/v1"\n'
    assert text.count("[providers.lan]") == 1 and "[providers]" not in text
    assert text.index("[providers.ollama]") < text.index(new) < text.index("# Activity: one record")
    assert "read by /admin/activity and the TUI.\n[activity]" in text  # its comment still heads [activity]
    document.save()
    assert list(load_config(path, environ={}).providers) == ["local", "openai", "anthropic", "ollama", "lan"]


def test_a_new_table_in_a_hand_written_layout(config_file):
    path = config_file(HAND_WRITTEN)
    document = ConfigDocument.load(path)
    document.set("providers.extra.type", "ollama")
    document.set("clients.my.app.model", "home:llama")  # a name with a dot
    document.set("tui.theme", "nord")
    text = document.text()
    assert text.index("[providers.home]") < text.index("[providers.extra]") < text.index("[providers]\n")
    assert text.index("[clients.x]") < text.index('[clients."my.app"]') < text.index("# home comes last")
    assert text.endswith('inline = { type = "ollama", base_url = "http://127.0.0.1:11435" }\n\n'
                         '[tui]\ntheme = "nord"\n\n# the end\n')
    assert document.get("clients.my.app.model") == "home:llama"
    document.save()
    config = load_config(path, environ={})
    assert list(config.providers) == ["work", "home", "extra", "inline"]
    assert config.clients["my.app"].model == "home:llama" and config.tui.theme == "nord"


def test_delete_a_table_keeps_the_comments_of_the_next_one(config_file):
    document = ConfigDocument.load(config_file())
    document.delete("providers.anthropic")
    document.delete("clients.tui.temperature")
    document.delete("clients.nobody")  # not there: nothing to do
    text = document.text()
    assert "anthropic" not in tomllib.loads(text)["providers"] and "[providers.anthropic]" not in text
    assert "# A local Ollama (https://ollama.com); its models are discovered while it runs.\n[providers.ollama]" in text
    assert "temperature" not in tomllib.loads(text)["clients"]["tui"]
    document.delete("providers.work")
    assert document.text() == text


def test_delete_a_table_with_a_sub_table(config_file):
    document = ConfigDocument.load(config_file(HAND_WRITTEN))
    document.delete("providers.work")
    assert document.text() == HAND_WRITTEN.replace(
        '[providers.work]   # the office proxy\ntype = "openai"\nbase_url = "http://proxy.example/v1"\n\n'
        '[providers.work.headers]\nX-Team = "gateway"\n\n', "")


def test_rename_keeps_content_place_and_comments(config_file):
    document = ConfigDocument.load(config_file(HAND_WRITTEN))
    document.rename("providers.work", "office")
    document.rename("providers.inline", "spare")
    expected = (HAND_WRITTEN.replace("[providers.work", "[providers.office")
                .replace("inline = {", "spare = {"))
    assert document.text() == expected
    assert document.names("providers") == ["office", "home", "spare"]
    with pytest.raises(ValueError, match="already has a 'home'"):
        document.rename("providers.office", "home")
    with pytest.raises(KeyError):
        document.rename("providers.nowhere", "somewhere")
    assert document.text() == expected


def test_a_failed_edit_changes_nothing(config_file):
    document = ConfigDocument.load(config_file())
    with pytest.raises(TypeError, match="server.port is a value"):
        document.set("server.port.number", 1)
    assert document.text() == EXAMPLE


def test_an_invalid_document_is_not_saved(config_file):
    path = config_file()
    before = path.read_bytes()
    document = ConfigDocument.load(path)
    document.set("server.port", 70000)
    document.set("providers.openai.base_url", "api.openai.com")
    problems = dict(document.problems())
    assert problems["server.port"] == "must be between 1 and 65535, not 70000"
    assert problems["providers.openai.base_url"].startswith("not a URL")
    with pytest.raises(ConfigError) as caught:
        document.save()
    assert [key for key, _ in caught.value.problems] == ["server.port", "providers.openai.base_url"]
    assert path.read_bytes() == before
    document.set("server.port", 8643)
    document.set("providers.openai.base_url", "https://api.openai.com/v1")
    assert document.problems() == []


def test_a_file_changed_meanwhile_is_not_overwritten(config_file):
    path = config_file()
    document = ConfigDocument.load(path)
    document.set("server.port", 9000)
    path.write_text(EXAMPLE.replace("workers = 1", "workers = 2"))
    with pytest.raises(SaveConflict):
        document.save()
    assert "workers = 2" in path.read_text() and "port = 8642" in path.read_text()
    document.reload()
    assert document.get("server.workers") == 2 and document.get("server.port") == 8642


@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_save_replaces_the_file_atomically_with_its_permissions(config_file, tmp_path, mode):
    path = config_file(mode=mode)
    inode = os.stat(path).st_ino
    document = ConfigDocument.load(path)
    document.set("clients.tui.temperature", 0.5)
    document.save()
    assert os.stat(path).st_ino != inode  # a new file renamed over the old one, not rewritten in place
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert sorted(os.listdir(tmp_path)) == ["config.toml"]  # no temporary file left behind
    document.set("clients.tui.temperature", 0.6)
    document.save()  # the document knows its own save: no conflict
    assert load_config(path, environ={}).clients["tui"].temperature == 0.6


def test_save_through_a_symlink_keeps_the_link(config_file, tmp_path):
    target = config_file()
    link = tmp_path / "link.toml"
    link.symlink_to(target)
    document = ConfigDocument.load(link)
    document.set("server.port", 9000)
    document.save()
    assert link.is_symlink() and load_config(target, environ={}).server.port == 9000


def test_save_reports_what_changed_and_what_needs_a_restart(config_file):
    document = ConfigDocument.load(config_file())
    document.set("clients.tui.temperature", 0.3)
    result = document.save()
    assert result.changed == ["clients.tui.temperature"] and result.restart_needed == []
    document.set("server.port", 9000)
    document.set("tui.theme", "nord")
    result = document.save()
    assert result.changed == ["server.port", "tui.theme"] and result.restart_needed == ["server.port"]
    assert document.save().changed == []


def test_a_file_that_is_not_toml_cannot_be_loaded(config_file):
    with pytest.raises(ConfigError) as caught:
        ConfigDocument.load(config_file("[server\n"))
    [(key_path, message)] = caught.value.problems
    assert key_path == "" and message.startswith("not valid TOML")


def test_renaming_a_provider_renames_its_model_ids_elsewhere_in_the_file(config_file):
    document = ConfigDocument.load(config_file(USES))
    document.rename("providers.a", "z")
    assert document.rename_provider_uses("a", "z") == ["routes.r.targets", "clients.c.model",
                                                       "collections.notes.embedding_model"]
    assert document.get("routes.r.targets") == ["z:x", "ab:y"]  # another provider whose id begins alike stays
    assert document.get("clients.c.model") == "z:x" and document.get("clients.d.model") == "ab:y"
    assert document.get("collections.notes.embedding_model") == "z:embed"
    assert document.problems() == []


USES = """[server]
api_key = "0123456789abcdef"

[providers.a]
type = "openai"

[providers.ab]
type = "openai"

[routes.r]
targets = ["a:x", "ab:y"]

[clients.c]
model = "a:x"

[clients.d]
model = "ab:y"

[collections.notes]
paths = ["."]
embedding_model = "a:embed"
"""
