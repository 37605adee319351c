"""The indexer (api/localdocs/indexer.py) on real folders and a real index file: what it keeps, skips, resumes and
reports. Driven through its own methods, as its process's loop drives them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import watchfiles

from api.localdocs import index
from api.localdocs.indexer import Indexer, hold_lock

CONFIG = """
[server]
api_key = "server-key-0123456789"
data_dir = "{data}"

[collections.notes]
paths = ["{notes}"]
chunk_chars = {chunk_chars}
"""


@pytest.fixture
def setup(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# Alpha\n\nAlpha is the first letter.\n")
    (notes / "b.txt").write_text("Bravo follows alpha.\n")
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data", notes=notes, chunk_chars=1000))
    return tmp_path, notes, config


def _chunks(indexer: Indexer) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for row in indexer.db.execute("SELECT path, id FROM chunks ORDER BY id"):
        found.setdefault(Path(row["path"]).name, []).append(row["id"])
    return found


def _indexed(config: Path) -> Indexer:
    indexer = Indexer(config)
    indexer.sync_config()
    indexer.rescan_all()
    return indexer


def test_a_restart_reads_only_what_changed(setup):
    _, notes, config = setup
    first = _indexed(config)
    before = _chunks(first)
    assert set(before) == {"a.md", "b.txt"}
    first.db.close()
    (notes / "b.txt").write_text("Bravo follows alpha, and Charlie follows Bravo.\n")
    again = _indexed(config)
    after = _chunks(again)
    assert after["a.md"] == before["a.md"]  # not embedded again: the same rows
    assert after["b.txt"] != before["b.txt"]
    assert index.status(again.db)["notes"]["state"] == "ready"


def test_a_touched_file_with_the_same_content_is_not_embedded_again(setup):
    _, notes, config = setup
    indexer = _indexed(config)
    before = _chunks(indexer)
    (notes / "a.md").write_text((notes / "a.md").read_text())  # a new mtime, the same bytes
    indexer.rescan_all()
    assert _chunks(indexer) == before


def test_a_vanished_folder_keeps_its_index_and_says_why(setup):
    _, notes, config = setup
    indexer = _indexed(config)
    chunks = _chunks(indexer)
    notes.rename(notes.with_name("moved"))
    indexer.rescan_all()
    status = index.status(indexer.db)["notes"]
    assert status["state"] == "error" and "no such folder" in status["problem"]
    assert _chunks(indexer) == chunks


def test_symlinks_never_lead_outside_the_configured_paths(setup):
    root, notes, config = setup
    (root / "outside.txt").write_text("private text outside the collection\n")
    (notes / "escape.txt").symlink_to(root / "outside.txt")
    (notes / "again.md").symlink_to(notes / "a.md")
    indexer = _indexed(config)
    assert set(_chunks(indexer)) == {"a.md", "b.txt"}  # the escape skipped, the inner link not read twice


def test_a_changed_chunk_size_reindexes_and_a_removed_collection_is_dropped(setup):
    root, notes, config = setup
    (notes / "long.md").write_text("\n\n".join(f"Paragraph {n} is about kites and their tails." * 3 for n in range(8)))
    indexer = _indexed(config)
    assert len(_chunks(indexer)["long.md"]) == 2
    config.write_text(CONFIG.format(data=root / "data", notes=notes, chunk_chars=500))
    assert indexer.reload_config()
    indexer.rescan_all()
    assert len(_chunks(indexer)["long.md"]) > 2
    config.write_text(CONFIG.split("[collections.notes]")[0].format(data=root / "data"))
    assert indexer.reload_config()
    assert _chunks(indexer) == {} and index.status(indexer.db) == {}


def test_reindex_requests_made_while_one_is_pending_are_one(setup):
    _, _, config = setup
    indexer = _indexed(config)
    before = _chunks(indexer)
    index.request_reindex(indexer.db, "notes")
    index.request_reindex(indexer.db, "notes")
    assert indexer._reindex_requested()
    indexer.rescan_all()
    assert not indexer._reindex_requested()
    assert set(_chunks(indexer)) == set(before) and _chunks(indexer) != before  # read again, once


def test_files_changed_while_watching_are_indexed_within_seconds(setup):
    _, notes, config = setup
    indexer = _indexed(config)
    watcher = threading.Thread(target=indexer.watch, daemon=True)
    watcher.start()
    time.sleep(0.5)
    (notes / "c.md").write_text("# Charlie\n\nCharlie arrives late.\n")
    (notes / "b.txt").unlink()
    deadline = time.monotonic() + 5
    reader = index.connect(indexer.config.server.data_dir, readonly=True)
    while True:
        names = {Path(row[0]).name for row in reader.execute("SELECT path FROM chunks")}
        if names == {"a.md", "c.md"}:
            break
        assert time.monotonic() < deadline, names
        time.sleep(0.1)
    indexer.stop.set()
    watcher.join(5)


def test_a_deleted_folder_takes_only_its_own_files_along(setup):
    _, notes, config = setup
    for folder in ("a_b", "axb"):  # "a_b/%" as a LIKE pattern would match "axb/..." too
        (notes / folder).mkdir()
        (notes / folder / "inside.md").write_text(f"# {folder}\n\nA note kept in {folder}.\n")
    indexer = _indexed(config)
    for path in (notes / "a_b").iterdir():
        path.unlink()
    (notes / "a_b").rmdir()
    indexer.apply({(watchfiles.Change.deleted, str(notes / "a_b"))})
    paths = {row[0] for row in indexer.db.execute("SELECT path FROM documents")}
    assert str(notes / "axb" / "inside.md") in paths
    assert not any("a_b" in path for path in paths)


def test_one_indexer_per_data_dir(tmp_path):
    held = hold_lock(tmp_path)
    assert held is not None
    assert hold_lock(tmp_path) is None


def test_a_scan_says_how_far_it_has_come(setup):
    _, notes, config = setup
    for n in range(30):
        (notes / f"extra{n}.txt").write_text(f"Extra note number {n}.\n")
    indexer = Indexer(config)
    indexer.sync_config()
    seen: list[tuple[int, int]] = []
    index_file = indexer.index_file

    def watched(collection, path, force=False):  # what a reader of the index sees while the scan goes on
        row = index.status(index.connect(indexer.config.server.data_dir, readonly=True))["notes"]
        seen.append((row["files_done"], row["files_total"]))
        time.sleep(0.03)
        index_file(collection, path, force)
    indexer.index_file = watched  # type: ignore[method-assign]
    indexer.rescan_all()
    assert seen[0] == (0, 32) and any(0 < done < 32 for done, _ in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    final = index.status(indexer.db)["notes"]
    assert (final["files_done"], final["files_total"], final["state"]) == (32, 32, "ready")
