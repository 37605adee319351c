"""Tab 5, Documents: the LocalDocs collections, their indexing, and a search over them.

The collections come from `GET /admin/collections` on the app's refresh cycle: each one's state, files,
chunks, embedding model and last indexed time; the highlighted one's progress (while it is indexed: files
done, chunks, and a rate worked out from successive reads) and its files that could not be read (enter shows
one's reason). A search (`POST /v1/localdocs/search`) shows the ranked snippets with the query's words
highlighted; enter shows a whole chunk. space marks which collections are searched (all by default).

`a` adds a collection and `d` deletes one in the config file (as every other edit: tomlkit, comments kept;
the server reloads it and its indexer follows), `r` asks the server to read a collection's files again.
Attached to a server started elsewhere, the tab reads and searches, and refuses edits with a note.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

from api.config.settings import CollectionSettings, ConfigError, load_config
from tui.admin_client import AdminError
from tui.messages import ConfigEdit
from tui.screens import AddCollectionScreen, ConfirmScreen, TextScreen
from tui.session import Session, read_only_note

COLUMNS = ("✓", "collection", "state", "files", "chunks", "model", "last indexed")
"""✓: searched (space marks and unmarks)."""
NAME_WIDTH, MODEL_WIDTH = 14, 14
"""A longer name or model is cut with '…' so that every column fits 80 columns (the detail line has it whole)."""
BAR_WIDTH = 16
TOP_K = 10
"""Snippets a search shows."""
SNIPPET_CHARS = 150
"""Characters of a snippet's text shown in the list (enter shows the whole chunk)."""
WORD = re.compile(r"\w{2,}")
NAME = re.compile(r"[A-Za-z0-9_-]+")
COUNT_EVERY_S = 10.0
"""How often, while a collection is indexed, its files are counted again (the total of its progress bar)."""


def count_files(settings: CollectionSettings, config_path: Path) -> int:
    """How many files the collection has, by the indexer's own rules (paths, include, exclude, file types,
    symlinks): the total of the progress bar, which /admin/collections does not give while indexing (it
    counts the files stored so far)."""
    from api.localdocs.indexer import Collection  # numpy and the extractors: only once a collection is indexed

    class Files(Collection):
        def __init__(self) -> None:  # no embedder: only the files are wanted
            self.settings, self.name, self.roots = settings, settings.name, settings.folders(config_path)

    return sum(1 for _ in Files().files())


