"""A client's limits and budget, checked before its request goes upstream and settled when it ends.

Kept in the ledger every worker shares (api/govern/ledger.py), so they hold exactly across workers and
restarts:

- `rpm`: a GCRA clock (the generic cell rate algorithm, a token bucket kept as one number): `rpm` requests
  at once, then one every 60/rpm seconds; the (rpm+1)-th request within a minute is refused.
- `tpm`: the same clock counted in tokens, but tokens are only known when the answer ends: a request is let
  in while the client has tokens left this minute, and its input + output tokens are counted when it ends (so
  the last one let in may go over; the next waits until the excess is paid back).
- `max_concurrent`: requests in flight, counted per worker process in the ledger (a dead worker's are given
  back).
- `budget`: spend per calendar day or month (UTC), in US dollars by the price table or in tokens, checked
  before a request and settled with its cost when it ends.
"""

from __future__ import annotations

import calendar
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from api.config.settings import BudgetSettings, ClientSettings
from api.govern import _gate
from api.govern._gate import IN_FLIGHT, PERIOD, RPM_CLOCK, SPENT, TPM_CLOCK, UNPRICED
from api.govern.ledger import Ledger
from api.store.activity import Record
from api.wire.rate_limits import RateLimited, RateLimits, Window
from api.wire.times import iso

log = logging.getLogger("gatehouse")

MINUTE = 60.0
CONCURRENT_RETRY_S = 1.0
"""The wait a refusal for too many requests in flight suggests."""
_EPSILON = 1e-9
_REFUSED_BY = {_gate.BUDGET: "budget", _gate.CONCURRENT: "concurrent", _gate.TPM: "tpm", _gate.RPM: "rpm"}
"""The limits by the code the gate answers when one refuses a request."""


def period_start(period: str, now: float) -> float:
    """Epoch seconds at which the calendar day or month (UTC) holding `now` began."""
    day = time.gmtime(now)
    if period == "day":
        return float(calendar.timegm((day.tm_year, day.tm_mon, day.tm_mday, 0, 0, 0)))
    return float(calendar.timegm((day.tm_year, day.tm_mon, 1, 0, 0, 0)))


def period_end(period: str, now: float) -> float:
    """Epoch seconds at which the period holding `now` ends."""
    start = period_start(period, now)
    if period == "day":
        return start + 86400
    day = time.gmtime(start)
    year, month = (day.tm_year + 1, 1) if day.tm_mon == 12 else (day.tm_year, day.tm_mon + 1)
    return float(calendar.timegm((year, month, 1, 0, 0, 0)))


def _window(limit: int | None, clock: float, now: float) -> Window | None:
    """What a per-minute GCRA clock leaves: whole units left, and the wait until all are back."""
    if not limit:
        return None
    interval = MINUTE / limit
    ahead = max(clock - now, 0.0)
    return Window(limit, max(0, min(limit, math.floor((MINUTE - ahead) / interval + _EPSILON))), ahead)


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A budget in its current period."""

    settings: BudgetSettings
    spent: float
    unpriced: int
    """Answers this period whose cost is unknown (no price for their model): not in `spent`."""
    starts: float
    ends: float

    @property
    def remaining(self) -> float:
        return max(self.settings.amount - self.spent, 0.0)


def _nothing_to_settle(record: Record) -> None:
    """The settlement of a request whose client's only limit is its rpm, counted when it was let in."""


