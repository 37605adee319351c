"""How a client's limits, budget and costs read in the TUI: from `GET /admin/limits` entries and activity records."""

from __future__ import annotations

from datetime import datetime


def money(amount: float) -> str:
    """US dollars as a person reads them: cents from a dollar up, four decimals below (an answer costs little)."""
    if amount >= 1 or amount == 0:
        return f"${amount:,.2f}"
    return f"${amount:.4f}".rstrip("0").rstrip(".") if amount >= 0.0001 else "<$0.0001"


def cost_cell(record: dict) -> str:
    """The Activity tab's cost column: what the answer cost, `$0` for a free (local) model, `-` when unknown."""
    cost = record.get("cost")
    if cost is None:
        return "-"
    return "$0" if cost == 0 else money(cost)


def amount(value: float, currency: str) -> str:
    return money(value) if currency == "usd" else f"{value:,.0f} tokens"


def budget_spend(entry: dict) -> str | None:
    """`writer $1.23 of $5.00 this month` for a client with a budget; None for one without."""
    budget = entry.get("budget")
    if budget is None:
        return None
    return (f"{entry['client']} {amount(budget['spent'], budget['currency'])} of "
            f"{amount(budget['amount'], budget['currency'])} this {budget['period']}")


def limit_lines(entry: dict | None) -> list[str]:
    """Each limit of a client with what is left of it now; `none` for a client without any."""
    if entry is None:
        return ["none"]
    lines = []
    for key, label in (("rpm", "requests/min"), ("tpm", "tokens/min")):
        window = entry.get(key)
        if window is not None:
            lines.append(f"{label} {window['limit']:,}: {window['remaining']:,} left")
    concurrent = entry.get("max_concurrent")
    if concurrent is not None:
        lines.append(f"at once {concurrent['limit']:,}: {concurrent['in_flight']:,} in flight")
    budget = entry.get("budget")
    if budget is not None:
        renews = datetime.fromisoformat(budget["resets_at"].replace("Z", "+00:00")).strftime("%b %-d %H:%M UTC")
        unpriced = f", {budget['unpriced_requests']} unpriced" if budget["unpriced_requests"] else ""
        lines.append(f"budget {amount(budget['amount'], budget['currency'])}/{budget['period']}: "
                     f"{amount(budget['spent'], budget['currency'])} spent, "
                     f"{amount(budget['remaining'], budget['currency'])} left{unpriced}, renews {renews}")
    return lines or ["none"]