@dataclass(slots=True)
class Reading:
    """A collection's figures at one read, to work out the indexing rate from the next."""

    at: float
    files: int
    chunks: int


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """`done` of `total` as a bar of `width` cells (eighths of a cell drawn)."""
    if total <= 0:
        return "░" * width
    eighths = round(min(done / total, 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")).ljust(width, "░")


def when(iso: str | None) -> str:
    """An ISO time as the local `MM-DD HH:MM`, or '-'."""
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%m-%d %H:%M")
    except ValueError:
        return iso[:16]


def cut(value: str, width: int) -> Text:
    text = Text(value)
    text.truncate(width, overflow="ellipsis")
    return text


def highlighted(text: str, query: str) -> Content:
    """`text` as plain content (never markup) with the query's words in bold reverse."""
    content = Content(text)
    words = sorted({word.lower() for word in WORD.findall(query)}, key=len, reverse=True)
    if words:
        content = content.highlight_regex(r"(?i)\b(" + "|".join(map(re.escape, words)) + r")\w*",
                                          style="bold reverse")
    return content


def excerpt(text: str, query: str, width: int = SNIPPET_CHARS) -> str:
    """`width` characters of `text` around the first of the query's words in it (its start if none is)."""
    words = [word.lower() for word in WORD.findall(query)]
    words = [word for word in words if len(word) > 3] or words  # "the", "who": found everywhere
    found = [match.start() for match in re.finditer(r"\w+", text) if match.group().lower().startswith(tuple(words))]
    start = 0 if not found or found[0] < width - 40 else text.rfind(" ", 0, found[0] - 30) + 1
    shown = ("…" if start else "") + text[start:start + width]
    return shown + ("…" if start + width < len(text) else "")


def place(hit: dict) -> str:
    """A snippet's file (and page), as it is cited."""
    page = f" p.{hit['page']}" if hit.get("page") else ""
    return f"{hit['path']}{page}"


class DocumentsTab(Vertical):
    # the tab's own r (reindex) wins over the app's r (refresh) while a widget of the tab has focus:
    # Textual looks for a key's binding from the focused widget up, and the app's r is not a priority one
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add"),
        Binding("d", "delete", "Delete"),
        Binding("r", "reindex", "Reindex"),
        Binding("space", "toggle_search", "Search it", show=False),
        Binding("slash", "search_box", "Search", show=False),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(id="documents-tab")
        self.session = session
        self.collections: list[dict] = []
        """The collections as last read from /admin/collections."""
        self.read = False
        """Whether /admin/collections has answered once."""
        self.unsearched: set[str] = set()
        """Collections left out of searches (space); every other one is searched."""
        self.readings: dict[str, Reading] = {}
        self.rates: dict[str, float] = {}
        """Chunks per second of each collection being indexed, from the last two reads."""
        self.hits: list[dict] = []
        self.query_text = ""
        self.totals: dict[str, tuple[float, int]] = {}
        """Each collection being indexed: when its files were counted, and how many there are."""

    def compose(self) -> ComposeResult:
        yield DataTable(id="docs-table", cursor_type="row", zebra_stripes=False)
        yield Static("Waiting for the server…", id="docs-detail", markup=False)
        yield OptionList(id="docs-errors")
        yield Input(placeholder="Search the collections marked ✓ (enter searches; escape leaves)", id="docs-query",
                    compact=True)
        yield OptionList(id="docs-results")
        yield Static(self._keys(), id="docs-keys", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#docs-table", DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        self.query_one("#docs-errors").display = False
        self.query_one("#docs-results").display = False

    def _keys(self) -> str:
        if self.session.read_only:
            return "Attached: read and search only.  space search it  / search  enter in full"
        return "a add  d delete  r reindex  space search it  / search  enter in full  tab next"

    # --- the collections ------------------------------------------------------------------

    async def refresh_collections(self) -> None:
        """Read the collections again and show them (the app's refresh cycle)."""
        try:
            answer = await self.session.admin.get("/admin/collections")
        except AdminError as error:
            self._detail(f"Cannot read the collections: {error}")
            return
        try:
            self.show(answer.get("data") or [])
        except NoMatches:  # the app closed while the server was being asked
            return

    def show(self, collections: list[dict]) -> None:
        now = time.monotonic()
        for entry in collections:
            name = entry["name"]
            last = self.readings.get(name)
            if entry["state"] == "indexing" and last is not None and now > last.at:
                if entry["chunks"] != last.chunks or name not in self.rates:
                    self.rates[name] = max(entry["chunks"] - last.chunks, 0) / (now - last.at)
            elif entry["state"] != "indexing":
                self.rates.pop(name, None)
                self.totals.pop(name, None)
            self.readings[name] = Reading(now, entry["files_indexed"], entry["chunks"])
            counted = self.totals.get(name)
            if entry["state"] == "indexing" and "files_total" not in entry and self.session.config is not None \
                    and (counted is None or now - counted[0] > COUNT_EVERY_S):
                self.totals[name] = (now, counted[1] if counted else -1)
                self.count(name)
        self.collections = collections
        self.read = True
        table = self.query_one("#docs-table", DataTable)
        selected = self.selected_name()
        table.clear()
        for entry in collections:
            name = entry["name"]
            state = entry["state"] + (f" {len(entry['errors'])}✗" if entry.get("errors") else "")
            table.add_row("✓" if name not in self.unsearched else " ", cut(name, NAME_WIDTH), state,
                          str(entry["files_indexed"]), str(entry["chunks"]),
                          cut(entry.get("embedding_model") or "built-in", MODEL_WIDTH),
                          when(entry.get("last_indexed")), key=name)
        names = [entry["name"] for entry in collections]
        if selected in names:
            table.move_cursor(row=names.index(selected), animate=False)
        self._show_selected()

    def selected_name(self) -> str | None:
        table = self.query_one("#docs-table", DataTable)
        if not table.row_count:
            return None
        return str(table.ordered_rows[min(table.cursor_row, table.row_count - 1)].key.value)

    def selected(self) -> dict | None:
        name = self.selected_name()
        return next((entry for entry in self.collections if entry["name"] == name), None)

    def _detail(self, text: str | Content) -> None:
        self.query_one("#docs-detail", Static).update(text)

    def _show_selected(self) -> None:
        """The highlighted collection's progress or problem, paths and files that could not be read."""
        entry = self.selected()
        errors = self.query_one("#docs-errors", OptionList)
        if entry is None:
            self._detail("No collection yet: a adds one (a folder to index)." if self.read
                         else "Waiting for the server…")
            errors.clear_options()
            errors.display = False
            return
        name = entry["name"]
        done = entry["files_indexed"] + len(entry.get("errors") or ())  # read, indexed or not
        files = entry["files"]
        if entry.get("files_total") is not None:
            files, done = int(entry["files_total"]), int(entry.get("files_done") or 0)
        elif entry["state"] == "indexing":  # the server counts the files stored so far: the total is counted here
            counted = self.totals.get(name, (0.0, -1))[1]
            files = max(counted, done) if counted >= 0 else -1  # -1: not counted (yet)
        paths = ", ".join(entry.get("paths") or ()) or "-"
        model = entry.get("embedding_model") or "the built-in embedder"
        if entry["state"] == "indexing":
            rate = self.rates.get(name)
            speed = f" · {rate:,.0f} chunks/s" if rate is not None else ""
            bar = f"{progress_bar(done, files)} {done}/{files} files" if files >= 0 else f"{done} files so far"
            line = f"{name} {bar} · {entry['chunks']:,} chunks{speed}"
        elif entry["state"] == "error":
            line = f"{name}: ✗ {entry.get('problem') or 'cannot be indexed'}"
        else:
            failed = f" · {len(entry['errors'])} ✗" if entry.get("errors") else ""
            line = f"{name} ready: {done}/{files} files · {entry['chunks']:,} chunks{failed}"
        self._detail(f"{line}\n{paths} · {model}")
        found = entry.get("errors") or []
        errors.display = bool(found)
        current = [option.id for option in errors.options]
        wanted = [error["path"] for error in found]
        if current != wanted:
            highlighted_at = errors.highlighted
            errors.clear_options()
            errors.add_options([Option(Content(f"✗ {error['path']}: {error['reason']}"), id=error["path"])
                                for error in found])
            if found:
                errors.highlighted = min(highlighted_at or 0, len(found) - 1)

    @work(thread=True, group="docs-count")
    def count(self, name: str) -> None:
        """Count a collection's files (a thread: a large folder takes a while) for its progress bar."""
        if self.session.config is None:
            return
        try:
            config = load_config(self.session.config.path)
            total = count_files(config.collections[name], config.path)
        except (ConfigError, KeyError, OSError):
            return
        self.totals[name] = (time.monotonic(), total)
        self.app.call_from_thread(self._show_selected)

    @on(DataTable.RowHighlighted, "#docs-table")
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_selected()

    @on(OptionList.OptionSelected, "#docs-errors")
    def _error_selected(self, event: OptionList.OptionSelected) -> None:
        entry = self.selected()
        error = next((error for error in (entry or {}).get("errors") or () if error["path"] == event.option.id), None)
        if error is not None:
            self.app.push_screen(TextScreen(Content(f"Not indexed: {error['path']}"), Content(error["reason"])))

    def action_toggle_search(self) -> None:
        """Search the highlighted collection or not."""
        name = self.selected_name()
        if name is None:
            return
        self.unsearched ^= {name}
        self.query_one("#docs-table", DataTable).update_cell(name, "✓", "✓" if name not in self.unsearched else " ")
        searched = [entry["name"] for entry in self.collections if entry["name"] not in self.unsearched]
        self.notify(f"Searching: {', '.join(searched) or 'no collection'}")

    # --- search ---------------------------------------------------------------------------

    def action_search_box(self) -> None:
        self.query_one("#docs-query", Input).focus()

    @on(Input.Submitted, "#docs-query")
    def _search(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.search(event.value.strip())

    @work(exclusive=True, group="docs-search")
    async def search(self, query: str) -> None:
        names = [entry["name"] for entry in self.collections if entry["name"] not in self.unsearched]
        results = self.query_one("#docs-results", OptionList)
        if self.read and not names:
            self.notify("No collection is marked ✓ for searching (space marks one).", severity="warning")
            return
        body: dict = {"query": query, "top_k": TOP_K}
        if self.read:
            body["collections"] = names
        try:
            answer = await self.session.admin.post("/v1/localdocs/search", body)
        except AdminError as error:
            self.notify(f"Search: {error}", severity="error")
            return
        self.query_text, self.hits = query, answer.get("data") or []
        results.clear_options()
        results.display = True
        if not self.hits:
            results.add_option(Option(Content(f"Nothing found for {query!r}."), disabled=True))
            return
        results.add_options([Option(self._snippet(number, hit), id=str(number))
                             for number, hit in enumerate(self.hits, 1)])
        results.highlighted = 0
        results.focus()

    def _snippet(self, number: int, hit: dict) -> Content:
        text = excerpt(" ".join(hit["text"].split()), self.query_text)
        head = Content.assemble((f"{number}. ", "bold"), (hit["collection"], "italic"), " ",
                                (place(hit), "bold"), f"  {hit['score']:.4f}")
        return Content("\n").join([head, highlighted(text, self.query_text)])

    @on(OptionList.OptionSelected, "#docs-results")
    def _hit_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is None:
            return
        hit = self.hits[int(event.option.id) - 1]
        title = Content.assemble((f"{hit['collection']}: {place(hit)}", "bold"),
                                 f"  score {hit['score']:.4f}  {hit.get('title') or ''}")
        self.app.push_screen(TextScreen(title, highlighted(hit["text"], self.query_text)))

    # --- editing --------------------------------------------------------------------------

    def _editable(self, what: str) -> bool:
        if self.session.read_only:
            self.notify(read_only_note(what), severity="warning")
            return False
        return True

    @work(exclusive=True, group="docs-dialog")
    async def action_add(self) -> None:
        if not self._editable("the collections") or self.session.config is None:
            return
        try:
            document = self.session.config.load()
        except ConfigError as error:
            self.notify(str(error), severity="error")
            return
        taken = list(document.get("collections") or {})
        answer = await self.app.push_screen_wait(AddCollectionScreen(taken, self.session.config.path.parent))
        if answer is None:
            return
        name, path = answer
        if not NAME.fullmatch(name):
            self.notify("A collection's name: letters, digits, - and _.", severity="error")
            return
        self.post_message(ConfigEdit({f"collections.{name}.paths": [path]}, f"collection '{name}'",
                                     on_saved=lambda: self._refresh_soon()))

    @work(exclusive=True, group="docs-dialog")
    async def action_delete(self) -> None:
        name = self.selected_name()
        if not self._editable("the collections") or self.session.config is None or name is None:
            return
        try:
            document = self.session.config.load()
        except ConfigError as error:
            self.notify(str(error), severity="error")
            return
        users = [client for client in document.names("clients")
                 if name in (document.get(f"clients.{client}.collections") or [])]
        also = f" It is taken out of client(s) {', '.join(users)} too." if users else ""
        question = f"Delete collection '{name}' from the config (its files stay; its index goes)?{also}"
        if not await self.app.push_screen_wait(ConfirmScreen(question)):
            return
        changes: dict[str, object] = {f"clients.{client}.collections": [
            other for other in document.get(f"clients.{client}.collections") if other != name] for client in users}
        changes[f"collections.{name}"] = None
        self.unsearched.discard(name)
        self.post_message(ConfigEdit(changes, f"collection '{name}' deleted", on_saved=lambda: self._refresh_soon()))

    @work(group="docs-refresh")
    async def _refresh_soon(self) -> None:
        """After an edit: the server reloads the file within a moment; show it without waiting for the cycle."""
        for _ in range(5):
            await asyncio.sleep(0.4)
            await self.refresh_collections()

    @work(exclusive=True, group="docs-reindex")
    async def action_reindex(self) -> None:
        name = self.selected_name()
        if name is None:
            self.notify("No collection to reindex.", severity="warning")
            return
        if self.session.read_only:  # it edits nothing, but it makes the server do the work: not from here
            self.notify(f"Attached: reindexing '{name}' is left to the server's own TUI or API.", severity="warning")
            return
        try:
            await self.session.admin.post(f"/admin/collections/{name}/reindex")
        except AdminError as error:
            self.notify(f"Reindex: {error}", severity="error")
            return
        self.notify(f"Reindexing '{name}': its files are read again (unchanged ones are not embedded again).")
        self._refresh_soon()

