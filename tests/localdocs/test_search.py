"""A worker's Searcher (api/localdocs/search.py) over an index the real indexer wrote from real files: it follows
the indexer's changes, answers at once from the copy it holds while a large collection loads again, and waits out
an index of an older version instead of failing."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from api.config.settings import load_config
from api.localdocs import index, search
from api.localdocs.indexer import Indexer

CONFIG = """
[server]
api_key = "server-key-0123456789"
data_dir = "{data}"

[collections.notes]
paths = ["{notes}"]
"""


@pytest.fixture
def indexed(tmp_path) -> tuple[Indexer, Path]:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "kites.md").write_text("# Kites\n\nA kite needs a tail to fly steadily in gusty wind.\n")
    (notes / "boats.txt").write_text("Sailing boats tack against the wind.\n")
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data", notes=notes))
    indexer = Indexer(config)
    indexer.sync_config()
    indexer.rescan_all()
    return indexer, notes


def _found(searcher: search.Searcher, indexer: Indexer, query: str) -> list[tuple[str, str]]:
    """(file name, text) of each hit, best first (vectors rank every chunk, so the unrelated ones come last)."""
    config = load_config(indexer.config_path)
    return [(Path(hit.path).name, hit.text)
            for hit in searcher.search_now(query, list(config.collections.values()), config, 5)]


def test_a_search_sees_each_change_of_the_indexer_at_once(indexed):
    indexer, notes = indexed
    searcher = search.Searcher(indexer.config.server.data_dir)
    assert _found(searcher, indexer, "kite tails")[0][0] == "kites.md"
    assert "tack" in _found(searcher, indexer, "tack against")[0][1]
    (notes / "boats.txt").write_text("Boats with a spinnaker run before the wind.\n")
    indexer.index_file(indexer.collections["notes"], notes / "boats.txt")
    assert _found(searcher, indexer, "spinnaker")[0] == ("boats.txt", "Boats with a spinnaker run before the wind.")
    assert not any("tack" in text for _, text in _found(searcher, indexer, "tack against"))  # gone with its chunk


def test_a_large_collection_answers_from_its_copy_while_it_loads_again(indexed, monkeypatch):
    indexer, notes = indexed
    monkeypatch.setattr(search, "LOAD_BEHIND_CHUNKS", 0)  # every collection counts as large
    searcher = search.Searcher(indexer.config.server.data_dir)
    assert "tack" in _found(searcher, indexer, "tack against")[0][1]
    (notes / "boats.txt").write_text("Boats with a spinnaker run before the wind.\n")
    indexer.index_file(indexer.collections["notes"], notes / "boats.txt")
    first = _found(searcher, indexer, "spinnaker")  # answered at once by the copy held, which loads again
    assert first and not any("spinnaker" in text for _, text in first)
    deadline = time.monotonic() + 5
    while "spinnaker" not in _found(searcher, indexer, "spinnaker")[0][1]:
        assert time.monotonic() < deadline, "the new text was never found"
        time.sleep(0.05)
    searcher.close()


def test_an_index_of_an_older_version_is_waited_out_then_redone(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    old = sqlite3.connect(data / index.FILE_NAME)  # version 1 kept BM25 in FTS5, with no term columns
    old.executescript("""
        CREATE TABLE collections (name TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL,
                                  generation INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE chunks (id INTEGER PRIMARY KEY, collection TEXT, path TEXT, text TEXT, vector BLOB);
        CREATE VIRTUAL TABLE chunks_fts USING fts5 (text, content='chunks', content_rowid='id');
        INSERT INTO collections VALUES ('notes', 'old', 'ready', 3);
        INSERT INTO chunks (collection, path, text) VALUES ('notes', '/gone.md', 'stale kite text');
    """)
    old.commit()
    old.close()
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "kites.md").write_text("A kite needs a tail.\n")
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=data, notes=notes))
    searcher = search.Searcher(data)
    settings = load_config(config)
    assert searcher.search_now("kite", list(settings.collections.values()), settings, 5) == []  # no error
    indexer = Indexer(config)
    indexer.sync_config()
    indexer.rescan_all()
    assert [hit.text for hit in searcher.search_now("kite", list(settings.collections.values()), settings, 5)] == [
        "A kite needs a tail."]
    tables = {row[0] for row in indexer.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not any(name.startswith("chunks_fts") for name in tables)
