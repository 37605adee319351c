"""`python -m api.local.hosts SOCKET`: the supervisor of the model hosts (api/local/host.py), one per server,
started by `python -m api` beside its workers (or by a worker that finds none), never by the TUI.

Workers ask it for a model's host (`ensure`, with the model's `Spec`); it starts one process per model (the same
spec from any worker is the same host), waits until the model is loaded, and answers the host's socket. It keeps
each provider within its `max_loaded` / `max_memory_mb` by unloading the host idle the longest. A host
that exits by itself (idle past its `keep_alive`, or unloaded) is forgotten; one that dies (a signal, an abort in
llama.cpp) is noted in `crashes` and started again with backoff (1 s, doubling to 30 s), until it has failed
`GIVE_UP_AFTER` times in a row without serving: then the next request starts it afresh.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from api.local import host_protocol as wire
from api.local.host_protocol import Spec

log = logging.getLogger("gatehouse")

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
HEALTHY_S = 60.0
"""A host that ran this long before it died starts its backoff from the beginning."""
GIVE_UP_AFTER = 5
CRASHES_KEPT = 50
ASK_HOST_S = 2.0
STOP_GRACE_S = 5.0
PARENT_CHECK_S = 1.0


@dataclass(slots=True)
class HostProcess:
    spec: Spec
    socket: str
    state: str = "loading"
    """loading → ready; restarting after a crash."""
    process: asyncio.subprocess.Process | None = None
    ready: asyncio.Future | None = None
    """Resolved when it is ready (None) or could not be (the error); pending while loading or restarting."""
    task: asyncio.Task | None = None
    started: float = 0.0
    failures: int = 0
    stopping: bool = False


class Supervisor:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.hosts: dict[str, HostProcess] = {}
        self.crashes: list[dict] = []

    # --- requests from workers --------------------------------------------------------------

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            if line:
                request = orjson.loads(line)
                try:
                    answer = await self.answer(request)
                except Exception as exc:  # a request this version does not know, a bad spec
                    log.exception("%s failed", request.get("op"))
                    answer = {"error": {"status": 500, "message": f"model hosts: {exc}"}}
                writer.write(orjson.dumps(answer) + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def answer(self, request: dict) -> dict:
        op = request["op"]
        if op == "ensure":
            return await self.ensure(Spec.from_json(request["spec"]))
        if op == "loaded":
            return {"hosts": await self.loaded()}
        if op == "unload":
            return {"unloaded": await self.unload(request["provider"], request["name"])}
        if op == "keep_alive":
            host = self.hosts.get(request["key"])
            if host is not None and host.state == "ready":
                await wire.ask(host.socket, {"op": "keep_alive", "seconds": request["seconds"]}, ASK_HOST_S)
            return {}
        if op == "crashes":
            return {"crashes": self.crashes}
        raise ValueError(f"unknown op {op!r}")

    async def ensure(self, spec: Spec) -> dict:
        host = self.hosts.get(spec.key)
        if host is None:
            await self._make_room(spec)
            host = self.hosts[spec.key] = HostProcess(spec, str(self.folder / f"{spec.key}.sock"))
            self._start(host)
        if host.state != "ready":
            assert host.ready is not None  # set by _start, for every state but ready
            error = await asyncio.shield(host.ready)
            if error is not None:
                return {"error": error}
        return {"socket": host.socket, "pid": host.process.pid if host.process else None}

    async def loaded(self) -> list[dict]:
        async def one(host: HostProcess) -> dict:
            entry = {"provider": host.spec.provider, "name": host.spec.name, "embedding": host.spec.embedding,
                     "key": host.spec.key, "state": host.state, "size_bytes": host.spec.size_bytes,
                     "pid": host.process.pid if host.process else None, "memory_mb": _memory_mb(host.process),
                     "keep_alive": host.spec.keep_alive}
            return entry | await self._stats(host)
        return list(await asyncio.gather(*(one(host) for host in list(self.hosts.values()))))

    async def unload(self, provider: str, name: str) -> bool:
        """Every host of that model (its chat and its embeddings one) exits once its requests are done."""
        found = [host for host in self.hosts.values() if host.spec.provider == provider and host.spec.name == name]
        for host in found:
            await self._retire(host)
        return bool(found)

    # --- processes ------------------------------------------------------------------------

    def _start(self, host: HostProcess) -> None:
        host.state = "loading"
        if host.ready is None or host.ready.done():
            host.ready = asyncio.get_running_loop().create_future()
        host.task = asyncio.ensure_future(self._run(host))

    async def _run(self, host: HostProcess) -> None:
        """Start the host and wait for it to end; then forget it (it exited by itself) or start it again."""
        assert host.ready is not None
        host.started = time.monotonic()
        process = host.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "api.local.host", orjson.dumps(host.spec.to_json()).decode(), host.socket,
            stdout=asyncio.subprocess.PIPE, start_new_session=True)
        assert process.stdout is not None
        first = await process.stdout.readline()
        if first.strip() == b"ready":
            host.state = "ready"
            if not host.ready.done():
                host.ready.set_result(None)
        code = await process.wait()
        if host.stopping or (code == 0 and host.state == "ready"):
            self.hosts.pop(host.spec.key, None)  # unloaded, or idle past its keep_alive
            if not host.ready.done():
                host.ready.set_result({"status": 503, "code": "model_unloaded",
                                       "message": f"The local model '{host.spec.label}' was unloaded while loading."})
            return
        if host.state != "ready":  # it never loaded: a reason on stdout, or a crash while loading
            reason = _reason(first) or f"its process ended while loading ({_how(code)})"
            message = f"The local model '{host.spec.label}' could not be loaded: {reason}"
            log.error("%s", message)
            if not host.ready.done():
                host.ready.set_result({"status": 503, "message": message, "code": "model_load_failed"})
            if _reason(first):  # a load that fails the same way next time: not retried by itself
                self.hosts.pop(host.spec.key, None)
                return
        self._crashed(host, code)

    def _crashed(self, host: HostProcess, code: int) -> None:
        ran = time.monotonic() - host.started
        host.failures = 1 if ran >= HEALTHY_S else host.failures + 1
        self.crashes.append({"model": f"{host.spec.provider}:{host.spec.name}", "embedding": host.spec.embedding,
                             "at": time.time(), "how": _how(code), "pid": host.process.pid if host.process else None,
                             "restarts": host.failures})
        del self.crashes[:-CRASHES_KEPT]
        log.error("the host of '%s' (pid %s) %s; %s", host.spec.label,
                  host.process.pid if host.process else "?", _how(code),
                  f"not restarted (failed {host.failures} times in a row)" if host.failures >= GIVE_UP_AFTER
                  else "restarting")
        if host.failures >= GIVE_UP_AFTER:
            self.hosts.pop(host.spec.key, None)
            return
        host.state = "restarting"
        if host.ready is None or host.ready.done():
            host.ready = asyncio.get_running_loop().create_future()
        delay = BACKOFF_S[min(host.failures - 1, len(BACKOFF_S) - 1)]
        asyncio.get_running_loop().call_later(delay, self._restart, host)

    def _restart(self, host: HostProcess) -> None:
        if self.hosts.get(host.spec.key) is host and not host.stopping:
            self._start(host)

    async def _retire(self, host: HostProcess) -> None:
        """Let a host exit once idle (now, when it is)."""
        host.stopping = True
        if host.state == "ready":
            with contextlib.suppress(OSError, TimeoutError, ValueError):
                await wire.ask(host.socket, {"op": "keep_alive", "seconds": 0}, ASK_HOST_S)
                return
        if host.process is not None and host.process.returncode is None:
            host.process.terminate()
        self.hosts.pop(host.spec.key, None)

    async def _make_room(self, spec: Spec) -> None:
        """Unload the provider's longest idle hosts until one more fits its budget (workers reach a host without
        the supervisor, so how long each has been idle is asked of the hosts themselves)."""
        mine = [host for host in self.hosts.values() if host.spec.provider == spec.provider and not host.stopping]
        limit = spec.max_memory_mb * 1024 * 1024

        def over() -> bool:
            memory = spec.size_bytes + sum(host.spec.size_bytes for host in mine)
            return len(mine) + 1 > spec.max_loaded or bool(limit and memory > limit)

        if not over():
            return
        stats = await asyncio.gather(*(self._stats(host) for host in mine))
        idle = sorted(zip(mine, stats, strict=True), key=lambda pair: pair[1].get("idle_s", 0.0), reverse=True)
        for host, said in idle:
            if not over():
                return
            if host.state != "ready" or said.get("active") or said.get("keep_alive", 0) < 0:
                continue  # loading, busy or pinned: never unloaded for room
            log.info("unloading '%s' (idle the longest; max_loaded=%d, max_memory_mb=%d)",
                     host.spec.label, spec.max_loaded, spec.max_memory_mb)
            await self._retire(host)
            mine.remove(host)

    async def _stats(self, host: HostProcess) -> dict:
        if host.state != "ready":
            return {}
        try:
            return await wire.ask(host.socket, {"op": "stats"}, ASK_HOST_S)
        except (OSError, TimeoutError, ValueError):
            return {}

    async def stop(self) -> None:
        for host in list(self.hosts.values()):
            host.stopping = True
            if host.process is not None and host.process.returncode is None:
                host.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for host in list(self.hosts.values()):
            if host.process is not None:
                try:
                    await asyncio.wait_for(host.process.wait(), max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    host.process.kill()


def _reason(line: bytes) -> str | None:
    try:
        return orjson.loads(line).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return None


def _how(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _memory_mb(process: asyncio.subprocess.Process | None) -> float | None:
    """Resident memory of a host (its model's weights are mapped from the file and counted once they are read)."""
    if process is None or process.returncode is not None:
        return None
    try:
        with open(f"/proc/{process.pid}/status") as status:
            return next((round(int(line.split()[1]) / 1024, 1) for line in status if line.startswith("VmRSS:")), None)
    except OSError:
        return None


async def run(socket_path: Path) -> None:
    supervisor = Supervisor(socket_path.parent)
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()
    server = await asyncio.start_unix_server(supervisor.serve, str(socket_path), limit=wire.LINE_LIMIT)
    os.chmod(socket_path, 0o600)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    parent = os.getppid()
    print("ready", flush=True)
    while not stop.is_set() and os.getppid() == parent:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PARENT_CHECK_S)
    server.close()
    await supervisor.stop()
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.local.hosts", description=__doc__)
    parser.add_argument("socket", type=Path, help="the Unix socket workers ask on")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gatehouse model hosts: %(message)s")
    asyncio.run(run(args.socket))
    return 0


if __name__ == "__main__":
    sys.exit(main())
