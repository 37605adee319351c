"""Governance of what clients spend: limits and budgets (shared by every worker), costs by the price table,
and metrics. Below `core/`, which applies them on the request path; above `store/`, `wire/` and `config/`."""

try:
    import api.govern._gate  # noqa: F401  # the C part, compiled when Gatehouse is installed
except ImportError as exc:  # a checkout run without installing it, or an install older than the C file
    raise ImportError(
        f"{exc}: Gatehouse's C part (api/govern/_gate.c) is not compiled here (or was, for another Python); install "
        "Gatehouse with `make run` (or `pip install -e .`), which compiles it (a C compiler and Python's headers "
        "are needed)", name=exc.name) from exc
