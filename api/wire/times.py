"""Moments as the API writes them."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: float | None) -> str | None:
    """Epoch seconds as ISO 8601 in UTC; None stays None."""
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat()
