"""Tab 5, Documents, and the Playground's LocalDocs sources, driven with Pilot against real server processes
that index real files (the server's own indexer, embedder and SQLite index)."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

import httpx
from textual.widgets import DataTable, Input, OptionList, Select, Static

from api.config.settings import example_config_text, load_config
from tests.conftest import gateway_config
from tests.gateway import SERVER_KEY, start_gateway
from tests.tui.test_app import config_file, notes, screen_lines, supervised, type_into, until
from tui.app import GatehouseApp
from tui.commands import GatehouseCommands
from tui.screens import AddCollectionScreen, ConfirmScreen, TextScreen
from tui.session import read_only_note
from tui.tabs.documents import DocumentsTab, count_files, excerpt, progress_bar

INDEXED_S = 90
"""The first index of a server: its embedder loads once."""
FACT = "The capital of Zorblax is Quintaria, founded by glassblowers in 1312."
ODD = "Brackets [/b] and [link=x] and [red stay text in Vexillum notes."
"""A chunk whose text Textual would read as markup (and fail on) if it were."""


def write_documents(folder: Path) -> Path:
    folder.mkdir()
    (folder / "zorblax.md").write_text(f"# Zorblax\n\n## Geography\n\n{FACT}\n")
    (folder / "gardening.txt").write_text("Tomatoes need full sun and regular watering. Prune the suckers weekly.\n")
    (folder / "odd.md").write_text(f"# Odd\n\n{ODD}\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not a real pdf")
    return folder


def collection(name: str, folder: Path) -> str:
    return f'\n# the {name} collection: this comment stays\n[collections.{name}]\npaths = ["{folder}"]\n'


def rows(app: GatehouseApp) -> dict[str, list[str]]:
    """The collections table: each row's cells as text, by collection."""
    table = app.query_one("#docs-table", DataTable)
    return {str(row.key.value): [str(cell) for cell in table.get_row(row.key)] for row in table.ordered_rows}


def ready(app: GatehouseApp, name: str) -> bool:
    row = rows(app).get(name)
    return row is not None and row[2].startswith("ready") and int(row[4]) > 0


def options(app: GatehouseApp, selector: str) -> list[str]:
    return [str(option.prompt) for option in app.query_one(selector, OptionList).options]


def screen_text(app: GatehouseApp) -> str:
    return "\n".join(str(widget.render()) for widget in app.screen.query(Static))


async def test_the_tab_lists_a_collection_its_errors_and_a_search_finds_the_right_document(upstreams, tmp_path):
    folder = write_documents(tmp_path / "notes")
    async with supervised(upstreams, tmp_path, size=(80, 24), extra=collection("notes", folder)) as (app, pilot):
        await pilot.press("5")
        await until(pilot, lambda: ready(app, "notes"), INDEXED_S)
        row = rows(app)["notes"]
        assert row[0] == "✓" and row[3] == "3" and "1✗" in row[2]  # 3 files indexed, the broken PDF not
        detail = str(app.query_one("#docs-detail", Static).render())
        assert "notes ready: 4/4 files · 3 chunks · 1 ✗" in detail and str(folder) in detail
        assert app.focused is app.query_one("#docs-table")
        config = load_config(config_file(app))  # the progress bar's total: the files counted by the indexer's rules
        assert count_files(config.collections["notes"], config.path) == 4

        errors = app.query_one("#docs-errors", OptionList)  # the file that could not be read, its reason whole
        assert errors.display and "broken.pdf" in options(app, "#docs-errors")[0]
        errors.focus()
        await pilot.press("enter")
        assert isinstance(app.screen, TextScreen) and "corrupt PDF" in screen_text(app)
        await pilot.press("escape")

        await type_into(pilot, "#docs-query", "Where is Quintaria?")
        await pilot.press("enter")
        await until(pilot, lambda: options(app, "#docs-results"))
        first = app.query_one("#docs-results", OptionList).options[0]
        assert "zorblax.md" in options(app, "#docs-results")[0].splitlines()[0]
        spans = [(str(first.prompt)[span.start:span.end], str(span.style)) for span in first.prompt.spans]
        assert ("Quintaria", "bold reverse") in spans  # the query's word, highlighted
        await pilot.press("enter")  # the whole chunk
        assert isinstance(app.screen, TextScreen) and FACT in screen_text(app)
        await pilot.press("escape")

        await type_into(pilot, "#docs-query", "Vexillum")  # text with '[' is shown as it is, never as markup
        await pilot.press("enter")
        await until(pilot, lambda: "odd.md" in "".join(options(app, "#docs-results")[:1]))
        assert "[/b] and [link=x] and [red" in options(app, "#docs-results")[0]
        await pilot.press("enter")
        assert ODD in screen_text(app)
        await pilot.press("escape")

        app.query_one("#docs-table").focus()
        await pilot.press("r")  # the tab's r (reindex) wins over the app's (refresh)
        await until(pilot, lambda: "Reindexing 'notes'" in notes(app))

        await pilot.press("space")  # not searched any more
        assert rows(app)["notes"][0] == " "
        await type_into(pilot, "#docs-query", "Quintaria")
        await pilot.press("enter")
        await until(pilot, lambda: "No collection is marked" in notes(app))

        names = [name for name, _, _ in GatehouseCommands(app.screen).commands()]
        assert {"Documents: show the tab", "Documents: Add", "Documents: Delete", "Documents: Reindex"} <= set(names)
        app.query_one("#docs-table").focus()
        await pilot.pause()
        footer = screen_lines(app)[-1]
        assert all(key in footer for key in ("a Add", "d Delete", "r Reindex", "? Help", "q Quit")), footer
        await pilot.press("question_mark")
        help_text = screen_text(app)
        keys = ("5 Documents", "r      reindex", "space  search it", "/  type a search")
        assert all(key in help_text for key in keys), help_text


