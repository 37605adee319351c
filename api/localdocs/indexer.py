"""The one LocalDocs indexer: `python -m api.localdocs.indexer CONFIG`, started by the server's main process
(api/__main__.py) beside its workers, so every file is read and embedded once however many workers serve.

It keeps the index (api.localdocs.index) in step with the config's `[collections.*]` and their files:
a new collection is indexed, a removed one dropped, a changed one (paths, globs, chunk size, embedder)
indexed again; files saved, added or deleted are seen through watchfiles within about a second, and a full
rescan every RESCAN_S catches missed events. A file whose size and mtime are unchanged is not read again, one
whose content hash is unchanged is not embedded again (so a restart resumes without re-embedding). A file
that cannot be read is recorded with its reason and skipped; a collection none of whose paths exist keeps
its last index and says why. A lock file keeps a second indexer (another server on the same data dir) out.
"""

from __future__ import annotations

import argparse
import fcntl
import fnmatch
import hashlib
import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from stat import S_ISREG

import orjson
import watchfiles

from api.config.settings import CollectionSettings, Config, ConfigError, load_config
from api.localdocs import index
from api.localdocs.chunking import chunk
from api.localdocs.embedding import Embedder, embedder_for
from api.localdocs.extract import MAX_FILE_BYTES, SUFFIXES, ExtractError, extract

log = logging.getLogger("gatehouse.localdocs")

RESCAN_S = 60.0
"""A full rescan of every collection this often, for changes the file watcher missed."""
POLL_S = 0.5
"""How often the watcher wakes with nothing seen: reindex requests, the parent's death, a stop."""
EMBED_BATCH = 256
PROGRESS_S = 0.5
"""How often a scan writes how far it has come (GET /admin/collections: files_done of files_total)."""
LOCK_NAME = "localdocs.lock"


def fingerprint(settings: CollectionSettings, folders: tuple[Path, ...], embedder: str) -> str:
    """What, when it changes, makes the whole collection be indexed again."""
    return orjson.dumps([[str(folder) for folder in folders], settings.include, settings.exclude,
                         settings.chunk_chars, embedder]).decode()


class Collection:
    """One configured collection: its settings, where its files are, and the embedder its vectors come from."""

    def __init__(self, settings: CollectionSettings, config: Config) -> None:
        self.settings = settings
        self.name = settings.name
        self.roots = settings.folders(config.path)
        self.embedder = embedder_for(settings.embedding_model, config)
        self.fingerprint = fingerprint(settings, self.roots, self.embedder.name)

    def wants(self, path: Path, root: Path) -> bool:
        relative = path.relative_to(root).as_posix() if path != root else path.name
        if any(fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(path.name, pattern)
               or any(fnmatch.fnmatch(part, pattern) for part in Path(relative).parts[:-1])
               for pattern in self.settings.exclude):
            return False
        if self.settings.include:
            return any(fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(path.name, pattern)
                       for pattern in self.settings.include)
        return path.suffix.lower() in SUFFIXES

    def root_of(self, path: Path) -> Path | None:
        """The configured path `path` is under (or is), if any."""
        return next((root for root in self.roots if root == path or root in path.parents), None)

    def admits(self, path: Path) -> bool:
        """Whether `path` is a file of this collection: under a root, wanted by the globs, and (through any
        symlink) still inside one of the roots."""
        root = self.root_of(path)
        if root is None:
            return False
        try:
            real = path.resolve()
        except OSError:
            return False
        inside = any(real == top or top in real.parents for top in (root.resolve() for root in self.roots))
        return inside and real.is_file() and self.wants(path, root if root.is_dir() else path)

    def files(self) -> Iterator[Path]:
        """Every file of the collection, each once; a symlink is followed only when it stays inside a root."""
        seen: set[Path] = set()
        for root in self.roots:
            if root.is_file():
                candidates: Iterator[Path] = iter([root])
            elif root.is_dir():
                candidates = (Path(folder) / name for folder, _, names in os.walk(root, followlinks=False)
                              for name in names)
            else:
                continue
            for path in candidates:
                if self.admits(path) and (real := path.resolve()) not in seen:
                    seen.add(real)
                    yield path

    def missing(self) -> str | None:
        """Why the collection cannot be indexed at all, if none of its paths can be read."""
        readable = [root for root in self.roots if root.exists() and os.access(root, os.R_OK)]
        if readable:
            return None
        return "no such folder or file: " + ", ".join(str(root) for root in self.roots)


