"""`bench/run`: Gatehouse against a direct call to the same fake upstream, in one run.

It starts the fake OpenAI upstream and Gatehouse (one worker each) on free ports, then runs
each scenario against the upstream directly and through the gateway, back to back, so that
every ratio compares figures taken seconds apart on the same machine state:

  chat     non-streaming chat, 32 connections: requests/s, p50 and p99 latency (wrk)
  latency  non-streaming chat, 1 connection: p50 and p99 latency, added latency (wrk)
  stream   streaming chat of 20 chunks, 32 connections: requests/s, p50 and p99 of whole streams (wrk)
  ttfc     streaming chat, 1 connection: time to the first data: line and to the end (asyncio client)
  activity non-streaming chat, 32 connections: Gatehouse with activity recording off, then on
  governed non-streaming chat, 32 connections and 1: the same Gatehouse as a client without limits naming a model,
           then as one with every limit and a budget (rpm, tpm, max_concurrent, budget in USD: checked and settled
           on the request path, never reached) naming a route whose first target is that model (routing, limits
           and cost together)
  translated  streaming chat (20 chunks), 32 connections: pass-through (OpenAI client to OpenAI-type
           provider), then translated (OpenAI client to an Anthropic-type provider, fake Anthropic upstream)
  memory   non-streaming chat, 32 connections, 200,000 requests to a fresh Gatehouse: RSS of its worker
           (and of the worker's activity writer) after warm-up, at 100,000 and at 200,000 requests
  workers  non-streaming chat, 32 connections: a fresh Gatehouse with 1 worker, then another with 2
  floor    the second hop's share of the one-connection figures: a bare relay (bench/relay.py: raw ASGI on
           Granian with Gatehouse's upstream client and body reading; no framework, auth, routing or records)
           against the direct call, and Gatehouse against the bare relay, non-streaming chat (wrk) and time
           to first chunk; the three targets alternate in every round
  litellm  non-streaming chat at 32 connections and at 1 connection: Gatehouse, then LiteLLM's proxy (1 worker)
           in front of the same fake upstream; skipped with a note when LiteLLM is not installed
  uvicorn  the server's share: Gatehouse on Granian, then the same app and config on uvicorn (one process,
           uvloop, httptools), non-streaming chat at 32 connections and at 1, and time to first chunk at 1;
           skipped with a note when uvicorn is not installed (.venv/bin/pip install uvicorn)

activity, translated, workers and floor compare Gatehouse with itself or with the bare relay; litellm and uvicorn
compare LiteLLM's proxy, or Gatehouse on uvicorn, with Gatehouse: their "Direct" column is the baseline named in
the scenario. memory has no "Direct" figure, and runs once whatever --duration and --rounds say.

Usage: bench/run [--duration SECONDS] [--warmup SECONDS] [--rounds N] [--only SCENARIO[,SCENARIO]]
                 [--markdown FILE] [--profile FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from api.config import locations
from bench import litellm_proxy
from bench.harness import (HOST, PYTHON, BenchError, ForeignCpu, Server, Summary, Table, WrkResult, chat_body, children,
                           check_reply, ensure_wrk, facts_markdown, fake_upstream, fmt_ms, fmt_rate, fmt_ratio,
                           free_port, add_run_options, interrupt_on_sigterm, machine_facts, measure, names_of,
                           parse_run_options, run_notes, run_wrk, warn_if_busy)
from bench.profile import py_spy
from bench.slow_readers import slow_readers
from bench.ttfc import StreamTimes, percentile, time_streams

API_KEY = "bench-key-0123456789"
CONNECTIONS = 32
STREAM_CHUNKS = 20
CHAT_PATH = "/chat/completions"
MEMORY_CHECKPOINTS = (100_000, 200_000)
"""Request counts (after warm-up) at which the memory scenario reads the worker's RSS."""
MEMORY_TIME_LIMIT_S = 300
"""The memory scenario gives up when its checkpoints take longer than this (warm-up not counted)."""
MEMORY_RUN_MAX_S = 10
"""The longest wrk run of the memory scenario: each is sized from the last one's rate, and short runs keep a
change of rate from carrying the count far past a checkpoint."""
MEMORY_SETTLE_S = 1
"""Pause between the end of a load and reading RSS: in-flight requests end, the recorder flushes."""
SLOW_READERS = 400
"""Streams read slowly at once in the `slow-readers` scenario, each of SLOW_READER_CHUNKS chunks."""
SLOW_READER_CHUNKS = 5_000
SLOW_READERS_HOLD_S = 20
SLOW_READERS_AFTER_S = 30
"""How long after the slow readers left the worker's RSS is read again."""
UVICORN_SKIPPED = "uvicorn: skipped, not installed (.venv/bin/pip install uvicorn)"

