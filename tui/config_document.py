"""The config file as an editable tomlkit document: comments, order and unknown keys survive edits.

Key paths are written as the validation reports them (`providers.openai.base_url`, names
unquoted). Under `providers`, `prompts` and `clients` the name is the longest one the
document has, so names may contain dots (`clients.my.app.model`).

In tomlkit, the comments and blank lines just above a `[header]` end the body of the table
before it. Edits that add or remove tables keep such trailing lines in front of the header
they were written for. Every edit re-reads the document from its own text, so tomlkit's
indexes always match the body that is rendered.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from itertools import dropwhile
from pathlib import Path
from typing import Any, TypeGuard

import tomlkit
from tomlkit.container import Container
from tomlkit.items import AbstractTable, Comment, Key, SingleKey, Table, Whitespace

from api.config.settings import (
    RESTART_KEYS,
    Config,
    ConfigError,
    changed_keys,
    file_stamp,
    load_config,
    parse_config,
    parse_toml,
    read_config_text,
)

NAMED_SECTIONS = ("providers", "prompts", "clients")
"""Sections made of named tables."""
_GAP = "\x00\n"
"""Marks, while a delete renders the document, where a removed table was (TOML text has no NUL)."""


class SaveConflict(Exception):
    """The file changed on disk since it was loaded; nothing was written."""


@dataclass
class SaveResult:
    changed: list[str]
    """Key paths whose values changed (names only)."""
    restart_needed: list[str]
    """The subset that needs a new server process (api.config.settings.RESTART_KEYS)."""


class ConfigDocument:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._doc = tomlkit.document()
        self._stamp: tuple = ()
        self._cleared: dict[str, tuple[str, str]] = {}
        """Key path → the text before and after `set(key, None)` removed it: a field emptied and typed
        into again gets its key back in its place, not at the end of its table."""

    @classmethod
    def load(cls, path: Path) -> ConfigDocument:
        """The file at `path`; ConfigError if it is unreadable or not TOML."""
        document = cls(path)
        document.reload()
        return document

    def reload(self) -> None:
        """Re-read the file, discarding unsaved edits."""
        stamp = file_stamp(self.path)
        text = read_config_text(self.path)
        parse_toml(text, self.path)  # a syntax error as the server would report it
        self._doc, self._stamp = tomlkit.parse(text), stamp

    @property
    def stamp(self) -> tuple:
        """The file as this document last read or wrote it (what a save checks against)."""
        return self._stamp

    def follow(self, changes: dict[str, Any], before: tuple, after: tuple) -> bool:
        """Take over `changes` another writer has just saved to the file, keeping this document's
        unsaved edits; only when the file was as this document knew it (`before`). Its stamp is then
        `after`, so that its own save does not take that writer for a conflicting one."""
        if self._stamp != before:
            return False
        for key, value in changes.items():
            self.set(key, value)
        self._stamp = after
        return True

    # --- reading ---------------------------------------------------------------------------

    def get(self, key_path: str, default: Any = None) -> Any:
        """The value at `key_path` as plain Python (a table as a dict), or `default`."""
        node: Any = self._doc
        for part in self._split(key_path):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node.unwrap() if hasattr(node, "unwrap") else node

    def names(self, section: str) -> list[str]:
        """The names of the tables in `section` ("providers", "prompts", "clients"), in file order."""
        node = self._doc.get(section)
        return list(node) if isinstance(node, dict) else []

    def text(self) -> str:
        return tomlkit.dumps(self._doc)

    def problems(self) -> list[tuple[str, str]]:
        """Each problem of the current (unsaved) content as (key path, message); [] when valid."""
        try:
            self._config()
        except ConfigError as error:
            return error.problems
        return []

    # --- editing ---------------------------------------------------------------------------

    def set(self, key_path: str, value: Any) -> None:
        """Set a value (a dict becomes an inline table); None deletes the key.

        Missing tables are created as `[section.name]` tables after their last sibling.
        """
        if value is None:
            before = self.text()
            self.delete(key_path)
            if self.text() != before:
                self._cleared[key_path] = (before, self.text())
            return
        cleared = self._cleared.pop(key_path, None)
        if cleared is not None and cleared[1] == self.text():  # nothing else changed since it was cleared
            self._doc = tomlkit.parse(cleared[0])
        if isinstance(value, dict):
            table = tomlkit.inline_table()
            table.update(value)
            value = table
        *parent_path, name = self._split(key_path)
        with self._edit():
            parent = self._table(parent_path)
            if name in parent or not isinstance(parent, Table):
                parent[name] = value
                return
            trailing = _take_trailing(parent)  # a new key goes after the last one, not after them
            parent[name] = value
            parent.value.body.extend(trailing)

    def delete(self, key_path: str) -> None:
        """Remove a key or a whole table; nothing happens if it is not there.

        Comments inside a removed table go with it; those above its header stay.
        """
        with self._edit():
            gaps = []  # what replaces each removed [table]: the comments and blank lines that ended it
            for owner, index in self._places(self._split(key_path)):
                key, item = _body(owner)[index]
                if _is_header_table(item, key):
                    gaps.append("".join(entry.as_string() for _, entry in _take_trailing(_last_table(item))))
                    _body(owner)[index] = (None, Whitespace(_GAP))
                else:
                    owner.remove(key)
            text, *rest = self.text().split(_GAP)
            for gap, after in zip(gaps, rest, strict=True):
                blank_before = text.endswith("\n\n") or not text
                text += (gap.lstrip("\n") if blank_before else gap) + after
            self._doc = tomlkit.parse(text)

    def rename(self, key_path: str, new_name: str) -> None:
        """Give a table (or key) a new name; its content, place and comments stay."""
        parts = self._split(key_path)
        places = self._places(parts)
        if not places:
            raise KeyError(key_path)
        if self._places((*parts[:-1], new_name)):
            raise ValueError(f"{'.'.join(parts[:-1])} already has a '{new_name}'")
        with self._edit():
            for owner, index in places:
                key, item = _body(owner)[index]
                _body(owner)[index] = (_renamed(key, new_name), item)
                if isinstance(item, Table):
                    item.invalidate_display_name()  # headers are rendered from the keys again

    def rename_provider_uses(self, old: str, new: str) -> list[str]:
        """After a provider's rename: the model ids naming it (`old:model`) in routes' targets, clients' models and
        collections' embedding models name it `new:model`; the key paths changed."""
        changed = []
        prefix = f"{old}:"

        def renamed(value: object) -> object:
            return new + ":" + value[len(prefix):] if isinstance(value, str) and value.startswith(prefix) else value

        for section, key in (("routes", "targets"), ("clients", "model"), ("collections", "embedding_model")):
            for name in self.names(section):
                path = f"{section}.{name}.{key}"
                value = self.get(path)
                moved = [renamed(item) for item in value] if isinstance(value, list) else renamed(value)
                if moved != value:
                    self.set(path, moved)
                    changed.append(path)
        return changed

    # --- saving ----------------------------------------------------------------------------

    def save(self) -> SaveResult:
        """Validate, then replace the file atomically.

        Raises ConfigError (with its problems) if the content is invalid, SaveConflict if the
        file changed since it was loaded; in both cases nothing is written.
        """
        new = self._config()
        if file_stamp(self.path) != self._stamp:
            raise SaveConflict(f"{self.path} changed on disk since it was loaded")
        try:
            old = load_config(self.path)
        except ConfigError:
            old = None  # the server is not running what the file says: every key is new to it
        _replace_file(self.path.resolve(), self.text())
        self._stamp = file_stamp(self.path)
        changed = changed_keys(old, new)
        return SaveResult(changed=changed, restart_needed=[key for key in changed if key in RESTART_KEYS])

    # --- inside ----------------------------------------------------------------------------

    def _config(self) -> Config:
        """The current content validated exactly as the server reads it."""
        return parse_config(parse_toml(self.text(), self.path), self.path, os.environ)

    @contextmanager
    def _edit(self) -> Iterator[None]:
        """Apply an edit completely or not at all, and re-read the result."""
        before = self.text()
        try:
            yield
            self._doc = tomlkit.parse(self.text())
        except Exception:
            self._doc = tomlkit.parse(before)
            raise

    def _split(self, key_path: str) -> tuple[str, ...]:
        section, _, rest = key_path.partition(".")
        if section not in NAMED_SECTIONS or not rest:
            return tuple(key_path.split("."))
        parts = rest.split(".")
        known = self.names(section)
        end = next((end for end in range(len(parts), 0, -1) if ".".join(parts[:end]) in known),
                   max(len(parts) - 1, 1))
        return (section, ".".join(parts[:end]), *parts[end:])

    def _table(self, path: list[str]) -> Any:
        """The table at `path`, created (with its missing parents) if need be."""
        node: Any = self._doc
        for depth, part in enumerate(path, 1):
            node = node[part] if part in node else self._add_table(path[:depth], last=depth == len(path))
            if not isinstance(node, dict):
                raise TypeError(f"{'.'.join(path[:depth])} is a value, not a table")
        return node

    def _add_table(self, path: list[str], last: bool) -> Table:
        """A new `[path]` table after its last sibling; a table that only holds others has no header."""
        *parent_path, name = path
        siblings = [(owner, item) for owner, index, at in _entries(self._doc) if list(at[:-1]) == parent_path
                    for key, item in [_body(owner)[index]] if _is_header_table(item, key)]
        owner, previous = siblings[-1] if siblings else (self._table(parent_path), None)
        if previous is None and isinstance(owner, Table) and not owner.is_super_table():
            previous = owner  # a parent with values only: the new table goes after them
        table = tomlkit.table(is_super_table=not last)
        trailing = _take_trailing(_last_table(previous)) if last and previous is not None else []
        owner.append(name, table)
        if trailing:  # one blank line before and after the new table, then the comments that were there
            comments = dropwhile(lambda entry: isinstance(entry[1], Whitespace), trailing)
            table.trivia.indent = "\n"
            table.value.body.extend([(None, Whitespace("\n")), *comments])
        return table

    def _places(self, path: tuple[str, ...]) -> list[tuple[Any, int]]:
        """(owner, index in its body) of each place where the key at `path` is written (a table may be
        written in several parts)."""
        return [(owner, index) for owner, index, at in _entries(self._doc) if at == path]


