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
from dataclasses import dataclass
from typing import TypeAlias

from api.config.settings import BudgetSettings, ClientSettings
from api.govern.ledger import IN_FLIGHT, Ledger
from api.store.activity import Record
from api.wire.rate_limits import RateLimited, RateLimits, Window
from api.wire.times import iso

log = logging.getLogger("gatehouse")

MINUTE = 60.0
CONCURRENT_RETRY_S = 1.0
"""The wait a refusal for too many requests in flight suggests."""
_EPSILON = 1e-9
_TPM_FULL = MINUTE - _EPSILON
"""How far ahead of now the tpm clock refuses requests: a minute's tokens are spent."""
# What a client's ledger entry holds, by index.
_RPM_CLOCK, _TPM_CLOCK, _PERIOD, _SPENT, _UNPRICED = range(5)
Values: TypeAlias = "memoryview[float] | list[float]"
"""Numbers holding a client's entry: the ledger's own (read and written in place) or a copy of them."""


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
        self._values = ledger.values(entry)
        """The client's entry in the ledger (an entry never moves), read and written in place under its lock."""
        self._seat = ledger.seat(entry)
        self._rpm_interval = MINUTE / settings.rpm if settings.rpm else 0.0
        self._rpm_full = MINUTE - self._rpm_interval + _EPSILON
        """How far ahead of now the rpm clock refuses the next request (the rpm-th of the minute is in)."""
        self._tpm_interval = MINUTE / settings.tpm if settings.tpm else 0.0
        self._concurrent = settings.max_concurrent or 0
        self._budget_amount = settings.budget.amount if settings.budget else None
        self._budget_in_tokens = settings.budget is not None and settings.budget.currency == "tokens"
        self._settles = bool(self._tpm_interval or self._concurrent or self._budget_amount is not None)
        """Whether an answer changes anything here (tokens, spend, a place in flight); rpm alone is counted at once."""
        self._settle = self.settle if self._settles else _nothing_to_settle
        """What a record of the client's settles when it ends (the bound method made once)."""
        self._unpriced: set[str | None] = set()
        """Models without a price already warned of."""
        self._period_starts = self._period_ends = 0.0
        """The budget's current period, once the client's entry is in it (`_enter_period`): until it ends, the
        entry's spend is this period's (no other worker writes another period's start into it)."""

    # --- on the request path --------------------------------------------------------------------------

    def admit(self, record: Record) -> None:
        """Let a request in, or raise `RateLimited` (429) naming the limit; nothing is counted for a refused
        request. What an admitted one holds is given back by `settle` when its record ends. (On every request of
        the client: written for speed, the settings' figures worked out once in `__init__`, the ledger's numbers
        read and written in place, the usual case without calls.)"""
        now = time.time()
        ledger = self.ledger
        values = self._values
        refusal = None
        code = ledger.lock()
        try:
            if code:
                ledger.recover(code)
            # budget first: waiting for the others would not help
            if self._budget_amount is not None and self._budget_amount <= (
                    values[_SPENT] if self._period_starts <= now < self._period_ends
                    else self._enter_period(values, now)):
                refusal = self._refusal("budget", values, now)
            elif self._concurrent and (in_flight := values[IN_FLIGHT]) >= self._concurrent:
                refusal = self._refusal("concurrent", values, now)
            elif self._tpm_interval and values[_TPM_CLOCK] - now >= _TPM_FULL:
                refusal = self._refusal("tpm", values, now)
            elif self._rpm_interval and (clock := values[_RPM_CLOCK]) - now > self._rpm_full:
                refusal = self._refusal("rpm", values, now)
            else:  # (each number read once; conditional expressions, not max(): half the time)
                if self._rpm_interval:
                    values[_RPM_CLOCK] = (clock if clock > now else now) + self._rpm_interval
                if self._concurrent:
                    ledger.hold(values, self._seat, in_flight)
        finally:
            ledger.unlock()
        if refusal is not None:
            record.limited = refusal.limit
            raise refusal
        record.settles = self._settle

    def settle(self, record: Record) -> None:
        """The request ended: count its tokens and cost, and give back its place in flight."""
        now = time.time()
        ledger = self.ledger
        values = self._values
        tokens = record.total_tokens or 0
        unpriced = False
        code = ledger.lock()
        try:
            if code:
                ledger.recover(code)
            if self._tpm_interval and tokens:
                clock = values[_TPM_CLOCK]
                values[_TPM_CLOCK] = (clock if clock > now else now) + tokens * self._tpm_interval
            if self._budget_amount is not None:
                if not self._period_starts <= now < self._period_ends:
                    self._enter_period(values, now)
                if self._budget_in_tokens:
                    values[_SPENT] += tokens
                elif record.cost is not None:
                    values[_SPENT] += record.cost
                elif tokens:
                    values[_UNPRICED] += 1
                    unpriced = True
            if self._concurrent:
                ledger.give_back(values, self._seat)
        finally:
            ledger.unlock()
        if unpriced and record.model not in self._unpriced:
            self._unpriced.add(record.model)
            log.warning("client '%s' has a budget in USD, but %s has no price: its tokens are not counted "
                        "(set a price for it: docs/costs.md; said once per model)", self.settings.name, record.model)

    # --- what is left (the admin API) --------------------------------------------------------------------

    def state(self, now: float | None = None) -> dict:
        """The client's limits now: for each, its size and what is left (nothing is changed)."""
        now = time.time() if now is None else now
        settings, ledger = self.settings, self.ledger
        with ledger.locked():
            values = list(self._values)
        in_flight = int(values[IN_FLIGHT])
        budget = self._budget(values, now)
        rpm, tpm = _window(settings.rpm, values[_RPM_CLOCK], now), _window(settings.tpm, values[_TPM_CLOCK], now)
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

    def _enter_period(self, values: memoryview[float], now: float) -> float:
        """The client's entry (`values`) put in the budget's period holding `now` (a new period starts from
        nothing), remembered as the current one; its spend in it. Under the ledger's lock."""
        assert self.settings.budget is not None
        period = self.settings.budget.period
        starts, ends = period_start(period, now), period_end(period, now)
        if values[_PERIOD] != starts:
            values[_PERIOD], values[_SPENT], values[_UNPRICED] = starts, 0.0, 0.0
        self._period_starts, self._period_ends = starts, ends
        return values[_SPENT]

    def _budget(self, values: Values, now: float) -> BudgetState | None:
        """The budget in the period holding `now`, as `values` (the entry's or a copy of them) say (nothing is
        changed: a spend of an earlier period is none in this one)."""
        settings = self.settings.budget
        if settings is None:
            return None
        starts, ends = period_start(settings.period, now), period_end(settings.period, now)
        if values[_PERIOD] != starts:
            return BudgetState(settings, 0.0, 0, starts, ends)
        return BudgetState(settings, values[_SPENT], int(values[_UNPRICED]), starts, ends)

    def _refusal(self, limit: str, values: Values, now: float) -> RateLimited:
        """The refusal of a request by `limit`, with the wait until it would pass."""
        name, settings = self.settings.name, self.settings
        windows = RateLimits(_window(settings.rpm, values[_RPM_CLOCK], now),
                             _window(settings.tpm, values[_TPM_CLOCK], now))
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
            wait = values[_TPM_CLOCK] - now - MINUTE + self._tpm_interval
        else:
            wait = values[_RPM_CLOCK] - now - (MINUTE - self._rpm_interval)
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
