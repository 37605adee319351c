"""Scaffolding shared by the benchmarks: server processes, wrk runs, request bodies, tables.

Every server runs as a subprocess in its own process group and is stopped with its whole
group (Granian's workers included) when its context exits, whether the benchmark ended,
failed or was interrupted. Every load run is bounded in time and targets 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
WRK_SCRIPT = REPO / "bench" / "wrk" / "post.lua"
HOST = "127.0.0.1"

WRK_THREADS = 1
"""One wrk thread keeps up with the fake upstream's ~19k requests/s using a third of a core; a second
thread measured no more and only takes CPU from the servers it shares the 2 cores with."""

WRK_TIMEOUT_S = 10
PROMPT = "Write a short note about load testing an HTTP gateway on a small two-core machine."


class BenchError(RuntimeError):
    """A benchmark could not run (a server did not start, a target answered wrongly...)."""


def interrupt_on_sigterm() -> None:
    """Handle SIGTERM as Ctrl-C: `with` blocks stop the servers on the way out."""

    def interrupt(*_) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def guarded(name: str, work):
    """`work()`, or None after saying why it stopped: a BenchError, or Ctrl-C/SIGTERM (its servers are
    stopped by their `with` blocks on the way out)."""
    try:
        return work()
    except BenchError as error:
        print(f"{name}: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{name}: interrupted; servers stopped", file=sys.stderr)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def chat_body(model: str, stream_chunks: int | None = None) -> bytes:
    """A chat completion request; with `stream_chunks`, a stream of that many content chunks."""
    body: dict = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
    if stream_chunks is not None:
        body |= {"stream": True, "fake": {"chunks": stream_chunks}}
    return json.dumps(body).encode()


# --- servers ---------------------------------------------------------------------------------


class Server:
    """A server subprocess, started and made ready on enter, stopped (whole group) on exit."""

    def __init__(self, name: str, command: list[str], ready_url: str, log_dir: Path) -> None:
        self.name = name
        self.command = command
        self.ready_url = ready_url
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.ready_url, timeout=1) as reply:
                    if reply.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} exited with code {self.process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name} not ready after {timeout:.0f}s at {self.ready_url}:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, grace: float = 10) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left of it after `grace` seconds."""
        if self.process is None:
            return
        group = self.process.pid  # start_new_session: the group id is the leader's pid
        _signal_group(group, signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(group, signal.SIGKILL)  # workers a dead leader left behind, if any
        self.process.wait()
        self.process = None

    def worker_pids(self) -> list[int]:
        """Pids of Granian's worker processes: the server's children forked from it (the same command line; its
        helpers, Gatehouse's LocalDocs indexer and model hosts, run commands of their own)."""
        command = _command(self.process.pid)
        return [child for child in children(self.process.pid) if command is not None and _command(child) == command]

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def children(pid: int) -> list[int]:
    """Pids of the child processes of `pid`, whichever of its threads started them."""
    pids = []
    for listed in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids += [int(child) for child in listed.read_text().split()]
        except OSError:  # the thread ended meanwhile
            pass
    return pids


def _command(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone meanwhile
        return None


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except (ProcessLookupError, PermissionError):
        pass


def fake_upstream(log_dir: Path) -> tuple[Server, str]:
    """The fake OpenAI server (1 worker) on a free port, and its base URL (ending in /v1)."""
    port = free_port()
    command = [PYTHON, "-m", "tests.fixtures.fake_openai", "--host", HOST, "--port", str(port), "--workers", "1"]
    return Server("fake-openai", command, f"http://{HOST}:{port}/v1/models", log_dir), f"http://{HOST}:{port}/v1"


# --- checks and load ---------------------------------------------------------------------------


def check_reply(url: str, body: bytes, auth: str | None = None) -> None:
    """Send one request and fail unless it succeeds (a complete stream for streaming bodies).

    wrk would happily measure a fast stream of 401s; this makes sure the load is the real thing.
    """
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {auth}"} if auth else {})
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            data = reply.read()
    except urllib.error.HTTPError as error:
        raise BenchError(f"{url} answered {error.code}: {error.read()[:300]!r}") from None
    except OSError as error:
        raise BenchError(f"{url} failed: {error}") from None
    if json.loads(body).get("stream") is True and not data.endswith(b"data: [DONE]\n\n"):
        raise BenchError(f"{url} sent an incomplete stream: ...{data[-200:]!r}")


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: request count, duration, latency percentiles and error counts."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    foreign_cpu: float = 0.0
    """Share of the CPU used by processes outside the benchmark during the run (see ForeignCpu)."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


@dataclass(frozen=True)
class Summary:
    """Medians over repeated runs of one target in one scenario (one run is its own median)."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    @classmethod
    def of(cls, results: list[WrkResult]) -> Summary:
        return cls(statistics.median(r.rps for r in results), statistics.median(r.p50_ms for r in results),
                   statistics.median(r.p99_ms for r in results), sum(r.error_count for r in results))


def ensure_wrk() -> str:
    """The wrk executable, installed with apt-get when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise BenchError("wrk is missing: install it (Debian/Ubuntu: sudo apt-get install -y wrk)")
    print("wrk is missing: installing it with 'apt-get install -y wrk'", flush=True)
    if subprocess.run([apt, "install", "-y", "wrk"], check=False).returncode != 0:
        subprocess.run([apt, "update"], check=False)
        subprocess.run([apt, "install", "-y", "wrk"], check=False)
    found = shutil.which("wrk")
    if not found:
        raise BenchError("could not install wrk with apt-get")
    return found


def run_wrk(url: str, body: bytes, *, connections: int, seconds: int, auth: str | None = None) -> WrkResult:
    """One wrk run of `seconds` with `connections` keep-alive connections POSTing `body`."""
    command = [ensure_wrk(), f"-t{min(WRK_THREADS, connections)}", f"-c{connections}", f"-d{seconds}s",
               f"--timeout={WRK_TIMEOUT_S}s", "--latency", "-s", str(WRK_SCRIPT), url]
    env = os.environ | {"BENCH_BODY": body.decode(), "BENCH_AUTH": auth or ""}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 30, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            raw = json.loads(line.removeprefix("BENCH_RESULT "))
            return WrkResult(raw["requests"], raw["duration_us"] / 1e6, raw["p50_us"] / 1e3,
                             raw["p90_us"] / 1e3, raw["p99_us"] / 1e3,
                             {k: v for k, v in raw["errors"].items() if v})
    raise BenchError(f"wrk gave no result (exit code {done.returncode}):\n{done.stdout}\n{done.stderr}")


def measure(url: str, body: bytes, *, connections: int, seconds: int, warmup: int,
            auth: str | None = None) -> WrkResult:
    """Check one reply, warm up for `warmup` seconds (discarded), then measure for `seconds`."""
    check_reply(url, body, auth)
    if warmup > 0:
        run_wrk(url, body, connections=connections, seconds=warmup, auth=auth)
    with ForeignCpu() as foreign:
        result = run_wrk(url, body, connections=connections, seconds=seconds, auth=auth)
    return replace(result, foreign_cpu=foreign.share)


FOREIGN_CPU_LIMIT = 0.10


def run_notes(label: str, foreign_cpu: float, errors: dict[str, int] | None = None, requests: int = 0) -> list[str]:
    """Warnings about one measured run: wrk errors, other processes competing for the CPU."""
    notes = []
    if errors:
        notes.append(f"{label}: wrk errors {errors} out of {requests} requests")
    if foreign_cpu > FOREIGN_CPU_LIMIT:
        notes.append(f"{label}: other processes used {foreign_cpu:.0%} of the CPU during the run")
    return notes


# --- command line ----------------------------------------------------------------------------


def names_of(choices, what: str):
    """An argparse type: comma-separated names, each one of `choices` (a `what`)."""

    def parse(value: str) -> list[str]:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown) or repr(value)}; "
                                             f"choose from {', '.join(choices)}")
        return names

    return parse


def add_run_options(parser: argparse.ArgumentParser, rounds_help: str) -> None:
    """--duration, --warmup, --rounds and --markdown, common to both benchmarks."""
    parser.add_argument("--duration", type=int, default=10, metavar="SECONDS",
                        help="length of each measured run (default 10)")
    parser.add_argument("--warmup", type=int, default=2, metavar="SECONDS",
                        help="warm-up before each measured run, not counted (default 2)")
    parser.add_argument("--rounds", type=int, default=1, metavar="N", help=f"{rounds_help}; report medians (default 1)")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the table as Markdown to FILE")


def parse_run_options(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.rounds < 1:
        parser.error("--duration and --rounds must be positive, --warmup not negative")
    return args


# --- the machine ------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    """The measured code: HEAD's short hash, flagged when tracked files have uncommitted changes."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "--no-optional-locks", *args], cwd=REPO, capture_output=True, text=True,
                              check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "unknown (not a git checkout)"
    return head + (" with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine_facts() -> dict[str, str]:
    """What a reader needs to compare figures: date, code, cores, CPU, versions."""
    wrk = shutil.which("wrk")
    wrk_version = "-"
    if wrk:  # "wrk debian/4.1.0-3+b2 [epoll] Copyright ..."
        wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False).stdout
        wrk_version = wrk_version.split(" [")[0].strip()
    return {
        "date": datetime.date.today().isoformat(),
        "commit": _commit(),
        "cores (nproc)": str(os.cpu_count()),
        "CPU": _cpu_model(),
        "Python": platform.python_version(),
        "Granian": package_version("granian"),
        "BlackSheep": package_version("blacksheep"),
        "httptools (upstream HTTP parser)": package_version("httptools"),
        "wrk": wrk_version,
    }


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of all cores since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _own_ticks() -> int:
    """CPU ticks of this process, its reaped children (wrk runs) and its live descendants (servers)."""
    parents, ticks = {}, {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
        if pid == os.getpid():
            ticks[pid] += int(fields[13]) + int(fields[14])  # cutime + cstime of reaped children
    ours, joined = set(), {os.getpid()}
    while joined:  # add children generation by generation
        ours |= joined
        joined = {pid for pid, parent in parents.items() if parent in joined}
    return sum(ticks.get(pid, 0) for pid in ours)


class ForeignCpu:
    """Measures, over a `with` block, the share of all cores used by processes that are not this
    benchmark's (other jobs on a shared machine), as `share` (0..1). Figures taken while it is
    high are not comparable with quiet ones."""

    share = 0.0

    def __enter__(self) -> ForeignCpu:
        self._start = (*_machine_ticks(), _own_ticks())
        return self

    def __exit__(self, *exc_info) -> None:
        (busy, total), own = _machine_ticks(), _own_ticks()
        busy0, total0, own0 = self._start
        self.share = max(0.0, ((busy - busy0) - (own - own0)) / max(1, total - total0))


def warn_if_busy(threshold: float = 0.15) -> float:
    """Warn when other processes use more than `threshold` of the CPU during one second."""
    with ForeignCpu() as foreign:
        time.sleep(1)
    if foreign.share > threshold:
        print(f"warning: the machine is busy before the run ({foreign.share:.0%} of CPU in use by other processes); "
              "figures will be noisy", file=sys.stderr, flush=True)
    return foreign.share


# --- tables -------------------------------------------------------------------------------------


@dataclass
class Table:
    """Rows of already formatted cells; the first `labels` columns are left-aligned, the rest right."""

    headers: list[str]
    rows: list[list[str]]
    labels: int = 1

    def _aligned(self, cells: list[str], widths: list[int]) -> list[str]:
        return [c.ljust(w) if i < self.labels else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]

    def text(self) -> str:
        widths = [max(len(row[i]) for row in [self.headers, *self.rows]) for i in range(len(self.headers))]
        lines = ["  ".join(self._aligned(self.headers, widths)), "  ".join("-" * w for w in widths)]
        lines += ["  ".join(self._aligned(row, widths)) for row in self.rows]
        return "\n".join(line.rstrip() for line in lines)

    def markdown(self) -> str:
        rule = ["---" if i < self.labels else "---:" for i in range(len(self.headers))]
        return "\n".join("| " + " | ".join(cells) + " |" for cells in [self.headers, rule, *self.rows])


def facts_markdown(facts: dict[str, str]) -> str:
    return "\n".join(f"- {name}: {value}" for name, value in facts.items())


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def fmt_ms(value: float) -> str:
    return f"{value:.2f}"


def fmt_ratio(value: float) -> str:
    return f"{value:.2f}x"
