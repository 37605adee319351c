"""Tab 6, Models: every model of every provider, which are loaded, and loading, unloading and pinning them.

The list is `GET /v1/models` (every provider's models) joined with `GET /admin/models/loaded` (what the model
hosts of local GGUF models and Ollama hold now), read on the app's refresh cycle while the tab is shown. A loaded
model shows its state (loading, ready, restarting, busy, or a long prompt's progress), memory, requests, tokens/s
of its last answers and how long it stays loaded (pinned, or the time left before it is unloaded for being idle).
Loaded models come first; the others keep the server's order.

`l` loads the highlighted model (`POST /admin/models/{id}/load`), `u` unloads it, `p` pins it (a load with
`keep_alive: -1`) or, pinned, un-pins it: a load with the keep_alive configured for it (read from
`/admin/config`; the server keeps a pinned model pinned when a load names no keep_alive), Ollama's own default
for an Ollama model. A cloud model has nothing to load: the server's refusal (400 model_not_loadable) is a
notification. Attached to a server started elsewhere these keys work too: they change what is in memory, never
the config file, and a chat in the Playground loads a model just the same.

A model host that crashed and was restarted (`/admin/status` local_model_crashes) is said here, in the status
line and in the Server tab (`crash_text`).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widgets import DataTable, Static

from tui.admin_client import AdminError
from tui.session import Session

COLUMNS = ("model", "state", "memory", "reqs", "tok/s", "stays")
MODEL_WIDTH = 30
"""A longer model id is cut with '…' so that every column fits 80 columns (the detail line has it whole)."""
LOADABLE = ("llamacpp", "ollama")
"""Provider types whose models load and unload (the others' models are always available)."""
LOAD_TIMEOUT_S = 300.0
"""A load answers once the model is in memory: a large GGUF on a slow disk takes a while."""
DEFAULT_KEEP_ALIVE_S = 300
"""A local model's keep_alive when the config gives none (api/config/settings.py LocalSettings)."""
GIVE_UP_AFTER = 5
"""The server stops restarting a model host after this many crashes in a row (api/local/hosts.py)."""


def memory(mb: float | None) -> str:
    if mb is None:
        return "-"
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB"


def duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s".removesuffix("00s")
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m".removesuffix("00m")


def clock(iso: str | None) -> str:
    """An ISO time as the local HH:MM, or '-'."""
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%H:%M")
    except ValueError:
        return iso[11:16]


def signal_of(how: str) -> str:
    """A crash's cause, short: "was killed by SIGKILL" → "SIGKILL", "exited with code 134" → "code 134"."""
    return how.removeprefix("was killed by ").removeprefix("exited with ")


def crash_text(crash: dict, loaded: dict[str, dict] | None = None) -> str:
    """One model host crash as a person reads it: "local:gemma crashed 21:04 (SIGKILL), restarted"."""
    model = crash["model"] + (" (embeddings)" if crash.get("embedding") else "")
    entry = (loaded or {}).get(model)
    if entry is not None and entry.get("state") in ("restarting", "loading"):
        after = "restarting"
    elif int(crash.get("restarts") or 0) >= GIVE_UP_AFTER and entry is None:
        after = f"not restarted after {crash['restarts']} crashes in a row"
    else:
        after = "restarted"
    return f"{model} crashed {clock(crash.get('at'))} ({signal_of(str(crash.get('how') or '?'))}), {after}"


def progress(entry: dict) -> tuple[int, int] | None:
    """The first long prompt being read by the model: (tokens processed, tokens in all)."""
    for step in entry.get("prompt_progress") or ():
        total = int(step.get("total") or 0)
        if total > 0:
            return int(step.get("processed") or 0), total
    return None


def cut(value: str, width: int) -> Text:
    text = Text(value)
    text.truncate(width, overflow="ellipsis")
    return text


class ModelsTab(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "load", "Load"),
        Binding("u", "unload", "Unload"),
        Binding("p", "pin", "Pin/unpin"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(id="models-tab")
        self.session = session
        self.models: list[dict] = []
        """Every model of every provider, as /v1/models last gave them."""
        self.loaded: dict[str, dict] = {}
        """What is in memory, by model id ("provider:model", " (embeddings)" added for an embedding host)."""
        self.problems: list[dict] = []
        self.crashes: list[dict] = []
        self.read = False
        self.now = time.time
        """The clock the time left before an unload is counted from (a fixed one in the snapshots)."""

    def compose(self) -> ComposeResult:
        yield DataTable(id="model-list", cursor_type="row", zebra_stripes=False)
        yield Static("Waiting for the server…", id="model-detail", markup=False)
        yield Static("", id="model-crashes", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#model-list", DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        self.query_one("#model-crashes").display = False

    # --- reading --------------------------------------------------------------------------

    async def refresh_models(self) -> None:
        """Read every model and what is loaded, and show them (the app's refresh cycle, while the tab is shown)."""
        admin = self.session.admin
        try:
            listed, loaded = await asyncio.gather(admin.get("/v1/models"), admin.get("/admin/models/loaded"))
        except AdminError as error:
            try:
                self._detail(f"Cannot read the models: {error}")
            except NoMatches:
                pass
            return
        try:
            self.show(listed.get("data") or [], loaded.get("data") or [], loaded.get("problems") or [])
        except NoMatches:  # the app closed while the server was being asked
            return

    def show(self, models: list[dict], loaded: list[dict], problems: list[dict] | None = None) -> None:
        self.models = models
        listed = {model["id"] for model in models}

        def named(entry: dict) -> str:  # Ollama's /api/ps names "llama3:latest" what /v1/models may call "llama3"
            model = entry["model"]
            if model not in listed and model.removesuffix(":latest") in listed:
                model = model.removesuffix(":latest")
            return model + (" (embeddings)" if entry.get("embedding") else "")

        self.loaded = {named(entry): entry for entry in loaded}
        self.problems = problems or []
        self.read = True
        rows: list[tuple[str, dict | None]] = list(self.loaded.items())  # loaded first, as the server lists them
        rows += [(model["id"], None) for model in models if model["id"] not in self.loaded]
        table = self.query_one("#model-list", DataTable)
        selected = self.selected_id()
        table.clear()
        for key, entry in rows:
            table.add_row(*self._cells(key, entry), key=key)
        keys = [key for key, _ in rows]
        if selected in keys:
            table.move_cursor(row=keys.index(selected), animate=False)
        self._show_selected()
        self._show_crashes()

    def _type_of(self, model_id: str) -> str | None:
        listed = next((model for model in self.models if model["id"] == model_id), None)
        return (listed or {}).get("provider_type")

    def _cells(self, key: str, entry: dict | None) -> tuple[Text | str, ...]:
        if entry is None:
            kind = self._type_of(key)
            state = "-" if kind in LOADABLE or kind is None else "remote"
            return cut(key, MODEL_WIDTH), state, "", "", "", ""
        return (cut(key, MODEL_WIDTH), self._state(entry), memory(entry.get("memory_mb")),
                str(entry.get("requests") or 0),
                f"{entry['tokens_per_s']:.1f}" if entry.get("tokens_per_s") is not None else "-",
                self._stays(entry))

    def _state(self, entry: dict) -> str:
        if (reading := progress(entry)) is not None:
            return f"prompt {reading[0] * 100 // reading[1]}%"
        if entry.get("state") == "ready" and entry.get("active"):
            return f"busy {entry['active']}"
        return str(entry.get("state") or "ready")

    def _stays(self, entry: dict) -> str:
        if entry.get("pinned"):
            return "pinned"
        if not entry.get("expires_at"):
            return "-"  # busy: the idle time counts from its last request
        try:
            left = datetime.fromisoformat(entry["expires_at"]).timestamp() - self.now()
        except ValueError:
            return "?"
        return duration(left)

    def selected_id(self) -> str | None:
        table = self.query_one("#model-list", DataTable)
        if not table.row_count:
            return None
        return str(table.ordered_rows[min(table.cursor_row, table.row_count - 1)].key.value)

    def _detail(self, text: str) -> None:
        self.query_one("#model-detail", Static).update(text)

    def _show_selected(self) -> None:
        key = self.selected_id()
        if key is None:
            self._detail("No model: configure a provider in tab 1." if self.read else "Waiting for the server…")
            return
        entry = self.loaded.get(key)
        kind = self._type_of(key.removesuffix(" (embeddings)"))
        if entry is None:
            how = ("not loaded: l loads it, p loads and pins it" if kind in LOADABLE or kind is None
                   else f"a {kind} model: always available, nothing to load")
            listed = next((model for model in self.models if model["id"] == key), {})
            size = f" · {memory(listed['size_bytes'] / 1048576)} file" if listed.get("size_bytes") else ""
            self._detail(f"{key}{size}\n{how}")
            return
        pid = f"pid {entry['pid']}" if entry.get("pid") else "held by Ollama"
        first = f"{key} · {pid} · loaded {clock(entry.get('loaded_at'))} · {entry.get('requests') or 0} requests"
        if (reading := progress(entry)) is not None:
            second = f"reading a long prompt: {reading[0]:,}/{reading[1]:,} tokens"
        elif entry.get("pinned"):
            second = "pinned: stays loaded until u unloads it (p un-pins)"
        elif entry.get("expires_at"):
            second = f"unloaded when idle at {clock(entry['expires_at'])} (p pins it)"
        else:
            second = f"{entry.get('active') or 0} request(s) running"
        self._detail(f"{first}\n{second}")

    def show_crashes(self, crashes: list[dict]) -> None:
        """The model host crashes /admin/status reports (the app hands them over on every refresh)."""
        self.crashes = crashes
        try:
            self._show_crashes()
        except NoMatches:
            return

    def _show_crashes(self) -> None:
        lines = [f"✗ {problem['provider']}: {problem['message']}" for problem in self.problems]
        if self.crashes:
            more = f" (and {len(self.crashes) - 1} before)" if len(self.crashes) > 1 else ""
            lines.append(f"⚠ {crash_text(self.crashes[-1], self.loaded)}{more}")
        crashes = self.query_one("#model-crashes", Static)
        crashes.update("\n".join(lines))
        crashes.display = bool(lines)

    @on(DataTable.RowHighlighted, "#model-list")
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_selected()

    # --- actions ----------------------------------------------------------------------------

    def _target(self) -> str | None:
        key = self.selected_id()
        if key is None:
            self.notify("No model to act on.", severity="warning")
        return key.removesuffix(" (embeddings)") if key else None

    @work(group="models-refresh")
    async def _refresh_soon(self) -> None:
        for _ in range(4):
            await self.refresh_models()
            await asyncio.sleep(0.5)

    async def _load(self, model: str, body: dict, doing: str) -> dict | None:
        self.notify(f"{doing} {model}…")
        self._refresh_soon()
        try:
            entry = await self.session.admin.post(f"/admin/models/{model}/load", body, timeout_s=LOAD_TIMEOUT_S)
        except AdminError as error:
            self.notify(f"{model}: {error}", title="Not loaded", severity="error", timeout=10)
            return None
        await self.refresh_models()
        return entry

    @work(group="models-load")
    async def action_load(self) -> None:
        if (model := self._target()) is None:
            return
        entry = await self._load(model, {}, "Loading")
        if entry is not None:
            stays = "pinned" if entry.get("pinned") else f"unloaded after {self._stays(entry)} idle"
            self.notify(f"{model} loaded: {memory(entry.get('memory_mb'))}, {stays}.")

    @work(group="models-load")
    async def action_pin(self) -> None:
        if (model := self._target()) is None:
            return
        entry = self.loaded.get(model)
        if entry is None or not entry.get("pinned"):
            if await self._load(model, {"keep_alive": -1}, "Pinning") is not None:
                self.notify(f"{model} pinned: it stays loaded until unloaded (u).")
            return
        keep = await self._configured_keep_alive(model)
        if await self._load(model, {} if keep is None else {"keep_alive": keep}, "Un-pinning") is not None:
            after = duration(keep) if keep is not None else "Ollama's default time"
            self.notify(f"{model} un-pinned: unloaded after {after} idle.")

    async def _configured_keep_alive(self, model: str) -> int | None:
        """The idle time an un-pinned local model gets: the keep_alive the config gives it (its own, else its
        provider's; one that pins it counts as not given), else the default 5 minutes. None for an Ollama model:
        a load that names no keep_alive gets Ollama's own default. (A load naming no keep_alive leaves a loaded
        local model pinned, so the time is always sent for those.)"""
        if self._type_of(model) == "ollama":
            return None
        provider, _, name = model.partition(":")
        try:
            config = await self.session.admin.get("/admin/config")
        except AdminError:
            config = {}
        local = ((config.get("providers") or {}).get(provider) or {}).get("local") or {}
        for keep in (((local.get("models") or {}).get(name) or {}).get("keep_alive"), local.get("keep_alive")):
            if isinstance(keep, int) and keep >= 0:
                return keep
        return DEFAULT_KEEP_ALIVE_S

    @work(group="models-load")
    async def action_unload(self) -> None:
        if (model := self._target()) is None:
            return
        try:
            answer = await self.session.admin.post(f"/admin/models/{model}/unload")
        except AdminError as error:
            self.notify(f"{model}: {error}", title="Not unloaded", severity="error", timeout=10)
            return
        if answer.get("unloaded"):
            self.notify(f"Unloading {model} (once its requests in flight are done).")
        else:
            self.notify(f"{model} was not loaded.")
        self._refresh_soon()
