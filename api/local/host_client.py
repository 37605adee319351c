"""A worker's way to the model hosts: ask the supervisor (api/local/hosts.py) for a model's host, then run a job
on it (api/local/host_protocol.py) and read its frames. A host that is gone when asked (idle past its
keep_alive, unloaded) is asked for again; one that dies during a job ends that job with a 503 saying the model
crashed and is being restarted.

The supervisor is the one `python -m api` started (its socket in `GATEHOUSE_MODEL_HOSTS`); a worker running
without one (the app served by another ASGI server, a test) starts its own on first use.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import orjson

from api.local import host_protocol as wire
from api.local.host_protocol import Spec
from api.wire.errors import ApiError

ASK_S = 10.0
"""How long the supervisor is given for anything but loading a model."""


def crashed(spec: Spec) -> ApiError:
    return ApiError(503, f"The local model '{spec.label}' crashed; it is being restarted. Retry in a few seconds.",
                    code="local_model_crashed")


class HostJob:
    """One job on a model's host: its frames, and `close()` to cancel it."""

    def __init__(self, spec: Spec, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.spec = spec
        self.reader, self.writer = reader, writer
        self.prompt_progress: tuple[int, int] | None = None
        """(processed, total) tokens of the prompt, as the last PROGRESS frame said; None before any."""

    async def _frame(self) -> tuple[bytes, bytes] | None:
        """The next frame other than progress (which is kept); None when the host closed the connection; an
        ApiError for an error frame."""
        while True:
            got = await wire.read_frame(self.reader)
            if got is None or got[0] not in (wire.ERROR, wire.PROGRESS):
                return got
            if got[0] == wire.ERROR:
                raise wire.error_of(got[1])
            progress = orjson.loads(got[1])
            self.prompt_progress = (progress["processed"], progress["total"])

    async def _next(self) -> tuple[bytes, bytes]:
        got = await self._frame()
        if got is None:
            raise crashed(self.spec)
        return got

    async def started(self) -> bool:
        """Wait until the job is taken on: False when the host closed the connection first (it was stopping:
        unloaded, idle or crashed, as the job reached it), an ApiError (400, 429…) when it refused the job."""
        got = await self._frame()
        if got is not None and got[0] != wire.STARTED:
            raise ApiError(500, f"The model host of '{self.spec.label}' answered out of order.")
        return got is not None

    async def data(self) -> AsyncIterator[bytes]:
        """The answer's bytes (or a count's JSON), until the end."""
        while True:
            kind, payload = await self._next()
            if kind == wire.END:
                return
            yield payload

    def close(self) -> None:
        self.writer.close()


class ModelHosts:
    """A worker's client of the supervisor, shared by every `llamacpp` provider of the worker."""

    def __init__(self, control: str | None) -> None:
        self.control = control
        self._sockets: dict[str, str] = {}
        self._own: subprocess.Popen | None = None
        self._starting: asyncio.Future | None = None

    async def _supervisor(self) -> str:
        if self.control is None:
            if self._starting is None:
                self._starting = asyncio.ensure_future(asyncio.to_thread(self._start_own))
            await asyncio.shield(self._starting)
        assert self.control is not None
        return self.control

    def _start_own(self) -> None:
        """A supervisor of this worker's own, stopped when the worker exits."""
        path = wire.runtime_dir(f"w{os.getpid()}") / "hosts.sock"
        self._own = subprocess.Popen([sys.executable, "-m", "api.local.hosts", str(path)], stdout=subprocess.PIPE)
        assert self._own.stdout is not None
        if self._own.stdout.readline().strip() != b"ready":
            raise ApiError(503, "The supervisor of the local model hosts did not start.", code="model_hosts_down")
        atexit.register(self._own.terminate)
        self.control = str(path)

    async def ask(self, request: dict, timeout_s: float | None = ASK_S) -> dict:
        try:
            answer = await wire.ask(await self._supervisor(), request, timeout_s)
        except (OSError, TimeoutError) as exc:
            raise ApiError(503, f"The supervisor of the local model hosts is not answering: {exc}",
                           code="model_hosts_down") from exc
        if "error" in answer:
            error = answer["error"]
            raise ApiError(error["status"], error["message"], code=error.get("code"))
        return answer

    async def ensure(self, spec: Spec) -> str:
        """The socket of the model's host, started (and the model loaded) if it was not."""
        answer = await self.ask({"op": "ensure", "spec": spec.to_json()}, None)  # a load may take minutes
        self._sockets[spec.key] = answer["socket"]
        return answer["socket"]

    async def open(self, spec: Spec, op: str, body: dict) -> HostJob:
        """A job on the model's host, sent and taken on (after those ahead of it in the host's queue). A host that
        is gone, or goes as the job reaches it (unloaded, idle, crashed), is asked for again: a job not yet taken
        on can be sent again."""
        for _ in range(3):
            socket = self._sockets.get(spec.key) or await self.ensure(spec)
            try:
                reader, writer = await asyncio.open_unix_connection(socket, limit=wire.LINE_LIMIT)
            except (FileNotFoundError, ConnectionRefusedError):
                self._sockets.pop(spec.key, None)  # gone since (idle, unloaded, crashed): ask for it again
                continue
            writer.write(orjson.dumps({"op": op, "body": body}) + b"\n")
            job = HostJob(spec, reader, writer)
            try:
                if await job.started():
                    return job
            except BaseException:
                job.close()
                raise
            job.close()
            self._sockets.pop(spec.key, None)
        raise crashed(spec)

    async def set_keep_alive(self, spec: Spec, seconds: float) -> None:
        """From now on the model stays `seconds` after its last request (negative: until unloaded)."""
        await self.ask({"op": "keep_alive", "key": spec.key, "seconds": seconds})

    async def loaded(self) -> list[dict]:
        return (await self.ask({"op": "loaded"}))["hosts"]

    async def unload(self, provider: str, name: str) -> bool:
        return bool((await self.ask({"op": "unload", "provider": provider, "name": name}))["unloaded"])

    async def crashes(self) -> list[dict]:
        return (await self.ask({"op": "crashes"}))["crashes"]


_HOSTS: ModelHosts | None = None


def model_hosts() -> ModelHosts:
    """This worker's client of the model hosts."""
    global _HOSTS
    if _HOSTS is None:
        _HOSTS = ModelHosts(os.environ.get(wire.SUPERVISOR_ENV))
    return _HOSTS