class Indexer:
    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.config = load_config(config_path)
        self.db = index.connect(self.config.server.data_dir)
        self.collections: dict[str, Collection] = {}
        self.stop = threading.Event()
        self.last_rescan = 0.0

    # -- the config -----------------------------------------------------------

    def sync_config(self) -> None:
        """Make the index's collections those of the config: new ones added, removed ones dropped, changed
        ones emptied for a full index."""
        wanted = {name: Collection(settings, self.config) for name, settings in self.config.collections.items()}
        known = {row["name"]: row["fingerprint"]
                 for row in self.db.execute("SELECT name, fingerprint FROM collections")}
        with index.transaction(self.db):
            for name in known.keys() - wanted.keys():
                self._drop(name)
                self.db.execute("DELETE FROM collections WHERE name = ?", (name,))
                log.info("localdocs: collection '%s' removed, its index dropped", name)
            for name, collection in wanted.items():
                if known.get(name) == collection.fingerprint:
                    continue
                if name in known:
                    self._drop(name)
                    log.info("localdocs: collection '%s' changed, indexing it again", name)
                self.db.execute(
                    "INSERT INTO collections (name, fingerprint, state, embedder) VALUES (?, ?, 'indexing', ?) "
                    "ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'indexing', "
                    "problem = NULL, embedder = excluded.embedder, generation = generation + 1",
                    (name, collection.fingerprint, collection.embedder.name))
        self.collections = wanted

    def _drop(self, name: str) -> None:
        self.db.execute("DELETE FROM chunks WHERE collection = ?", (name,))
        self.db.execute("DELETE FROM documents WHERE collection = ?", (name,))

    def reload_config(self) -> bool:
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            log.error("localdocs: config change rejected, indexing as before: %s", exc)
            return False
        self.config = config
        self.sync_config()
        return True

    # -- indexing -----------------------------------------------------------------

    def rescan(self, collection: Collection, everything: bool = False) -> None:
        """Bring a collection's index in step with its files (`everything`: read every file again)."""
        problem = collection.missing()
        if problem:
            self._set_state(collection.name, "error", problem)
            log.warning("localdocs: collection '%s' cannot be indexed: %s", collection.name, problem)
            return
        self._set_state(collection.name, "indexing", None)
        paths = list(collection.files())
        self._progress(collection.name, 0, len(paths))
        present: set[str] = set()
        told = time.monotonic()
        for done, path in enumerate(paths, 1):
            if self.stop.is_set():
                return
            present.add(str(path))
            self.index_file(collection, path, force=everything)
            if time.monotonic() - told >= PROGRESS_S:
                self._progress(collection.name, done, len(paths))
                told = time.monotonic()
        self._progress(collection.name, len(paths), len(paths))
        stored = [row["path"] for row in self.db.execute("SELECT path FROM documents WHERE collection = ?",
                                                          (collection.name,))]
        gone = [path for path in stored if path not in present]
        if gone:
            with index.transaction(self.db):
                for path in gone:
                    self._forget(collection.name, path)
                self._changed(collection.name)
        self._set_state(collection.name, "ready", None, indexed=True)

    def index_file(self, collection: Collection, path: Path, force: bool = False) -> None:
        """Index one file unless it is unchanged; a file that cannot be read is recorded with its reason."""
        try:
            stat = path.stat()
        except OSError:
            return
        row = self.db.execute("SELECT id, size, mtime, hash, error FROM documents WHERE collection = ? AND path = ?",
                              (collection.name, str(path))).fetchone()
        if row is not None and not force and row["size"] == stat.st_size and row["mtime"] == stat.st_mtime:
            return
        if not S_ISREG(stat.st_mode) or stat.st_size > MAX_FILE_BYTES:  # refused unread (a pipe would block)
            try:
                extract(path)
            except ExtractError as exc:
                self._record_error(collection.name, path, stat, str(exc))
            return
        try:
            digest = _hash(path)
        except OSError as exc:
            self._record_error(collection.name, path, stat, f"cannot read: {exc.strerror or exc}")
            return
        if row is not None and not force and row["hash"] == digest and row["error"] is None:
            with index.transaction(self.db):
                self.db.execute("UPDATE documents SET size = ?, mtime = ? WHERE id = ?",
                                (stat.st_size, stat.st_mtime, row["id"]))
            return
        try:
            document = extract(path)
            pieces = chunk(document, collection.settings.chunk_chars)
            vectors = self._embed(collection.embedder, [piece.text for piece in pieces])
        except ExtractError as exc:
            self._record_error(collection.name, path, stat, str(exc))
            return
        except Exception as exc:  # an embedder that failed (a gateway model that is down): retried at the next scan
            log.exception("localdocs: %s: not indexed", path)
            self._record_error(collection.name, path, stat, f"not indexed: {exc}", keep_hash=False)
            return
        with index.transaction(self.db):
            self._forget(collection.name, str(path))
            index.add_document(self.db, collection.name, str(path), stat.st_size, stat.st_mtime, digest,
                               document.title, pieces, vectors)
            self._changed(collection.name)

    @staticmethod
    def _embed(embedder: Embedder, texts: list[str]) -> list:
        out: list = []
        for start in range(0, len(texts), EMBED_BATCH):
            out.extend(embedder.embed(texts[start:start + EMBED_BATCH]))
        return out

    def _forget(self, collection: str, path: str) -> None:
        self.db.execute("DELETE FROM chunks WHERE document IN (SELECT id FROM documents WHERE collection = ? AND "
                        "path = ?)", (collection, path))
        self.db.execute("DELETE FROM documents WHERE collection = ? AND path = ?", (collection, path))

    def _record_error(self, collection: str, path: Path, stat: os.stat_result, reason: str,
                      keep_hash: bool = True) -> None:
        log.warning("localdocs: %s: %s", path, reason)
        with index.transaction(self.db):
            self._forget(collection, str(path))
            self.db.execute("INSERT INTO documents (collection, path, size, mtime, hash, error) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            (collection, str(path), stat.st_size, stat.st_mtime if keep_hash else -1.0, None, reason))
            self._changed(collection)

    def _changed(self, collection: str) -> None:
        self.db.execute("UPDATE collections SET generation = generation + 1 WHERE name = ?", (collection,))

    def _progress(self, name: str, done: int, total: int) -> None:
        """How far a scan has come: files looked at (unchanged ones count) of the files it found."""
        with index.transaction(self.db):
            self.db.execute("UPDATE collections SET files_done = ?, files_total = ? WHERE name = ?",
                            (done, total, name))

    def _set_state(self, name: str, state: str, problem: str | None, indexed: bool = False) -> None:
        with index.transaction(self.db):
            self.db.execute("UPDATE collections SET state = ?, problem = ?, files = (SELECT COUNT(*) FROM documents "
                            "WHERE collection = ?)" + (", last_indexed = ?" if indexed else "") + " WHERE name = ?",
                            (state, problem, name, *((time.time(),) if indexed else ()), name))

    # -- the loop -----------------------------------------------------------------

    def run(self) -> None:
        self.sync_config()
        while not self.stop.is_set():
            self.rescan_all()
            self.watch()

    def rescan_all(self) -> None:
        requested = {row["name"] for row in self.db.execute("SELECT name FROM collections WHERE reindex = 1")}
        if requested:
            with index.transaction(self.db):
                self.db.execute("UPDATE collections SET reindex = 0")
        for collection in list(self.collections.values()):
            self.rescan(collection, everything=collection.name in requested)
        self.last_rescan = time.monotonic()

    def watch(self) -> None:
        """Follow file and config changes until a rescan is due or the watched paths change."""
        roots = {root for collection in self.collections.values() for root in collection.roots if root.exists()}
        watched = [str(root) for root in roots] + [str(self.config_path)]
        parent = os.getppid()
        for changes in watchfiles.watch(*watched, stop_event=self.stop, rust_timeout=int(POLL_S * 1000),
                                        yield_on_timeout=True, debounce=200, step=50, raise_interrupt=False):
            if os.getppid() != parent:  # the server is gone
                self.stop.set()
                return
            if any(Path(path) == self.config_path for _, path in changes) and self.reload_config():
                return  # paths may have changed: watch them afresh after a rescan
            self.apply(changes)
            if self._reindex_requested() or time.monotonic() - self.last_rescan > RESCAN_S:
                return
            if any(collection.missing() is None and not any(root.exists() for root in roots
                                                            if root in collection.roots)
                   for collection in self.collections.values()):
                return  # a folder that was missing is back

    def _reindex_requested(self) -> bool:
        return self.db.execute("SELECT 1 FROM collections WHERE reindex = 1").fetchone() is not None

    def apply(self, changes: set[tuple[watchfiles.Change, str]]) -> None:
        """Index the files that changed, forget the deleted ones."""
        for _, raw in sorted(changes, key=lambda change: change[1]):
            path = Path(raw)
            for collection in self.collections.values():
                if collection.root_of(path) is None:
                    continue
                if collection.admits(path):
                    self.index_file(collection, path)
                elif not path.exists():  # a file, or a folder with everything in it
                    inside = raw + os.sep  # compared as text: LIKE would read a '_' in a name as any character
                    condition = "collection = ? AND (path = ? OR substr(path, 1, ?) = ?)"
                    values = (collection.name, raw, len(inside), inside)
                    with index.transaction(self.db):
                        if self.db.execute(f"DELETE FROM documents WHERE {condition}", values).rowcount:
                            self.db.execute(f"DELETE FROM chunks WHERE {condition}", values)
                            self._changed(collection.name)


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def hold_lock(data_dir: Path) -> object | None:
    """The indexer's lock on the data dir, or None when another indexer holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / LOCK_NAME).open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.localdocs.indexer", description=__doc__)
    parser.add_argument("config", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        indexer = Indexer(args.config)
    except (ConfigError, OSError, sqlite3.Error) as exc:
        print(f"gatehouse: LocalDocs indexer cannot start: {exc}", file=sys.stderr)
        return 2
    lock = hold_lock(indexer.config.server.data_dir)
    if lock is None:
        print("gatehouse: another LocalDocs indexer uses this data dir; this one stays idle", file=sys.stderr)
        return 0
    try:
        indexer.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