GATEHOUSE_CONFIG = """\
[server]
host = "{host}"
port = {port}
api_key = "{api_key}"
workers = {workers}
data_dir = "{data_dir}"

[providers.fake]
type = "openai"
base_url = "{upstream}"
models = ["gpt-fake"]

[providers.anth]
type = "anthropic"
base_url = "{anthropic}"
models = ["claude-fake-sonnet"]

[routes.bench]
targets = ["fake:gpt-fake", "anth:claude-fake-sonnet"]

[clients.governed]
api_key = "{governed_key}"
rpm = 100000000
tpm = 1000000000000
max_concurrent = 1000000
budget = {{ amount = 1e12, currency = "usd", period = "month" }}

[activity]
enabled = {activity}
"""
GOVERNED_KEY = "bench-governed-key-0123456789"


def _config(upstream: str, anthropic: str, work_dir: Path, name: str, activity: bool = True,
            workers: int = 1) -> tuple[Path, int]:
    """A Gatehouse config relaying to the fake upstreams, written to `work_dir`, and the free port it names."""
    port = free_port()
    config = work_dir / f"{name}.toml"
    config.write_text(GATEHOUSE_CONFIG.format(host=HOST, port=port, api_key=API_KEY, workers=workers,
                                              governed_key=GOVERNED_KEY,
                                              upstream=upstream, anthropic=anthropic,
                                              data_dir=work_dir / f"{name}-data", activity=str(activity).lower()))
    return config, port


def gatehouse(upstream: str, anthropic: str, work_dir: Path, name: str = "gatehouse",
              activity: bool = True, workers: int = 1) -> tuple[Server, str]:
    """Gatehouse on a free port relaying to the fake upstreams, and its base URL (ending in /v1)."""
    config, port = _config(upstream, anthropic, work_dir, name, activity, workers)
    command = [PYTHON, "-m", "api", "--config", str(config)]
    return Server(name, command, f"http://{HOST}:{port}/health", work_dir), f"http://{HOST}:{port}/v1"


def gatehouse_on_uvicorn(upstream: str, anthropic: str, work_dir: Path) -> tuple[Server, str]:
    """The same Gatehouse app (its `create_app` factory, the same config) served by uvicorn instead of
    Granian: one process, uvloop, httptools. Its Server and base URL (ending in /v1)."""
    name = "gatehouse-uvicorn"
    config, port = _config(upstream, anthropic, work_dir, name)
    command = ["env", f"{locations.CONFIG_ENV}={config}", PYTHON, "-m", "uvicorn", "--factory", "api.edge.app:create_app",
               "--host", HOST, "--port", str(port), "--loop", "uvloop", "--http", "httptools", "--lifespan", "on",
               "--no-access-log", "--log-level", "warning"]
    return Server(name, command, f"http://{HOST}:{port}/health", work_dir), f"http://{HOST}:{port}/v1"


