"""api/localdocs/embedding.py: the default embedder loads from the installed `wordllama` package alone (no socket
is ever opened, not even a DNS look-up), once per process, and gives float32 unit rows of the stated width,
the same for the same text."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import numpy as np
import pytest

from api.localdocs import embedding
from api.localdocs.embedding import DEFAULT_NAME, WordLlamaEmbedder, default_embedder

TEXTS = ["The boundary layer on a flat plate in supersonic flow.",
         "How to bake sourdough bread at home",
         "héllo wörld — ünïcode, emoji 🚀 and CJK 漢字",
         "x" * 20_000]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Any attempt to reach the network fails the test (and is recorded, should a caller swallow the error)."""
    attempts: list[str] = []

    def refuse(what: str):
        def refused(*args, **kwargs):
            attempts.append(f"{what}{args[1:] if what == 'connect' else args[:2]}")
            raise AssertionError(f"network attempt: {what} {args!r}")
        return refused

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    return attempts


def test_loads_and_embeds_with_no_network_attempt(no_network: list[str]):
    embedder = WordLlamaEmbedder()  # a fresh load, not the process's cached one
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), embedder.dimensions)
    assert no_network == []


def test_the_default_is_loaded_once_per_process_even_from_many_threads(monkeypatch: pytest.MonkeyPatch,
                                                                      no_network: list[str]):
    monkeypatch.setattr(embedding, "_default", None)
    loads = []
    original = WordLlamaEmbedder.__init__

    def counted(self: WordLlamaEmbedder) -> None:
        loads.append(1)
        original(self)

    monkeypatch.setattr(WordLlamaEmbedder, "__init__", counted)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(default_embedder())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len(got) == 8 and all(one is got[0] for one in got)
    assert default_embedder() is got[0]
    assert no_network == []


def test_rows_are_float32_unit_vectors_of_the_stated_width():
    embedder = default_embedder()
    assert embedder.name == DEFAULT_NAME and embedder.dimensions == 256
    vectors = embedder.embed(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(vectors).all()


def test_deterministic_and_independent_of_the_batch():
    embedder = default_embedder()
    alone = np.vstack([embedder.embed([text]) for text in TEXTS])
    together = embedder.embed(TEXTS)
    again = embedder.embed(list(reversed(TEXTS)))[::-1]
    assert np.allclose(alone, together, atol=1e-5)
    assert np.array_equal(together, again) or np.allclose(together, again, atol=1e-6)


def test_nothing_in_gives_an_empty_matrix_and_an_empty_text_a_zero_row():
    embedder = default_embedder()
    empty = embedder.embed([])
    assert empty.shape == (0, 256) and empty.dtype == np.float32
    rows = embedder.embed(["", "wing"])
    assert rows.shape == (2, 256) and np.isfinite(rows).all()
    assert np.linalg.norm(rows[0]) == 0.0 and np.linalg.norm(rows[1]) == pytest.approx(1.0, abs=1e-5)


def test_similar_texts_are_nearer_than_unrelated_ones():
    a, b, c = default_embedder().embed(["supersonic flow over a swept wing", "airflow around wings at mach 2",
                                        "a recipe for chocolate cake"])
    assert float(a @ b) > float(a @ c)


def test_loading_leaves_the_root_logger_as_it_was():
    """wordllama's inference module calls logging.basicConfig(level=INFO) when imported."""
    code = ("import logging; r = logging.getLogger(); before = (list(r.handlers), r.level)\n"
            "from api.localdocs.embedding import WordLlamaEmbedder; WordLlamaEmbedder().embed(['x'])\n"
            "print((list(r.handlers), r.level) == before)")
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "True", answer.stderr