def _body(owner: Container | AbstractTable) -> list:
    return owner.body if isinstance(owner, Container) else owner.value.body


def _entries(owner: Container | AbstractTable, prefix: tuple[str, ...] = ()) -> Iterator[tuple]:
    """(owner, index in its body, key path) of every key and table in the document, in file order."""
    for index, (key, item) in enumerate(_body(owner)):
        if key is not None:
            path = (*prefix, key.key)
            yield owner, index, path
            if isinstance(item, AbstractTable):
                yield from _entries(item, path)


def _is_header_table(item: Any, key: Key | None) -> TypeGuard[Table]:
    """A `[table]`, as opposed to an inline table or the values of dotted keys (`a.b = 1`)."""
    return isinstance(item, Table) and key is not None and not key.is_dotted()


def _last_table(table: Table) -> Table:
    """The table whose body ends where `table`'s text ends (its last sub-table, if any)."""
    inner = [item for key, item in table.value.body if _is_header_table(item, key)]
    return _last_table(inner[-1]) if inner else table


def _renamed(key: Key, name: str) -> SingleKey:
    """`key` with another name, keeping the spacing around its `=` and, in `a.b = 1`, its dot."""
    original = key.as_string()
    renamed = SingleKey(name, sep=original[len(original.rstrip()):] + key.sep)
    renamed._dotted = key.is_dotted()  # tomlkit has no public way to say so
    return renamed


def _take_trailing(table: Table) -> list:
    """Remove and return the comments and blank lines that end `table`'s body."""
    body = table.value.body
    start = len(body)
    while start and isinstance(body[start - 1][1], (Comment, Whitespace)):
        start -= 1
    trailing = body[start:]
    del body[start:]
    return trailing


def _replace_file(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path` with its permission bits, then rename it over `path`."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            with suppress(FileNotFoundError):
                os.fchmod(handle.fileno(), stat.S_IMODE(os.stat(path).st_mode))
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)
