"""Embedders: text to vectors (float32, L2-normalised) for LocalDocs.

The default needs no network and no model hub: WordLlama's `l2_supercat` token embeddings (MIT, Lee Miller;
16 MB, inside the `wordllama` wheel), mean-pooled — about 50,000 short texts a second on one core here. Its
loader would look for the files in a cache and download them from Hugging Face; this module reads the ones
the package ships instead, so nothing is ever fetched. Any model that serves `/v1/embeddings` through Gatehouse
can be chosen per collection (`embedding_model`).
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol

import numpy as np
import orjson

from api.config.settings import Config

DEFAULT_NAME = "wordllama-l2-supercat-256"
GATEWAY_TIMEOUT_S = 300.0
"""Longest wait for an embedding model's answer (a local model may be loading)."""


class Embedder(Protocol):
    name: str
    """Stored with the vectors: another name re-embeds the collection."""
    dimensions: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32, shape (len(texts), dimensions), each row of length 1 (or 0 for an empty text)."""
        ...


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


class WordLlamaEmbedder:
    """The built-in embedder, loaded from the installed `wordllama` package's own files."""

    name = DEFAULT_NAME
    dimensions = 256

    def __init__(self) -> None:
        # wordllama.inference calls logging.basicConfig(level=INFO) on import: the root logger is put back after.
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            import wordllama
            from wordllama.inference import WordLlamaInference
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
        from safetensors import safe_open
        from tokenizers import Tokenizer

        package = Path(wordllama.__file__).parent
        tokenizer = Tokenizer.from_file(str(package / "tokenizers" / "l2_supercat_tokenizer_config.json"))
        with safe_open(str(package / "weights" / "l2_supercat_256.safetensors"), framework="np", device="cpu") as f:
            weights = f.get_tensor("embedding.weight")
        self._model = WordLlamaInference(weights, tokenizer)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return _normalised(self._model.embed(texts, norm=False))


_default: WordLlamaEmbedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> Embedder:
    """The built-in embedder, loaded once per process."""
    global _default
    with _default_lock:
        if _default is None:
            _default = WordLlamaEmbedder()
        return _default


INDEXER_CLIENT = "localdocs"
"""The client the indexer's embedding requests count as (its limits and budget, if `[clients.localdocs]` has any)."""


class GatewayEmbedder:
    """A model that serves `/v1/embeddings` through this Gatehouse (a local GGUF, Ollama, OpenAI, ...), asked over
    HTTP with the server key as any client would, whatever provider serves it; the requests count as `client`
    (its limits, budget and activity: a search's query vector is the searching client's)."""

    def __init__(self, model: str, config: Config, client: str = INDEXER_CLIENT) -> None:
        self.name = model
        self.client = client
        self.dimensions = 0
        """Known from the first answer."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(config.server.host, config.server.host)
        self._url = f"http://{f'[{host}]' if ':' in host else host}:{config.server.port}/v1/embeddings"
        self._key = config.server.api_key

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        request = urllib.request.Request(self._url, data=orjson.dumps({"model": self.name, "input": texts}),
                                         headers={"content-type": "application/json",
                                                  "authorization": f"Bearer {self._key}",
                                                  "x-client-id": self.client})
        try:
            with urllib.request.urlopen(request, timeout=GATEWAY_TIMEOUT_S) as response:
                answer = orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"embedding model '{self.name}' answered {exc.code}: "
                               f"{exc.read()[:300].decode('utf-8', 'replace')}") from None
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"embedding model '{self.name}' could not be asked: {exc}") from None
        rows = sorted(answer["data"], key=lambda item: item["index"])
        vectors = _normalised(np.asarray([row["embedding"] for row in rows], dtype=np.float32))
        self.dimensions = vectors.shape[1]
        return vectors


def embedder_for(model: str | None, config: Config, client: str = INDEXER_CLIENT) -> Embedder:
    """The embedder a collection's `embedding_model` names, asking as `client`: the built-in one when it is None."""
    return default_embedder() if model is None else GatewayEmbedder(model, config, client)
