"""A `llamacpp` provider on a machine without llama-cpp-python: a clear 503, and nothing else breaks.

The server runs with `llama_cpp` made unimportable (a `sitecustomize` that puts None in sys.modules),
so this runs whether or not the extra is installed. The GGUF file is a header written here.
"""

from __future__ import annotations

import struct

import openai
import pytest

from tests.conftest import UPSTREAM_KEY, openai_sdk
from tests.gateway import SERVER_SECTION, start_gateway

CONFIG = SERVER_SECTION + """
[providers.local]
type = "llamacpp"
models_dir = "{models_dir}"

[providers.fake]
type = "openai"
base_url = "{upstream}/v1"
api_key = "{upstream_key}"
"""


def gguf_header(metadata: dict[str, object]) -> bytes:
    """A GGUF v3 file with no tensors and these string / uint32 keys."""
    def string(text: str) -> bytes:
        return struct.pack("<Q", len(text.encode())) + text.encode()
    body = b"".join(string(key) + (struct.pack("<I", 8) + string(value) if isinstance(value, str)
                                   else struct.pack("<II", 4, value)) for key, value in metadata.items())
    return b"GGUF" + struct.pack("<IQQ", 3, 0, len(metadata)) + body


@pytest.fixture(scope="module")
def bare_gateway(upstream, tmp_path_factory):
    directory = tmp_path_factory.mktemp("no-llama")
    (directory / "hide").mkdir()
    (directory / "hide" / "sitecustomize.py").write_text("import sys\nsys.modules['llama_cpp'] = None\n")
    (directory / "gguf").mkdir()
    (directory / "gguf" / "tiny.gguf").write_bytes(gguf_header({
        "general.architecture": "llama", "general.file_type": 15, "llama.context_length": 2048}))
    config = CONFIG.replace("{models_dir}", str(directory / "gguf"))
    config = config.replace("{upstream}", upstream).replace("{upstream_key}", UPSTREAM_KEY)
    server = start_gateway(config, directory, env={"PYTHONPATH": str(directory / "hide")})
    yield server
    log = server.stop()
    assert "provider 'local' needs llama-cpp-python" in log  # warned at start


def test_a_local_model_without_llama_cpp_is_a_clear_503(bare_gateway):
    gpt = openai_sdk(bare_gateway)
    listed = {model.id: model for model in gpt.models.list()}
    assert listed["local:tiny"].quantization == "Q4_K_M" and listed["local:tiny"].context_length == 2048
    with pytest.raises(openai.APIStatusError) as caught:
        gpt.chat.completions.create(model="local:tiny", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 503
    assert "provider 'local' needs llama-cpp-python: pip install 'gatehouse[local]'" in caught.value.message
    assert gpt.chat.completions.create(model="fake:gpt-fake", messages=[{"role": "user", "content": "hi"}]).choices
