"""Prometheus metrics of the requests served, counted from their finished activity records (one source of truth
with the activity), summed across every Granian worker by prometheus_client's multiprocess mode.

`python -m api` makes an empty folder for the workers' value files before they start (`prepare`) and names it
in `PROMETHEUS_MULTIPROC_DIR`, which prometheus_client reads when its values are first made, in each worker; a
restart of the server starts the counters from zero, which Prometheus expects of counters. Without that variable
(the app served in-process by the tests) the counters live in the process alone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, NamedTuple

from api.store.activity import Record

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
FOLDER = "metrics"
"""The workers' value files, in the data dir."""
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
"""Seconds: an LLM answer takes from tens of milliseconds (a cached or local short one) to minutes."""
FIRST_TOKEN_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
LABEL_MAX = 64
"""Longest label value kept (client names come from a header)."""


def prepare(data_dir: Path) -> None:
    """Before the workers start: an empty folder for their value files, named in the environment they inherit."""
    folder = data_dir / FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(folder)


def forget(pid: int) -> None:
    """A worker died: its live gauges (the activity write lag) no longer count."""
    from prometheus_client import multiprocess

    if MULTIPROC_ENV in os.environ:
        multiprocess.mark_process_dead(pid)


def serve_open(host: str, port: int) -> None:
    """`server.metrics_port`: GET /metrics without a key on a port of its own, for Prometheus, answered by
    prometheus_client's own HTTP server on a thread of the server's main process (it reads the workers' values
    from the folder `prepare` made; no worker is disturbed by a scrape)."""
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, os.environ[MULTIPROC_ENV])
    start_http_server(port, host, registry)


class _Series(NamedTuple):
    """The metrics' children for one client, model, route and status."""

    requests: Any
    duration: Any
    first_token: Any
    input_tokens: Any
    output_tokens: Any
    cost: Any


class Metrics:
    """One worker's metrics; `observe` is given every finished record."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram  # after the environment is set

        self.registry = CollectorRegistry()
        """Where the metrics are made (their values go to the multiprocess folder when there is one)."""
        made: dict[str, Any] = {"registry": self.registry}
        self.requests = Counter("gatehouse_requests", "API requests answered, by client, model, route and status.",
                                ["client", "model", "route", "status"], **made)
        self.duration = Histogram("gatehouse_request_duration_seconds", "Time to the end of an answer.",
                                  ["model", "route"], buckets=LATENCY_BUCKETS, **made)
        self.first_token = Histogram("gatehouse_time_to_first_token_seconds", "Time to a stream's first byte.",
                                     ["model", "route"], buckets=FIRST_TOKEN_BUCKETS, **made)
        self.tokens = Counter("gatehouse_tokens", "Tokens of answers (input, output).",
                              ["client", "model", "kind"], **made)
        self.cost = Counter("gatehouse_cost_usd", "What answers cost in US dollars by the price table.",
                            ["client", "model"], **made)
        self.refusals = Counter("gatehouse_limit_refusals", "Requests a client's limit refused (429).",
                                ["client", "limit"], **made)
        self.upstream_errors = Counter("gatehouse_upstream_errors", "Answers of 400 and above from a provider.",
                                       ["provider", "status"], **made)
        self.missed = Counter("gatehouse_route_missed_tries", "Tries of a route's targets that did not answer: "
                              "failed, or skipped (cooling down).", ["route", "target", "outcome"], **made)
        self.retries = Counter("gatehouse_route_retries", "Tries of a route's target again after it failed.",
                               ["route", "target"], **made)
        self.fallbacks = Counter("gatehouse_route_fallbacks", "Moves of a route's request on to its next target.",
                                 ["route"], **made)
        self.activity_lag = Gauge("gatehouse_activity_write_lag_seconds", "From the end of a request to its activity "
                                  "record in the file, for the oldest of the last rows written (the slowest worker).",
                                  multiprocess_mode="livemax", **made)
        self._series: dict[tuple[str, str, str, int], _Series] = {}

    def observe(self, record: Record) -> None:
        client, model, route = record.client[:LABEL_MAX], record.model or "", record.route or ""
        key = (client, model, route, record.status)
        series = self._series.get(key)
        if series is None:  # a label lookup costs more than the count: each series' children are kept
            series = self._series[key] = _Series(
                self.requests.labels(client, model, route, str(record.status)),
                self.duration.labels(model, route), self.first_token.labels(model, route),
                self.tokens.labels(client, model, "input"), self.tokens.labels(client, model, "output"),
                self.cost.labels(client, model))
        series.requests.inc()
        series.duration.observe(record.latency_ms / 1000)
        if record.ttfb_ms is not None:
            series.first_token.observe(record.ttfb_ms / 1000)
        if record.input_tokens:
            series.input_tokens.inc(record.input_tokens)
        if record.output_tokens:
            series.output_tokens.inc(record.output_tokens)
        if record.cost:
            series.cost.inc(record.cost)
        if record.limited is not None:
            self.refusals.labels(client, record.limited).inc()
        elif record.attempts is not None:
            if len(record.attempts) > 1 or record.status >= 400:  # else one try that answered: nothing missed
                self._tried(route, record.attempts)
        elif record.provider is not None and record.status >= 400:
            self.upstream_errors.labels(record.provider, str(record.status)).inc()

    def _tried(self, route: str, tries: list[dict]) -> None:
        """A route's tries (api/core/model_routes.py) when the first did not answer: those that missed, the retries and
        fallbacks, the targets' errors (the try that answered is the request's, in requests_total)."""
        previous = None
        for attempt in tries:
            target, status = attempt["target"], attempt["status"]
            if status is None:
                self.missed.labels(route, target, "skipped").inc()
                continue
            if status >= 400:
                self.missed.labels(route, target, "failed").inc()
                self.upstream_errors.labels(target.partition(":")[0], str(status)).inc()
            if previous is not None:
                (self.retries.labels(route, target) if target == previous else self.fallbacks.labels(route)).inc()
            previous = target

    def exposition(self) -> tuple[bytes, str]:
        """Every worker's metrics in Prometheus' text format (and its content type): read from the multiprocess
        folder, or this process's own registry without one."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

        folder = os.environ.get(MULTIPROC_ENV)
        if folder is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, folder)
        return generate_latest(registry), CONTENT_TYPE_LATEST
