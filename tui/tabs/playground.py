"""Tab 4, Playground: chat with any model as client `tui`, the answer streaming in.

The model, prompt and temperature chosen here are the `tui` client's settings, saved in
`[clients.tui]` (what "copy the TUI settings to the server client" moves to `server`).
"docs" picks the LocalDocs collections searched for each message (sent with the request, not saved):
the client's own, all, none, or one; an answer that used sources lists them below it, numbered as
the answer cites them ([1], [2], …).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Input, Label, Select, Static
from textual.worker import Worker

from tui.admin_client import AdminError, Sources
from tui.messages import ConfigEdit
from tui.session import Session

NO_PROMPT = ""
CLIENTS_DOCS, ALL_DOCS, NO_DOCS = "\x00client", "\x00all", "\x00none"
"""The "docs" choices that are not one collection: the `tui` client's own collections, every one, none."""


def sources_text(sources: list[dict]) -> Content:
    """An answer's sources, numbered as it cites them; plain text (a path may hold '[')."""
    lines = [Content.styled("Sources", "bold")]
    for source in sources:
        page = f" p.{source['page']}" if source.get("page") else ""
        lines.append(Content(f"[{source['id']}] {source['path']}{page} ({source['collection']})"))
    return Content("\n").join(lines)


class PlaygroundTab(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", "Stop answer / leave field", show=False),
        Binding("ctrl+n", "new_chat", "New chat"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(id="playground-tab")
        self.session = session
        self.messages: list[dict] = []
        self.settings: dict = {}
        """The `tui` client's model, prompt and temperature as last read."""
        self.answering: Worker | None = None
        self.generation: int | None = None
        self.collections: list[str] = []
        """The server's LocalDocs collections, offered under "docs"."""
        """The server's config generation the model list was read at: a new one (a provider added) reads it again."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="playground-settings"):
            yield Label("model")
            yield Select([], id="play-model", compact=True, prompt="the client's model")
            yield Label("prompt")
            yield Select([], id="play-prompt", compact=True, prompt="none")
            yield Label("temp.")
            yield Input(id="play-temperature", compact=True, placeholder="-", select_on_focus=False)
            yield Label("docs")
            yield Select([("client's", CLIENTS_DOCS), ("all", ALL_DOCS), ("none", NO_DOCS)], id="play-docs",
                         compact=True, allow_blank=False, value=CLIENTS_DOCS)
        yield VerticalScroll(Static("Type below and press enter. Tab 1 edits the client 'tui' too.",
                                    classes="field-help"), id="chat")
        yield Input(placeholder="Message (enter sends; escape stops the answer; ctrl+n new chat)", id="play-input")

    async def load(self, generation: int | None = None) -> None:
        """The models the gateway serves and the `tui` client's settings, as of config `generation`."""
        try:
            models = await self.session.admin.get("/v1/models")
            client = await self.session.admin.get("/admin/clients/tui")
            config = await self.session.admin.get("/admin/config")
        except AdminError as error:
            self.notify(f"Playground: {error}", severity="error")
            return
        self.generation = generation
        try:
            self.collections = [entry["name"] for entry in
                                (await self.session.admin.get("/admin/collections")).get("data") or ()]
        except AdminError:
            self.collections = []  # a server without LocalDocs: the choice stays the client's own
        docs = self.query_one("#play-docs", Select)
        with self.prevent(Select.Changed):
            chosen = docs.value
            docs.set_options([("client's", CLIENTS_DOCS), ("all", ALL_DOCS), ("none", NO_DOCS),
                              *((name, name) for name in self.collections)])
            docs.value = chosen if chosen in (CLIENTS_DOCS, ALL_DOCS, NO_DOCS, *self.collections) else CLIENTS_DOCS
        self.settings = {"model": client["model"]["id"], "prompt": (client["prompt"] or {}).get("name"),
                         "temperature": client["temperature"]}
        ids = [model["id"] for model in models["data"]]
        model = self.query_one("#play-model", Select)
        prompt = self.query_one("#play-prompt", Select)
        with self.prevent(Select.Changed):  # shown as read, not a choice of the user's to save
            model.set_options([(name, name) for name in ids])
            if self.settings["model"] in ids:
                model.value = self.settings["model"]
            prompt.set_options([(name, name) for name in config.get("prompts") or {}])
            if self.settings["prompt"]:
                prompt.value = self.settings["prompt"]
        temperature = self.query_one("#play-temperature", Input)
        if not temperature.has_focus:  # what is being typed there stays
            value = self.settings["temperature"]
            temperature.value = "" if value is None else f"{value:g}"

    # --- the tui client's settings --------------------------------------------------------

    def _keep(self, key: str, value: object) -> None:
        """Save one of the `tui` client's settings, if it changed."""
        if value == self.settings.get(key):
            return
        self.settings[key] = value
        if self.session.read_only:
            self.notify("Attached: the setting applies to this chat only (the config is read-only here).")
            return
        self.post_message(ConfigEdit({f"clients.tui.{key}": value}, f"clients.tui.{key}"))

    @on(Select.Changed, "#play-model")
    def _model(self, event: Select.Changed) -> None:
        if event.value is not Select.NULL:
            self._keep("model", event.value)

    @on(Select.Changed, "#play-prompt")
    def _prompt(self, event: Select.Changed) -> None:
        self._keep("prompt", None if event.value is Select.NULL else event.value)

    @on(Input.Submitted, "#play-temperature")
    def _temperature(self, event: Input.Submitted) -> None:
        if self._keep_temperature(event.value):
            self.query_one("#play-input", Input).focus()

    @on(Input.Blurred, "#play-temperature")
    def _temperature_left(self, event: Input.Blurred) -> None:
        """Leaving the field (tab, escape) applies what was typed, as enter does."""
        self._keep_temperature(event.value)

    def _keep_temperature(self, typed: str) -> bool:
        """Keep a temperature typed (empty: the model's default); False, with a note, if it is not one."""
        text = typed.strip()
        try:
            value = float(text) if text else None
        except ValueError:
            value = -1.0
        if value is not None and not 0 <= value <= 2:
            self.notify("temperature: a number from 0 to 2 (empty: the model's default)", severity="error")
            return False
        self._keep("temperature", value)
        return True

    # --- chatting -------------------------------------------------------------------------

    @on(Input.Submitted, "#play-input")
    async def _send(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        event.input.value = ""
        self.messages.append({"role": "user", "content": text})
        chat = self.query_one("#chat", VerticalScroll)
        await chat.mount(Static(text, classes="chat-user", markup=False))
        answer = Static("…", classes="chat-assistant", markup=False)
        await chat.mount(answer)
        chat.scroll_end(animate=False)
        self.answering = self.answer(answer)

    @work(exclusive=True, group="playground")
    async def answer(self, widget: Static) -> None:
        model = self.query_one("#play-model", Select).value
        body = {"model": "default" if model is Select.NULL else model, "messages": self.messages,
                "stream_options": {"include_usage": True}}
        docs = self.query_one("#play-docs", Select).value
        if docs != CLIENTS_DOCS:
            chosen = self.collections if docs == ALL_DOCS else [] if docs == NO_DOCS else [docs]
            body["localdocs"] = {"collections": chosen}
        text = ""
        try:
            async for piece in self.session.admin.chat_events(body):
                if isinstance(piece, Sources):
                    await self._show_sources(widget, piece)
                    continue
                text += piece
                widget.update(text)
                self.query_one("#chat", VerticalScroll).scroll_end(animate=False)
        except AdminError as error:
            widget.update(f"{text}\n[error] {error}" if text else f"[error] {error}")
            widget.add_class("chat-error")
            return
        except asyncio.CancelledError:  # escape, a new message, or ctrl+n
            widget.update(f"{text} (stopped)" if text else "(stopped)")
            raise
        finally:
            if text:
                self.messages.append({"role": "assistant", "content": text})
        if not text:
            widget.update("(no text in the answer)")

    async def _show_sources(self, answer: Static, sources: Sources) -> None:
        """The sources an answer used, under it."""
        if sources:
            chat = self.query_one("#chat", VerticalScroll)
            await chat.mount(Static(sources_text(sources), classes="chat-sources", markup=False), after=answer)
            chat.scroll_end(animate=False)

    def action_stop(self) -> None:
        """Stop the answer being streamed (the gateway cancels the upstream request); with no
        answer running, escape does what it does elsewhere (leaves the text field)."""
        if self.answering is None or not self.answering.is_running:
            raise SkipAction
        self.answering.cancel()
        self.notify("Answer stopped.")

    async def action_new_chat(self) -> None:
        if self.answering is not None:
            self.answering.cancel()
        self.messages.clear()
        await self.query_one("#chat", VerticalScroll).remove_children()
        self.query_one("#play-input", Input).focus()