def _rss_mb(pid: int) -> float:
    """Resident memory of process `pid` (VmRSS) in MB of 10^6 bytes."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        raise BenchError(f"process {pid} is gone") from None
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return kib * 1024 / 1e6


def _worker_and_writer(server: Server) -> tuple[int, int]:
    """The pids of the gateway's one Granian worker and of its activity writer (`python -m api.store.activity_writer`)."""
    workers = server.worker_pids()
    writers = [pid for worker in workers for pid in children(worker)
               if b"api.store.activity_writer" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    if len(workers) != 1 or len(writers) != 1:
        raise BenchError(f"{server.name}: expected one worker with one activity writer, found workers {workers} "
                         f"and writers {writers}")
    return workers[0], writers[0]


def fake_anthropic(log_dir: Path) -> tuple[Server, str]:
    """The fake Anthropic server (1 worker) on a free port, and its base URL."""
    port = free_port()
    command = [PYTHON, "-m", "tests.fixtures.fake_anthropic", "--host", HOST, "--port", str(port)]
    return Server("fake-anthropic", command, f"http://{HOST}:{port}/_fake/health", log_dir), f"http://{HOST}:{port}"


def bare_relay(upstream: str, log_dir: Path) -> tuple[Server, str]:
    """bench/relay.py with Gatehouse's upstream client, relaying every POST to the fake upstream's chat endpoint;
    its Server and the URL to POST to."""
    port = free_port()
    command = [PYTHON, "-m", "bench.relay", "--client", "gatehouse", "--port", str(port), "--host", HOST,
               "--upstream", upstream + CHAT_PATH]
    url = f"http://{HOST}:{port}{CHAT_PATH}"
    return Server("bare-relay", command, url, log_dir), url


@dataclass(frozen=True)
class Target:
    """One side of the comparison: where to send chat requests, for which model, with which key."""

    name: str
    url: str
    model: str
    auth: str | None = None

    def body(self, stream_chunks: int | None = None) -> bytes:
        return chat_body(self.model, stream_chunks)


@dataclass(frozen=True)
class Row:
    """One metric for both targets (`direct` None: the gateway's only). Latencies (unit "ms") also show
    what the gateway adds."""

    scenario: str
    metric: str
    unit: str
    direct: float | None
    gateway: float

    def cells(self) -> list[str]:
        fmt = FORMATS.get(self.unit, fmt_rate)
        if self.direct is None:
            return [self.scenario, f"{self.metric} ({self.unit})", "-", fmt(self.gateway), "", ""]
        added = f"{self.gateway - self.direct:+.2f} ms" if self.unit == "ms" else ""
        return [self.scenario, f"{self.metric} ({self.unit})", fmt(self.direct), fmt(self.gateway),
                fmt_ratio(self.gateway / self.direct), added]


FORMATS = {"ms": fmt_ms, "MB": lambda value: f"{value:.1f}"}


HEADERS = ["Scenario", "Metric", "Direct", "Gateway", "Gateway/Direct", "Added by gateway"]


@dataclass
class Bench:
    """The scenarios, each run against `direct` then `gateway`, `rounds` times (medians are reported).

    Warnings about doubtful runs (wrk errors, other processes taking CPU) are collected in `notes`.
    """

    direct: Target
    gateway: Target
    seconds: int
    warmup: int
    launch: Callable[..., tuple[Server, str]]
    """Another Gatehouse, not yet started: `launch(name, workers=N)` gives its Server and base URL."""
    launch_on_uvicorn: Callable[[], tuple[Server, str]]
    """The gateway's app served by uvicorn instead of Granian, not yet started (the `uvicorn` scenario)."""
    relay: Target
    """The bare relay in front of the fake upstream (the `floor` scenario)."""
    unrecorded: Target
    """The gateway with activity recording off."""
    governed: Target
    """The gateway, asked as a client with limits and a budget."""
    translated: Target
    """The gateway relaying to an Anthropic-type provider."""
    upstream: str = ""
    """The fake OpenAI upstream's base URL (ending in /v1), for other gateways in front of it."""
    work_dir: Path | None = None
    rounds: int = 1
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Scenarios that did not run, and why (LiteLLM not installed...)."""

    def _measure(self, scenario: str, target: Target, connections: int,
                 stream_chunks: int | None = None) -> WrkResult:
        """One checked, warmed-up wrk run against `target`, reported on stderr and in `notes`."""
        result = measure(target.url, target.body(stream_chunks), connections=connections, seconds=self.seconds,
                         warmup=self.warmup, auth=target.auth)
        print(f"  {scenario:<26} {target.name:<8} {result.rps:>9,.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
              f"p99 {result.p99_ms:6.2f} ms  (others: {result.foreign_cpu:.0%} CPU)", file=sys.stderr, flush=True)
        self.notes += run_notes(f"{scenario}, {target.name}", result.foreign_cpu, result.errors, result.requests)
        return result

    def _pair(self, scenario: str, connections: int, stream_chunks: int | None = None,
              baseline: Target | None = None, measured: Target | None = None) -> list[Summary]:
        """`baseline` (default: the direct call) and `measured` (default: the gateway), alternating."""
        return self._alternating(scenario, (baseline or self.direct, measured or self.gateway), connections,
                                 stream_chunks)

    def _alternating(self, scenario: str, targets: tuple[Target, ...], connections: int,
                     stream_chunks: int | None = None) -> list[Summary]:
        """One Summary per target, the targets taking turns in every round."""
        runs: dict[str, list[WrkResult]] = {target.name: [] for target in targets}
        for _ in range(self.rounds):
            for target in targets:
                runs[target.name].append(self._measure(scenario, target, connections, stream_chunks))
        return [Summary.of(results) for results in runs.values()]

    def chat(self) -> list[Row]:
        name = f"chat, {CONNECTIONS} conn"
        return _throughput_rows(name, *self._pair(name, CONNECTIONS))

    def latency(self) -> list[Row]:
        name = "chat, 1 conn"
        return _latency_rows(name, *self._pair(name, 1))

    def stream(self) -> list[Row]:
        name = f"stream {STREAM_CHUNKS} chunks, {CONNECTIONS} conn"
        return _throughput_rows(name, *self._pair(name, CONNECTIONS, STREAM_CHUNKS))

    def activity(self) -> list[Row]:
        name = f"chat, {CONNECTIONS} conn, activity off vs on"
        return _throughput_rows(name, *self._pair(name, CONNECTIONS, baseline=self.unrecorded))

    def governed(self) -> list[Row]:
        many, one = f"chat, {CONNECTIONS} conn, model vs route + limits", "chat, 1 conn, model vs route + limits"
        return [*_throughput_rows(many, *self._pair(many, CONNECTIONS, baseline=self.gateway, measured=self.governed)),
                *_latency_rows(one, *self._pair(one, 1, baseline=self.gateway, measured=self.governed))]

    def translated(self) -> list[Row]:
        name = f"stream {STREAM_CHUNKS} chunks, {CONNECTIONS} conn, pass-through vs translated"
        return _throughput_rows(name, *self._pair(name, CONNECTIONS, STREAM_CHUNKS, baseline=self.gateway,
                                                  measured=self.translated))

    def workers(self) -> list[Row]:
        """A fresh Gatehouse with 1 worker, then one with 2 (never both at once), alternating over the rounds."""
        name = f"chat, {CONNECTIONS} conn, 1 vs 2 workers"
        runs: dict[int, list[WrkResult]] = {1: [], 2: []}
        for round_ in range(self.rounds):
            for workers, results in runs.items():
                server, base = self.launch(f"gatehouse-{workers}w-{round_}", workers=workers)
                with server:
                    label = "1 worker" if workers == 1 else f"{workers} workers"
                    target = Target(label, base + CHAT_PATH, self.gateway.model, self.gateway.auth)
                    results.append(self._measure(name, target, CONNECTIONS))
        return _throughput_rows(name, *(Summary.of(results) for results in runs.values()))

    def litellm(self) -> list[Row]:
        """Gatehouse (the baseline) against LiteLLM's proxy, both relaying to the same fake upstream, at 32
        connections and at 1; skipped, with a note, when LiteLLM's proxy is not installed or does not start."""
        python = litellm_proxy.find_python()
        if python is None:
            print(f"  {litellm_proxy.SKIPPED}", file=sys.stderr, flush=True)
            self.skipped.append(litellm_proxy.SKIPPED)
            return []
        server, base = litellm_proxy.litellm_proxy(python, self.upstream, self.work_dir)
        target = Target("litellm", base + CHAT_PATH, litellm_proxy.MODEL, litellm_proxy.MASTER_KEY)
        try:
            with server:
                check_reply(target.url, target.body(), target.auth)
                chat = f"chat, {CONNECTIONS} conn, Gatehouse vs LiteLLM"
                rows = _throughput_rows(chat, *self._pair(chat, CONNECTIONS, baseline=self.gateway, measured=target))
                latency = "chat, 1 conn, Gatehouse vs LiteLLM"
                return rows + _latency_rows(latency, *self._pair(latency, 1, baseline=self.gateway, measured=target))
        except BenchError as error:  # LiteLLM installed but not starting or answering: a note, not a failed run
            note = f"litellm: skipped, LiteLLM's proxy ({python}) failed: {error}"
            print(f"  {note}", file=sys.stderr, flush=True)
            self.skipped.append(note.splitlines()[0])
            return []

    def uvicorn(self) -> list[Row]:
        """Gatehouse on Granian (the baseline) against the same app on uvicorn: what the server costs at one
        connection (chat and first chunk) and at 32; skipped, with a note, when uvicorn is not installed."""
        if importlib.util.find_spec("uvicorn") is None:
            print(f"  {UVICORN_SKIPPED}", file=sys.stderr, flush=True)
            self.skipped.append(UVICORN_SKIPPED)
            return []
        server, base = self.launch_on_uvicorn()
        target = Target("uvicorn", base + CHAT_PATH, self.gateway.model, self.gateway.auth)
        with server:
            chat = f"chat, {CONNECTIONS} conn, Granian vs uvicorn"
            rows = _throughput_rows(chat, *self._pair(chat, CONNECTIONS, baseline=self.gateway, measured=target))
            latency = "chat, 1 conn, Granian vs uvicorn"
            rows += _latency_rows(latency, *self._pair(latency, 1, baseline=self.gateway, measured=target))
            stream = f"stream {STREAM_CHUNKS} chunks, 1 conn, Granian vs uvicorn"
            return rows + _first_chunk_rows(stream, *self._stream_times(stream, (self.gateway, target)))

    def _load_until(self, scenario: str, target: Target, served: int, goal: int, rate: float,
                    deadline: float) -> tuple[int, float]:
        """wrk runs of whole seconds, each sized from the last one's rate (`rate`, 0: unknown), until `served`
        reaches `goal` (passing it by about a second's worth); returns the new count and the last rate."""
        while served < goal:
            left = deadline - time.monotonic()
            if left < 1:
                raise BenchError(f"{scenario}: only {served:,} of {goal:,} requests served in {MEMORY_TIME_LIMIT_S} s")
            seconds = int(min(left, MEMORY_RUN_MAX_S, max(1.0, (goal - served) / rate if rate else 1.0)))
            result = run_wrk(target.url, target.body(), connections=CONNECTIONS, seconds=seconds, auth=target.auth)
            self.notes += run_notes(f"{scenario}, after {served:,}", 0.0, result.errors, result.requests)
            served, rate = served + result.requests, result.rps
        return served, rate

    def memory(self) -> list[Row]:
        """RSS of a fresh Gatehouse's worker after warm-up and at each of MEMORY_CHECKPOINTS, its growth
        between the first and the last, and the RSS of the worker's activity writer at the last."""
        name = f"chat, {CONNECTIONS} conn, {MEMORY_CHECKPOINTS[-1]:,} requests"
        server, base = self.launch("gatehouse-memory")
        with server:
            target = Target("memory", base + CHAT_PATH, self.gateway.model, self.gateway.auth)
            check_reply(target.url, target.body(), target.auth)
            rate = 0.0
            if self.warmup > 0:
                rate = run_wrk(target.url, target.body(), connections=CONNECTIONS, seconds=self.warmup,
                               auth=target.auth).rps
            worker, writer = _worker_and_writer(server)
            time.sleep(MEMORY_SETTLE_S)
            rows = [Row(name, "worker RSS after warm-up", "MB", None, _rss_mb(worker))]
            served, deadline, worker_rss = 0, time.monotonic() + MEMORY_TIME_LIMIT_S, []
            for checkpoint in MEMORY_CHECKPOINTS:
                served, rate = self._load_until(name, target, served, checkpoint, rate, deadline)
                time.sleep(MEMORY_SETTLE_S)
                worker_rss.append(_rss_mb(worker))
                writer_rss = _rss_mb(writer)
                print(f"  {name:<26} {served:>9,} requests  worker RSS {worker_rss[-1]:6.1f} MB  activity writer "
                      f"RSS {writer_rss:6.1f} MB  ({rate:,.0f} req/s)", file=sys.stderr, flush=True)
                rows.append(Row(name, f"worker RSS at {checkpoint:,} requests", "MB", None, worker_rss[-1]))
        first, last = MEMORY_CHECKPOINTS[0], MEMORY_CHECKPOINTS[-1]
        return [*rows, Row(name, f"worker RSS growth, {first:,} to {last:,} requests", "MB", None,
                           worker_rss[-1] - worker_rss[0]),
                Row(name, f"activity writer RSS at {last:,} requests", "MB", None, writer_rss)]

    def slow_readers(self) -> list[Row]:
        """RSS of a fresh Gatehouse's worker before, during and SLOW_READERS_AFTER_S after SLOW_READERS streams
        read slowly at once (their sends back up in the gateway), in three waves: what a later wave adds is
        memory the worker did not reuse, so a bounded worker levels off."""
        name = f"{SLOW_READERS} slow-reading streams of {SLOW_READER_CHUNKS:,} chunks"
        server, base = self.launch("gatehouse-slow-readers")
        rows = []
        with server:
            target = Target("slow-readers", base + CHAT_PATH, self.gateway.model, self.gateway.auth)
            check_reply(target.url, target.body(), target.auth)
            worker, _ = _worker_and_writer(server)
            time.sleep(MEMORY_SETTLE_S)
            before = _rss_mb(worker)
            rows.append(Row(name, "worker RSS before", "MB", None, before))
            for wave in (1, 2, 3):
                slow_readers(target.url, target.body(SLOW_READER_CHUNKS), target.auth, SLOW_READERS,
                             SLOW_READERS_HOLD_S)
                during = _rss_mb(worker)  # read as the readers leave, before the worker has let go of them
                time.sleep(SLOW_READERS_AFTER_S)
                after = _rss_mb(worker)
                print(f"  {name}, wave {wave}: worker RSS {before:.1f} MB before, {during:.1f} MB with them, "
                      f"{after:.1f} MB {SLOW_READERS_AFTER_S} s after", file=sys.stderr, flush=True)
                rows += [Row(name, f"wave {wave}: worker RSS as they leave", "MB", None, during),
                         Row(name, f"wave {wave}: worker RSS {SLOW_READERS_AFTER_S} s after", "MB", None, after)]
        return rows

    def ttfc(self) -> list[Row]:
        name = f"stream {STREAM_CHUNKS} chunks, 1 conn"
        direct, gateway = self._stream_times(name, (self.direct, self.gateway))
        return [*_first_chunk_rows(name, direct, gateway),
                Row(name, "whole stream p50", "ms", percentile(direct.total_ms, 50),
                    percentile(gateway.total_ms, 50))]

    def floor(self) -> list[Row]:
        """The direct call, the bare relay and Gatehouse at one connection: what the second hop alone adds,
        and what Gatehouse adds beyond it."""
        name = "1 conn, direct, bare relay, Gatehouse"
        targets = (self.direct, self.relay, self.gateway)
        direct, relay, gateway = self._alternating(f"chat, {name}", targets, 1)
        streams = self._stream_times(f"stream {STREAM_CHUNKS} chunks, {name}", targets)
        hop, beyond = "direct vs bare relay", "bare relay vs Gatehouse"
        return [*_latency_rows(f"chat, 1 conn, {hop}", direct, relay),
                *_latency_rows(f"chat, 1 conn, {beyond}", relay, gateway),
                *_first_chunk_rows(f"stream {STREAM_CHUNKS} chunks, 1 conn, {hop}", *streams[:2]),
                *_first_chunk_rows(f"stream {STREAM_CHUNKS} chunks, 1 conn, {beyond}", *streams[1:])]

    def _stream_times(self, scenario: str, targets: tuple[Target, ...]) -> list[StreamTimes]:
        """Streams of STREAM_CHUNKS chunks, one at a time, to each target in turn in every round: the times
        of all rounds together, per target."""
        times = {target.name: StreamTimes([], []) for target in targets}
        for _ in range(self.rounds):
            for target in targets:
                with ForeignCpu() as foreign:
                    measured = time_streams(target.url, target.body(STREAM_CHUNKS), auth=target.auth,
                                            seconds=self.seconds, warmup=self.warmup)
                print(f"  {scenario:<26} {target.name:<8} {len(measured.first_ms):>5} streams  first chunk p50 "
                      f"{percentile(measured.first_ms, 50):6.2f} ms  (others: {foreign.share:.0%} CPU)",
                      file=sys.stderr, flush=True)
                self.notes += run_notes(f"{scenario}, {target.name}", foreign.share)
                times[target.name].first_ms.extend(measured.first_ms)
                times[target.name].total_ms.extend(measured.total_ms)
        return list(times.values())


def _latency_rows(scenario: str, direct: Summary, gateway: Summary) -> list[Row]:
    return [Row(scenario, "p50", "ms", direct.p50_ms, gateway.p50_ms),
            Row(scenario, "p99", "ms", direct.p99_ms, gateway.p99_ms)]


def _first_chunk_rows(scenario: str, direct: StreamTimes, gateway: StreamTimes) -> list[Row]:
    return [Row(scenario, f"first chunk p{p}", "ms", percentile(direct.first_ms, p), percentile(gateway.first_ms, p))
            for p in (50, 99)]


def _throughput_rows(scenario: str, direct: Summary, gateway: Summary) -> list[Row]:
    return [Row(scenario, "throughput", "req/s", direct.rps, gateway.rps), *_latency_rows(scenario, direct, gateway)]


SCENARIOS = {"chat": Bench.chat, "latency": Bench.latency, "stream": Bench.stream, "ttfc": Bench.ttfc,
             "floor": Bench.floor, "activity": Bench.activity, "governed": Bench.governed,
             "translated": Bench.translated, "memory": Bench.memory,
             "slow-readers": Bench.slow_readers,
             "workers": Bench.workers, "litellm": Bench.litellm, "uvicorn": Bench.uvicorn}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("Usage:")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(parser, "repeat every scenario, direct and gateway alternating")
    parser.add_argument("--only", type=names_of(SCENARIOS, "scenario"), default=list(SCENARIOS),
                        metavar="SCENARIO[,SCENARIO]",
                        help=f"run only these scenarios: {', '.join(SCENARIOS)} (default: all; litellm and "
                             "uvicorn are skipped when LiteLLM's proxy or uvicorn is not installed)")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="record the gateway worker with py-spy during the run (.svg flame graph, "
                             ".txt collapsed stacks, .json speedscope); slows the gateway a little")
    return parse_run_options(parser, argv)


