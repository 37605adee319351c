"""Governance of what clients spend: limits and budgets (shared by every worker), costs by the price table,
and metrics. Below `core/`, which applies them on the request path; above `store/`, `wire/` and `config/`."""