async def test_a_collection_added_from_the_keyboard_is_in_the_file_indexed_then_deleted(upstreams, tmp_path):
    folder = write_documents(tmp_path / "notes")
    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "thesis.md").write_text("# Thesis\n\nOn the migration of Albatrellus mushrooms.\n")
    extra = collection("notes", folder) + '\n[clients.reader]\nmodel = "fake:gpt-fake"\ncollections = ["notes"]\n'
    async with supervised(upstreams, tmp_path, size=(80, 24), extra=extra) as (app, pilot):
        await pilot.press("5")
        await until(pilot, lambda: ready(app, "notes"), INDEXED_S)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AddCollectionScreen))
        await pilot.press(*"papers", "enter")
        await pilot.press(*f"{tmp_path}/pa")
        path = app.screen.query_one("#collection-path", Input)
        await until(pilot, lambda: path._suggestion == f"{papers}/")  # completed from the file system
        await pilot.press("right", "enter")
        await until(pilot, lambda: "papers" in tomllib.loads(config_file(app).read_text()).get("collections", {}))
        text = config_file(app).read_text()
        assert "# the notes collection: this comment stays" in text
        assert tomllib.loads(text)["collections"]["papers"] == {"paths": [f"{papers}/"]}
        await until(pilot, lambda: ready(app, "papers"), INDEXED_S)
        assert rows(app)["papers"][3] == "1"

        table = app.query_one("#docs-table", DataTable)
        table.focus()
        table.move_cursor(row=list(rows(app)).index("notes"))
        await pilot.press("d")  # a collection a client uses: taken out of the client too, or the file is invalid
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "reader" in screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: "notes" not in tomllib.loads(config_file(app).read_text())["collections"])
        saved = tomllib.loads(config_file(app).read_text())
        assert saved["clients"]["reader"]["collections"] == [] and "papers" in saved["collections"]
        await until(pilot, lambda: "notes" not in rows(app), 15)
        assert "papers" in rows(app)


async def test_attached_the_tab_reads_and_searches_but_edits_nothing(upstreams, tmp_path):
    folder = write_documents(tmp_path / "notes")
    server = start_gateway(gateway_config(upstreams) + collection("notes", folder), tmp_path)
    try:
        before = server.config_path.read_text()
        app = GatehouseApp(server.base_url, SERVER_KEY)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("5")
            await until(pilot, lambda: ready(app, "notes"), INDEXED_S)
            for key in ("a", "d", "r"):
                app.query_one("#docs-table").focus()
                await pilot.press(key)
                await pilot.pause()
                assert not isinstance(app.screen, (AddCollectionScreen, ConfirmScreen))
            assert read_only_note("the collections") in notes(app)
            assert "Attached: reindexing 'notes'" in notes(app)
            assert "Attached" in str(app.query_one("#docs-keys", Static).render())
            await type_into(pilot, "#docs-query", "Quintaria")
            await pilot.press("enter")
            await until(pilot, lambda: "zorblax.md" in "".join(options(app, "#docs-results")[:1]))
        assert server.config_path.read_text() == before
    finally:
        server.stop()


