"""One indexed document's text, for a caller allowed some collections (the MCP tool `read_document`).

A path is served only when it names a document of an allowed collection in the index (`documents`, read without
an error) AND its real path (symlinks resolved) is inside that collection's configured paths: a `..`, a symlink
made after indexing, or any other path outside is refused with a `DocumentError` that says why.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from api.config.settings import CollectionSettings, Config
from api.localdocs import index
from api.localdocs.extract import ExtractError, extract

MAX_CHARS = 200_000
"""The most text one read returns (a long document is read page by page, or cut with a note)."""


class DocumentError(Exception):
    """A document that cannot be given to this caller; the message says why."""


@dataclass(frozen=True, slots=True)
class DocumentText:
    collection: str
    path: str
    title: str
    page: int | None
    pages: int | None
    """PDFs: the last page with text."""
    text: str
    truncated: bool


def _under(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _candidates(path: str, collections: list[CollectionSettings], config: Config) -> list[Path]:
    """The absolute, normalised paths `path` may mean: itself when absolute, else under each collection's paths.
    Normalising (`..` folded) happens before any lookup, so `root/../x` is `x`, outside."""
    given = Path(path).expanduser()
    if given.is_absolute():
        return [Path(os.path.normpath(given))]
    return [Path(os.path.normpath(root / given)) for collection in collections
            for root in collection.folders(config.path)]


def locate(db: sqlite3.Connection | None, path: str, allowed: list[CollectionSettings],
           config: Config) -> tuple[CollectionSettings, Path, Path]:
    """The allowed collection, the indexed path `path` names and its real path, or DocumentError saying why
    not."""
    if not path.strip() or "\x00" in path:
        raise DocumentError("'path' must be a file path (as search_documents returns it).")
    names = {collection.name for collection in allowed}
    others = [collection for collection in config.collections.values() if collection.name not in names]
    for candidate in _candidates(path, allowed, config):
        for collection in allowed:
            if not _under(candidate, collection.folders(config.path)):
                continue
            row = None if db is None else db.execute(
                "SELECT error FROM documents WHERE collection = ? AND path = ?",
                (collection.name, str(candidate))).fetchone()
            if row is None:
                continue  # maybe another allowed collection holds it
            if row["error"]:
                raise DocumentError(f"'{candidate}' could not be indexed: {row['error']}")
            real = candidate.resolve()
            if not _under(real, tuple(root.resolve() for root in collection.folders(config.path))):
                raise DocumentError(f"'{candidate}' resolves to '{real}', outside collection '{collection.name}''s "
                                    "paths (a symlink); it is not served.")
            return collection, candidate, real
    for candidate in _candidates(path, allowed, config):
        barred = next((collection for collection in others if _under(candidate, collection.folders(config.path))),
                      None)
        if barred is not None:
            raise DocumentError(f"'{path}' is in collection '{barred.name}', which this key may not read.")
    listed = ", ".join(collection.name for collection in allowed) or "none"
    raise DocumentError(f"'{path}' is not a document of any collection this key may read ({listed}): give a path "
                        "as search_documents returns it.")


def read(data_dir: Path, path: str, page: int | None, allowed: list[CollectionSettings],
         config: Config) -> DocumentText:
    """The text of the document `path` names (one page of a PDF when `page` is given); blocking, so call it on a
    thread."""
    if page is not None and page < 1:
        raise DocumentError(f"'page' must be 1 or more (got {page}).")
    try:
        db: sqlite3.Connection | None = index.connect(data_dir, readonly=True)
    except (FileNotFoundError, sqlite3.Error):
        db = None  # nothing indexed yet: no path is a document
    try:
        collection, indexed, real = locate(db, path, allowed, config)
    finally:
        if db is not None:
            db.close()
    try:
        document = extract(real)
    except ExtractError as exc:
        raise DocumentError(f"'{path}' cannot be read: {exc}") from None
    numbered = [section.page for section in document.sections if section.page is not None]
    last = max(numbered) if numbered else None
    sections = document.sections
    if page is not None:
        if last is None:
            raise DocumentError(f"'page' is for PDFs; '{Path(path).name}' has no pages.")
        if page > last:
            raise DocumentError(f"Page {page} is out of range: '{Path(path).name}' has {last} pages with text.")
        sections = [section for section in sections if section.page == page]
        if not sections:
            raise DocumentError(f"Page {page} of '{Path(path).name}' has no text.")
    parts = [f"## {section.heading}\n\n{section.text}" if section.heading else section.text for section in sections]
    text = "\n\n".join(parts)
    truncated = len(text) > MAX_CHARS
    return DocumentText(collection.name, str(indexed), document.title, page, last, text[:MAX_CHARS], truncated)