def run(args: argparse.Namespace) -> tuple[list[Row], list[str], list[str]]:
    """Start the servers, run the chosen scenarios, stop the servers (also on errors and Ctrl-C).

    Returns the table's rows, the warnings about runs whose figures are doubtful, and the scenarios skipped.
    """
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as tmp, ExitStack() as stack:
        work_dir = Path(tmp)
        fake, upstream = fake_upstream(work_dir)
        stack.enter_context(fake)
        claude, anthropic = fake_anthropic(work_dir)
        stack.enter_context(claude)
        server, base = gatehouse(upstream, anthropic, work_dir)
        stack.enter_context(server)
        quiet, quiet_base = gatehouse(upstream, anthropic, work_dir, "gatehouse-unrecorded", activity=False)
        stack.enter_context(quiet)
        relay, relay_url = bare_relay(upstream, work_dir)
        stack.enter_context(relay)
        if args.profile:
            stack.enter_context(py_spy(server.worker_pids()[0], args.profile))
        bench = Bench(direct=Target("direct", upstream + CHAT_PATH, "gpt-fake"),
                      gateway=Target("gateway", base + CHAT_PATH, "fake:gpt-fake", API_KEY),
                      unrecorded=Target("unrecorded", quiet_base + CHAT_PATH, "fake:gpt-fake", API_KEY),
                      governed=Target("governed", base + CHAT_PATH, "route:bench", GOVERNED_KEY),
                      translated=Target("translated", base + CHAT_PATH, "anth:claude-fake-sonnet", API_KEY),
                      relay=Target("relay", relay_url, "gpt-fake"),
                      launch=partial(gatehouse, upstream, anthropic, work_dir),
                      launch_on_uvicorn=partial(gatehouse_on_uvicorn, upstream, anthropic, work_dir),
                      seconds=args.duration,
                      warmup=args.warmup, upstream=upstream, work_dir=work_dir, rounds=args.rounds)
        rows = [row for name in args.only for row in SCENARIOS[name](bench)]
    if args.profile:
        bench.notes.append("profiled with py-spy: the gateway's figures are a little lower than without")
    return rows, bench.notes, bench.skipped