class ClientLimits:
    """One client's limits as its settings say, kept in the shared ledger."""

    def __init__(self, settings: ClientSettings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        with ledger.locked():
            entry = ledger.entry(ledger_key(settings.name))
        budget = settings.budget
        self._gate = ledger.gate(entry, settings.rpm or 0, settings.tpm or 0, settings.max_concurrent or 0,
                                 None if budget is None else budget.amount,
                                 budget is not None and budget.currency == "tokens")
        """The client's entry in the ledger, let in and settled in C (api/govern/_gate.c)."""
        self._admit = self._gate.admit
        self._rpm_interval = MINUTE / settings.rpm if settings.rpm else 0.0
        self._tpm_interval = MINUTE / settings.tpm if settings.tpm else 0.0
        self._settle = self.settle if settings.tpm or settings.max_concurrent or budget is not None \
            else _nothing_to_settle
        """What a record of the client's settles when it ends (the bound method made once): nothing when an answer
        changes nothing here (no tokens, spend or place in flight to count: rpm alone is counted at once)."""
        self._unpriced: set[str | None] = set()
        """Models without a price already warned of."""

    # --- on the request path --------------------------------------------------------------------------

    def admit(self, record: Record) -> None:
        """Let a request in, or raise `RateLimited` (429) naming the limit; nothing is counted for a refused
        request. What an admitted one holds is given back by `settle` when its record ends."""
        outcome = self._admit(time.time())
        if outcome:
            self._refuse(outcome, record)
        record.settles = self._settle

    def _refuse(self, outcome: int, record: Record) -> None:
        """After `admit`'s gate answered `outcome` (not plainly ADMITTED): what the log must say, the budget's
        period entered and the request asked again, then the refusal (none when it was admitted after all)."""
        now = time.time()
        outcome = self._answered(outcome, now, lambda: self._admit(now))
        if outcome == _gate.ADMITTED:
            return
        record.limited = limit = _REFUSED_BY[outcome]
        raise self._refusal(limit, self._gate.values(), now)

    def settle(self, record: Record) -> None:
        """The request ended: count its tokens and cost, and give back its place in flight."""
        now = time.time()
        outcome = self._gate.settle(now, record.total_tokens or 0, record.cost)
        if outcome:
            self._settled(outcome, record, now)

    def _settled(self, outcome: int, record: Record, now: float) -> None:
        """After `settle`'s gate answered `outcome` (not plainly done): what the log must say, the budget's period
        entered and the answer settled again. (Apart from `settle`: its closure would cost `settle` every time.)"""
        tokens, cost = record.total_tokens or 0, record.cost
        outcome = self._answered(outcome, now, lambda: self._gate.settle(now, tokens, cost))
        if outcome == _gate.UNPRICED_ANSWER and record.model not in self._unpriced:
            self._unpriced.add(record.model)
            log.warning("client '%s' has a budget in USD, but %s has no price: its tokens are not counted "
                        "(set a price for it: docs/costs.md; said once per model)", self.settings.name, record.model)

    def _answered(self, outcome: int, now: float, again: Callable[[], int]) -> int:
        """What a gate's call at `now` answered, `outcome`, once the budget's period is entered and the call made
        `again` if it was out of it, and a lock taken from a dead holder said in the log."""
        while outcome == _gate.OUT_OF_PERIOD:
            self._enter_period(now)
            outcome = again()
        if outcome & _gate.RECOVERED:
            self.ledger.recovered()
        return outcome & ~_gate.RECOVERED

    # --- what is left (the admin API) --------------------------------------------------------------------

    def state(self, now: float | None = None) -> dict:
        """The client's limits now: for each, its size and what is left (nothing is changed)."""
        now = time.time() if now is None else now
        settings = self.settings
        values = self._gate.values()
        in_flight = int(values[IN_FLIGHT])
        budget = self._budget(values, now)
        rpm, tpm = _window(settings.rpm, values[RPM_CLOCK], now), _window(settings.tpm, values[TPM_CLOCK], now)
        return {
            "client": settings.name,
            "rpm": None if rpm is None else {"limit": rpm.limit, "remaining": rpm.remaining,
                                             "reset_s": round(rpm.reset_s, 3)},
            "tpm": None if tpm is None else {"limit": tpm.limit, "remaining": tpm.remaining,
                                             "reset_s": round(tpm.reset_s, 3)},
            "max_concurrent": None if not settings.max_concurrent else {"limit": settings.max_concurrent,
                                                                        "in_flight": in_flight},
            "budget": None if budget is None else {
                "amount": budget.settings.amount, "currency": budget.settings.currency,
                "period": budget.settings.period, "spent": round(budget.spent, 6),
                "remaining": round(budget.remaining, 6), "unpriced_requests": budget.unpriced,
                "period_start": iso(budget.starts), "resets_at": iso(budget.ends)},
        }

    # --- helpers -----------------------------------------------------------------------------------------

    def _enter_period(self, now: float) -> None:
        """The client's entry put in the budget's period holding `now` (a new period starts from nothing): until
        it ends, the entry's spend is this period's (no other worker writes another period's start into it)."""
        assert self.settings.budget is not None
        period = self.settings.budget.period
        if self._gate.enter_period(period_start(period, now), period_end(period, now)):
            self.ledger.recovered()

    def _budget(self, values: list[float], now: float) -> BudgetState | None:
        """The budget in the period holding `now`, as `values` (the entry's or a copy of them) say (nothing is
        changed: a spend of an earlier period is none in this one)."""
        settings = self.settings.budget
        if settings is None:
            return None
        starts, ends = period_start(settings.period, now), period_end(settings.period, now)
        if values[PERIOD] != starts:
            return BudgetState(settings, 0.0, 0, starts, ends)
        return BudgetState(settings, values[SPENT], int(values[UNPRICED]), starts, ends)

    def _refusal(self, limit: str, values: list[float], now: float) -> RateLimited:
        """The refusal of a request by `limit`, with the wait until it would pass."""
        name, settings = self.settings.name, self.settings
        windows = RateLimits(_window(settings.rpm, values[RPM_CLOCK], now),
                             _window(settings.tpm, values[TPM_CLOCK], now))
        if limit == "budget":
            budget = self._budget(values, now)
            assert budget is not None
            wait = budget.ends - now
            unit = "USD" if budget.settings.currency == "usd" else "tokens"
            return RateLimited(
                f"Client '{name}' has used its budget of {budget.settings.amount:g} {unit} for this "
                f"{budget.settings.period} ({budget.spent:.6g} spent); it renews in {_wait(wait)}.",
                limit=limit, retry_after_s=wait, windows=windows, retry=False,
                type="insufficient_quota", code="insufficient_quota")
        if limit == "concurrent":
            wait = CONCURRENT_RETRY_S
        elif limit == "tpm":
            wait = values[TPM_CLOCK] - now - MINUTE + self._tpm_interval
        else:
            wait = values[RPM_CLOCK] - now - (MINUTE - self._rpm_interval)
        what = {"rpm": f"{settings.rpm} requests per minute", "tpm": f"{settings.tpm} tokens per minute",
                "concurrent": f"{settings.max_concurrent} requests at once"}[limit]
        return RateLimited(f"Rate limit reached for client '{name}': {what}. Please try again in {_wait(wait)}.",
                           limit=limit, retry_after_s=wait, windows=windows,
                           type="tokens" if limit == "tpm" else "requests")


def _wait(seconds: float) -> str:
    if seconds < 60:
        return f"{max(seconds, 0.001):.3g}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def ledger_key(client: str) -> str:
    """The key of a client's entry in the ledger."""
    return f"client:{client}"


def client_limits(clients: dict[str, ClientSettings], ledger: Ledger) -> dict[str, ClientLimits]:
    """The limits of every client that has any, by client name."""
    return {name: ClientLimits(settings, ledger) for name, settings in clients.items() if settings.limited}
