"""Which HTTP client library should Gatehouse relay upstream with? Measure, don't guess.

Each library gets the same minimal relay (bench/relay.py: raw ASGI on Granian, 1 worker)
in front of the same fake upstream; wrk loads each relay, and the upstream directly as the
reference, with non-streaming chat and 20-chunk streaming chat at 32 connections. With
--rounds N the whole sequence repeats N times (targets interleaved, so slow drift of the
machine hits every client alike) and the table shows the medians.

    python -m bench.http_clients [--duration SECONDS] [--rounds N] [--clients aiohttp,httpx,...]
                                 [--markdown FILE]

A client whose library is not installed is skipped with a note (install the optional ones
with `.venv/bin/pip install pyreqwest aiosonic`).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.harness import (HOST, PYTHON, BenchError, Server, Summary, Table, WrkResult, chat_body, ensure_wrk,
                           facts_markdown, fake_upstream, fmt_ms, fmt_rate, fmt_ratio, free_port,
                           add_run_options, interrupt_on_sigterm, machine_facts, measure, names_of,
                           package_version, parse_run_options, run_notes, warn_if_busy)
from bench.relay import UPSTREAMS

CONNECTIONS = 32
STREAM_CHUNKS = 20
SCENARIOS = {"chat": chat_body("gpt-fake"), "stream": chat_body("gpt-fake", STREAM_CHUNKS)}
REFERENCE = "direct"
BASELINE = "aiohttp"
"""The client Gatehouse uses today; the others are compared with it."""


def missing(client: str) -> str | None:
    """Why `client` cannot be measured here, if it cannot."""
    module = UPSTREAMS[client].module
    if importlib.util.find_spec(module) is None:
        return f"{client}: skipped, {module} is not installed ({PYTHON} -m pip install {module})"
    return None


def relay_server(client: str, upstream_url: str, work_dir: Path) -> tuple[Server, str]:
    port = free_port()
    command = [PYTHON, "-m", "bench.relay", "--client", client, "--upstream", upstream_url, "--host", HOST,
               "--port", str(port)]
    url = f"http://{HOST}:{port}/v1/chat/completions"
    return Server(f"relay-{client}", command, f"http://{HOST}:{port}/health", work_dir), url


def load(name: str, url: str, args: argparse.Namespace, notes: list[str]) -> dict[str, WrkResult]:
    """Every scenario against `url`, with a progress line each; warnings go to `notes`."""
    results = {}
    for scenario, body in SCENARIOS.items():
        result = measure(url, body, connections=CONNECTIONS, seconds=args.duration, warmup=args.warmup)
        print(f"  {name:<10} {scenario:<7} {result.rps:>9,.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
              f"p99 {result.p99_ms:6.2f} ms  (others: {result.foreign_cpu:.0%} CPU)", file=sys.stderr, flush=True)
        notes += run_notes(f"{name} {scenario}", result.foreign_cpu, result.errors, result.requests)
        results[scenario] = result
    return results


def run(clients: list[str], args: argparse.Namespace, notes: list[str]) -> dict[str, list[dict[str, WrkResult]]]:
    """All rounds: the direct reference, then each client's relay (started and stopped per round)."""
    measured: dict[str, list[dict[str, WrkResult]]] = {name: [] for name in [REFERENCE, *clients]}
    with tempfile.TemporaryDirectory(prefix="gatehouse-clients-") as tmp, ExitStack() as stack:
        work_dir = Path(tmp)
        fake, upstream = fake_upstream(work_dir)
        stack.enter_context(fake)
        direct_url = upstream + "/chat/completions"
        for number in range(1, args.rounds + 1):
            print(f"round {number}/{args.rounds}", file=sys.stderr, flush=True)
            measured[REFERENCE].append(load(REFERENCE, direct_url, args, notes))
            for client in clients:
                server, url = relay_server(client, direct_url, work_dir)
                try:
                    with server:
                        measured[client].append(load(client, url, args, notes))
                except BenchError as error:
                    notes.append(f"{client}: failed in round {number}: {error}")
    return {name: rounds for name, rounds in measured.items() if rounds}


def table(measured: dict[str, list[dict[str, WrkResult]]]) -> Table:
    """Medians per client and scenario, with throughput relative to the baseline client."""
    summaries = {name: {scenario: Summary.of([results[scenario] for results in rounds]) for scenario in SCENARIOS}
                 for name, rounds in measured.items()}
    baseline = summaries.get(BASELINE)
    headers = ["Client"]
    for scenario in SCENARIOS:
        headers += [f"{scenario} req/s", f"{scenario} p50 ms", f"{scenario} p99 ms"]
    headers += [f"{scenario} req/s vs {BASELINE}" for scenario in SCENARIOS] if baseline else []
    rows = []
    for name, by_scenario in summaries.items():
        row = [name if name != REFERENCE else "direct (no relay)"]
        for summary in by_scenario.values():
            row += [fmt_rate(summary.rps) + ("!" if summary.errors else ""), fmt_ms(summary.p50_ms),
                    fmt_ms(summary.p99_ms)]
        if baseline:
            row += [fmt_ratio(by_scenario[scenario].rps / baseline[scenario].rps) for scenario in SCENARIOS]
        rows.append(row)
    return Table(headers, rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.http_clients", description=__doc__.split("\n\n")[0])
    add_run_options(parser, "repeat the whole sequence")
    parser.add_argument("--clients", type=names_of(UPSTREAMS, "client"), default=list(UPSTREAMS),
                        metavar="NAME[,NAME]", help=f"clients to measure (default: {', '.join(UPSTREAMS)})")
    return parse_run_options(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    interrupt_on_sigterm()
    notes = [note for client in args.clients if (note := missing(client))]
    clients = [client for client in args.clients if not missing(client)]
    try:
        ensure_wrk()
        facts = machine_facts() | {name: package_version(UPSTREAMS[name].module) for name in clients}
        warn_if_busy()
        measured = run(clients, args, notes)
    except BenchError as error:
        print(f"http_clients: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("http_clients: interrupted; servers stopped", file=sys.stderr)
        return 130
    result = table(measured)
    print()
    print(result.text())
    for note in notes:
        print(f"note: {note}")
    if args.markdown:
        caption = (f"Produced by `python -m bench.http_clients --duration {args.duration:g} --rounds {args.rounds}` "
                   f"on {facts['date']}: wrk, 1 thread, {CONNECTIONS} connections, streams of {STREAM_CHUNKS} "
                   f"chunks; medians of {args.rounds} round(s); '!' marks runs with wrk errors.")
        extra = ["\n".join(f"- {note}" for note in notes)] if notes else []
        sections = [caption, result.markdown(), *extra, "Machine:", facts_markdown(facts)]
        args.markdown.write_text("\n\n".join(sections) + "\n")
        print(f"\nMarkdown written to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