def markdown_report(table: Table, notes: list[str], facts: dict[str, str], args: argparse.Namespace,
                    skipped: list[str] = ()) -> str:
    """The table under a caption saying what produced it, when, and on which machine."""
    caption = (f"Produced by `bench/run --duration {args.duration} --rounds {args.rounds}` on {facts['date']}: "
               f"wrk (1 thread) and the servers share the machine's {facts['cores (nproc)']} cores; "
               f"{args.warmup} s of warm-up before each {args.duration} s run; medians of {args.rounds} round(s).")
    warnings = ["\n".join(f"- warning: {note}" for note in notes)] if notes else []
    skips = ["\n".join(f"- {skip}" for skip in skipped)] if skipped else []
    return "\n\n".join([caption, table.markdown(), *skips, *warnings, "Machine:", facts_markdown(facts)]) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    interrupt_on_sigterm()
    try:
        ensure_wrk()
        facts = machine_facts()
        warn_if_busy()
        print(f"Gatehouse vs direct: {', '.join(args.only)}; {args.rounds} round(s) of {args.duration} s runs after "
              f"{args.warmup} s of warm-up", file=sys.stderr, flush=True)
        rows, notes, skipped = run(args)
    except BenchError as error:
        print(f"bench/run: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench/run: interrupted; servers stopped", file=sys.stderr)
        return 130
    table = Table(HEADERS, [row.cells() for row in rows], labels=2)
    print()
    print(table.text())
    for skip in skipped:
        print(skip)
    for note in notes:
        print(f"warning: {note}")
    if args.markdown:
        args.markdown.write_text(markdown_report(table, notes, facts, args, skipped))
        print(f"\nMarkdown written to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