async def test_the_playground_lists_the_sources_of_an_answer_numbered_as_cited(upstreams, tmp_path):
    folder = write_documents(tmp_path / "notes")
    async with supervised(upstreams, tmp_path, extra=collection("notes", folder)) as (app, pilot):
        await pilot.press("5")
        await until(pilot, lambda: ready(app, "notes"), INDEXED_S)
        await pilot.press("4")
        docs = app.query_one("#play-docs", Select)
        await until(pilot, lambda: ("notes", "notes") in [(str(p), v) for p, v in docs._options])
        docs.focus()
        await pilot.press("enter", "down", "down", "down", "enter")  # client's, all, none, notes
        assert docs.value == "notes"
        await type_into(pilot, "#play-input", "What is the capital of Zorblax?")
        await pilot.press("enter")
        await until(pilot, lambda: app.query(".chat-sources"))
        sources = str(app.query_one(".chat-sources", Static).render())
        assert sources.splitlines()[0] == "Sources" and f"[1] {folder}/zorblax.md (notes)" in sources

        def chats() -> list[dict]:
            answer = httpx.get(f"{app.session.admin.base_url}/admin/activity", params={"client": "tui"},
                               headers={"X-API-Key": SERVER_KEY})
            return [record for record in answer.json()["data"] if record["path"] == "/v1/chat/completions"]
        await until(pilot, chats)

        docs.focus()
        await pilot.press("enter", "up", "enter")  # none: LocalDocs off for the next message
        assert docs.value != "notes"
        await type_into(pilot, "#play-input", "And again about Zorblax?")
        await pilot.press("enter")
        await until(pilot, lambda: len(app.query(".chat-assistant")) == 2
                    and "echo" in str(app.query(".chat-assistant")[-1].render()))
        await asyncio.sleep(0.3)
        assert len(app.query(".chat-sources")) == 1


def test_a_progress_bar_draws_eighths_of_a_cell():
    assert progress_bar(0, 10, 8) == "░" * 8
    assert progress_bar(5, 10, 8) == "████░░░░"
    assert progress_bar(1, 16, 4) == "▎░░░"  # a quarter of a cell
    assert progress_bar(3, 0, 4) == "░░░░"  # no total yet
    assert progress_bar(12, 10, 4) == "████"


def test_a_snippet_shows_the_text_around_the_querys_first_word():
    text = "river orchard bell valley willow " * 10 + "The Albatrellus migration was first charted by Odile Ferrand."
    shown = excerpt(text, "who charted the Albatrellus migration?", width=80)
    assert shown.startswith("…") and "The Albatrellus migration was first" in shown and len(shown) <= 82
    assert excerpt("a short text", "the text") == "a short text"


async def test_while_indexing_the_tab_shows_a_bar_files_chunks_and_a_rate_from_successive_reads(tmp_path):
    """The collections as /admin/collections gives them, read twice ten seconds apart (no server answers: the
    app's own reads fail and change nothing)."""
    config_path = tmp_path / "config.toml"
    config_path.write_text(example_config_text().replace("change-me-please", "a-server-key-0123456789"))
    app = GatehouseApp("http://127.0.0.1:9", "a-server-key-0123456789", config_path=config_path,
                       user_themes=tmp_path / "themes")
    entry = {"name": "books", "state": "indexing", "problem": None, "paths": ["/srv/books"], "files": 100,
             "files_indexed": 100, "chunks": 1000, "embedding_model": None, "last_indexed": None, "errors": [],
             "files_total": 400, "files_done": 100}
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        tab = app.query_one(DocumentsTab)
        tab.show([entry])
        tab.readings["books"].at -= 10.0  # the first read, ten seconds ago
        tab.show([{**entry, "files_indexed": 200, "chunks": 2500, "files_done": 200}])
        detail = str(app.query_one("#docs-detail", Static).render())
        assert f"books {progress_bar(200, 400)} 200/400 files · 2,500 chunks · 150 chunks/s" in detail
        assert "/srv/books · the built-in embedder" in detail
        tab.show([{**entry, "state": "ready", "files_indexed": 400, "chunks": 4000, "files_done": 400,
                   "last_indexed": "2026-12-04T20:00:00+00:00"}])
        assert "books ready: 400/400 files · 4,000 chunks" in str(app.query_one("#docs-detail", Static).render())
        await pilot.pause()
