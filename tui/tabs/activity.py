"""Tab 3, Activity: the live table of requests, its filters, one record in full, and a trend.

Records arrive from the server's SSE tail into a buffer; a timer moves them into the table a
few times a second, so hundreds of requests per second cost a few redraws, not hundreds.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Sparkline, Static

from tui.admin_client import AdminError
from tui.limits_text import budget_spend, cost_cell
from tui.screens import RecordScreen
from tui.session import Session

ACTIVITY_ROWS = 500
"""Rows kept in the table (the oldest go first)."""
COLUMNS = ("time", "client", "model", "status", "latency", "tokens", "cost")
CLIENT_WIDTH, MODEL_WIDTH = 12, 20
"""At 80 columns a longer client name or model is cut with '…' (so status, latency, tokens and cost stay in
view); wider terminals give them more (`widths`). The record in full (enter) has all of it."""
BUDGETS_S = 5.0
"""How often the clients' spend against their budgets is read again."""
FLUSH_S = 0.25
TREND_S = 60
"""Seconds of history in the requests/s and tokens/s trend."""
STATUS_FILTERS = ("all", "ok", "errors")


def widths(columns: int) -> tuple[int, int]:
    """The client's and the model's widths in a terminal this wide: a quarter and a half of what is beyond 80."""
    extra = max(0, columns - 80)
    return min(CLIENT_WIDTH + extra // 4, 32), min(MODEL_WIDTH + extra // 2, 48)


def activity_cells(record: dict, client_width: int = CLIENT_WIDTH,
                   model_width: int = MODEL_WIDTH) -> tuple[str | Text, ...]:
    """A record's row; the client and model as plain Text (a client names itself, and '[' is markup)."""
    status = f"{record['status']}{' ✗' if record['error'] and record['status'] < 400 else ''}"  # failed after a 200
    if record.get("limited"):  # refused by one of the client's limits: which
        status = f"{record['status']} {record['limited']}"
    return (record["time"][11:19], _cut(record["client"], client_width), _cut(model_or_path(record), model_width),
            status, f"{record['latency_ms']:.0f} ms", _tokens(record), cost_cell(record))


def _tokens(record: dict) -> str:
    """The tokens column: input+output (`~` when estimated); for a LocalDocs search, the snippets it found."""
    if record["total_tokens"] is not None:
        estimated = "~" if record["tokens_estimated"] else ""
        return f"{estimated}{record['input_tokens'] or 0}+{record['output_tokens'] or 0}"
    if not record["model"] and record.get("localdocs_snippets") is not None:
        return f"{record['localdocs_snippets']} found"
    return "-"


def failed(record: dict) -> bool:
    """An error status, or an error after a 200 (a stream broken off, a client that left), as the server's
    `status=error` filter counts it."""
    return record["status"] >= 400 or bool(record["error"])


def _cut(value: str, width: int) -> Text:
    text = Text(value)
    text.truncate(width, overflow="ellipsis")
    return text


PATH_LABELS = {"/v1/localdocs/search": "localdocs search"}


def model_or_path(record: dict) -> str:
    """What the model column shows, and the model filter matches: the model; for an MCP request its tool or
    method (`mcp search_documents`, `mcp initialize`); else a label for its path, or the path (GET /v1/models…)."""
    if record["model"]:
        return record["model"]
    if record.get("tool"):
        return f"mcp {record['tool'].removeprefix('tools/call ')}"  # a tool by its name, other methods whole
    return PATH_LABELS.get(record["path"], record["path"])


class Trend:
    """Requests and tokens per second over the last TREND_S seconds, by each record's own time
    (so a burst that reaches the table late still counts in the second it happened)."""

    def __init__(self) -> None:
        self.seconds: dict[int, list[int]] = {}
        """Epoch second → [requests, tokens]."""

    def count(self, record: dict) -> None:
        bucket = self.seconds.setdefault(int(record["ts"]), [0, 0])
        bucket[0] += 1
        bucket[1] += record["total_tokens"] or 0

    def series(self, now: float) -> tuple[list[int], list[int]]:
        """Requests and tokens for each of the last TREND_S seconds, oldest first; older ones are dropped."""
        last = int(now)
        for second in [second for second in self.seconds if second <= last - TREND_S]:
            del self.seconds[second]
        window = [self.seconds.get(second, (0, 0)) for second in range(last - TREND_S + 1, last + 1)]
        return [bucket[0] for bucket in window], [bucket[1] for bucket in window]


def figures(requests: list[int], tokens: list[int]) -> str:
    """The header's rates: each an average over the whole window (the last TREND_S seconds of records'
    times, those read at the start too), not the last second alone, which is mostly 0 between requests."""
    return f"{sum(requests) / TREND_S:>5.2f} req/s {sum(tokens) / TREND_S:>6.1f} tok/s"


class ActivityTab(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "toggle_live", "Live on/off"),
        Binding("s", "server_only", "Only server"),
        Binding("f", "status_filter", "Status"),
        Binding("m", "model_filter", "Model"),
        Binding("r", "reload", "Reload", show=False),  # in the help (?): the footer fits 80 columns
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(id="activity-tab")
        self.session = session
        self.records: deque[dict] = deque(maxlen=ACTIVITY_ROWS)
        self.pending: list[dict] = []
        self.last_id: int | None = None
        """The newest record received: the live tail resumes after it (across server restarts too)."""
        self.trend = Trend()
        self.live = True
        self.server_only = False
        self.status_filter = "all"
        self.model_filter = ""
        self.widths = (CLIENT_WIDTH, MODEL_WIDTH)
        """The client's and model's widths of the rows shown."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="activity-trend"):
            yield Static("", id="trend-figures")
            yield Sparkline([0] * TREND_S, id="trend-requests")
            yield Sparkline([0] * TREND_S, id="trend-tokens")
        yield Static(id="activity-filter", markup=False)
        yield Static(id="activity-budgets", markup=False)
        yield Input(placeholder="model contains… (enter applies, empty shows all)", id="model-filter",
                    compact=True)
        yield DataTable(id="activity-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#activity-table", DataTable).add_columns(*COLUMNS)
        self.query_one("#model-filter", Input).display = False
        self.set_interval(FLUSH_S, self.flush)
        self.follow()
        self._show_filter()
        self.query_one("#activity-budgets", Static).display = False
        self.show_budgets()
        self.set_interval(BUDGETS_S, self.show_budgets)

    @work(exclusive=True, group="budgets")
    async def show_budgets(self) -> None:
        """The clients' spend against their budgets, in a line above the table (none without budgets)."""
        try:
            entries = (await self.session.admin.get("/admin/limits"))["data"]
        except AdminError:
            return
        self.show_spends(entries)

    def show_spends(self, entries: list[dict]) -> None:
        """The spend line of these clients' limits (GET /admin/limits entries)."""
        spends = [spend for entry in entries if (spend := budget_spend(entry))]
        line = self.query_one("#activity-budgets", Static)
        line.update("spend: " + " · ".join(spends))
        line.display = bool(spends)

    @work(exclusive=True, group="activity")
    async def follow(self) -> None:
        """The last records, then the server's live activity after them; after a restart, from where
        it stopped (reconnecting every second while the server is away)."""
        while True:
            try:
                if self.last_id is None:
                    history = (await self.session.admin.get("/admin/activity", limit=ACTIVITY_ROWS))["data"][::-1]
                    self.pending.extend(history)
                    self.last_id = history[-1]["id"] if history else 0
                async for record in self.session.admin.tail(self.last_id):
                    self.pending.append(record)
                    self.last_id = record["id"]
            except AdminError:
                pass
            await asyncio.sleep(1)

    def flush(self) -> None:
        """Move what arrived since the last flush into the table, and move the trend on."""
        arrived, self.pending = self.pending, []
        for record in arrived:
            self.records.append(record)
            self.trend.count(record)
        if self.live:
            self._add_rows([record for record in arrived if self._shown(record)])
        self._show_trend()

    def _show_trend(self) -> None:
        requests, tokens = self.trend.series(time.time())
        self.query_one("#trend-requests", Sparkline).data = requests
        self.query_one("#trend-tokens", Sparkline).data = tokens
        self.query_one("#trend-figures", Static).update(figures(requests, tokens))

    def _shown(self, record: dict) -> bool:
        return ((not self.server_only or record["client"] == "server")
                and (self.status_filter == "all" or failed(record) == (self.status_filter == "errors"))
                and self.model_filter.lower() in model_or_path(record).lower())

    def _add_rows(self, records: list[dict]) -> None:
        table = self.query_one("#activity-table", DataTable)
        following = table.cursor_row >= table.row_count - 1  # on the newest row: stay on the newest
        self.widths = client_width, model_width = widths(self.app.size.width)
        for record in records[-ACTIVITY_ROWS:]:
            table.add_row(*activity_cells(record, client_width, model_width), key=str(record["id"]))
        while table.row_count > ACTIVITY_ROWS:
            table.remove_row(next(iter(table.rows)))
        if following and table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False)

    def on_resize(self) -> None:
        if widths(self.app.size.width) != self.widths:  # the rows' client and model cut to the new width
            self._rebuild()

    def _rebuild(self) -> None:
        self.query_one("#activity-table", DataTable).clear()
        self._add_rows([record for record in self.records if self._shown(record)])
        self._show_filter()

    def _show_filter(self) -> None:
        model = f"'{self.model_filter}'" if self.model_filter else "all"
        self.query_one("#activity-filter", Static).update(
            f"live: {'on' if self.live else 'paused'}   clients: {'only server' if self.server_only else 'all'}"
            f"   status: {self.status_filter}   models: {model}")

    def action_toggle_live(self) -> None:
        self.live = not self.live
        self._rebuild()

    def action_server_only(self) -> None:
        self.server_only = not self.server_only
        self._rebuild()

    def action_status_filter(self) -> None:
        self.status_filter = STATUS_FILTERS[(STATUS_FILTERS.index(self.status_filter) + 1) % len(STATUS_FILTERS)]
        self._rebuild()

    def action_model_filter(self) -> None:
        field = self.query_one("#model-filter", Input)
        field.display = True
        field.value = self.model_filter
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.model_filter = event.value.strip()
        event.input.display = bool(self.model_filter)
        self.query_one("#activity-table", DataTable).focus()
        self._rebuild()

    async def action_reload(self) -> None:
        """Read the last records from the server again (what the live table may have missed)."""
        try:
            page = await self.session.admin.get("/admin/activity", limit=ACTIVITY_ROWS)
        except AdminError as error:
            self.notify(str(error), severity="error")
            return
        self.records.clear()
        self.records.extend(reversed(page["data"]))
        self._rebuild()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        record = next((r for r in self.records if str(r["id"]) == event.row_key.value), None)
        if record is not None:
            self.app.push_screen(RecordScreen(record))
