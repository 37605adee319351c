"""`python -m api.local.host SPEC SOCKET`: a model host, the one process that holds a local GGUF model (up to its
`parallel` instances) and runs every worker's requests on it, so that a crash or an abort inside llama.cpp costs
only this model's requests, and the model is in memory once whatever the number of workers.

Started, watched and restarted by the supervisor (api/local/hosts.py). It loads one instance before it says
`ready` on stdout (or `{"error": ...}` and exits 1 when the model cannot be loaded), then serves jobs on its
socket (api/local/host_protocol.py): each generation runs in a thread of its own with an instance lent to it
alone (more requests wait, at most `max_queue` of them, then 429), and writes its frames itself as the tokens
come; a connection that closes cancels its job. It exits by itself after `keep_alive` seconds without a request, and
when its supervisor is gone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import orjson

from api.local import host_protocol as wire
from api.local.generation import STARTED, Cancelled, Job, Loaded, Progress, generate
from api.local.host_protocol import Spec
from api.wire.errors import ApiError

IDLE_CHECK_S = 0.5
SPEEDS_KEPT = 8
"""tokens_per_s is of this many last answers."""


def load(spec: Spec) -> Any:
    """One instance of the model: a `Loaded` (chat and completions) or a bare Llama (embeddings)."""
    import llama_cpp

    extra: dict[str, Any] = ({"embedding": True, "pooling_type": llama_cpp.LLAMA_POOLING_TYPE_MEAN}
                             if spec.embedding else {})
    try:
        llm = llama_cpp.Llama(model_path=spec.path, n_ctx=spec.n_ctx, n_threads=spec.n_threads or None,
                              n_gpu_layers=spec.n_gpu_layers, verbose=False, **extra)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ApiError(500, f"provider '{spec.provider}' could not load {spec.path}: {exc}",
                       code="model_load_failed") from exc
    return llm if spec.embedding else Loaded(llm, spec.chat_template)


def embed(llm: Any, request: dict) -> bytes:
    texts = request["input"]
    if isinstance(texts, str):
        texts = [texts]
    if not texts or not all(isinstance(text, str) for text in texts):
        raise ApiError(400, "Local models embed text: 'input' must be a string or a list of strings.",
                       param="input", code="invalid_value")
    return orjson.dumps(llm.create_embedding(texts, model=request["model"]))


def failure(spec: Spec, exc: BaseException) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, Cancelled):
        return ApiError(499, "The client disconnected; the generation was stopped.", code="client_disconnected")
    return ApiError(500, f"provider '{spec.provider}': the local model failed: {exc.__class__.__name__}: {exc}",
                    code="local_model_error")


class Host:
    def __init__(self, spec: Spec, first: Any) -> None:
        self.spec = spec
        self.keep_alive = spec.keep_alive
        self.idle: list[Any] = [first]
        self.instances = 1
        self.waiters: deque[asyncio.Future] = deque()
        self.active = 0
        self.requests = 0
        self.used = time.monotonic()
        self.loaded_at = time.time()
        self.speeds: deque[float] = deque(maxlen=SPEEDS_KEPT)
        self.prompts: dict[int, Progress] = {}
        """The jobs still evaluating their prompt (by job number): how far they got."""
        self.stopping = asyncio.Event()

    # --- lending instances ----------------------------------------------------------------

    async def lend(self) -> Any:
        if self.idle:
            return self.idle.pop()
        if self.instances < self.spec.parallel:
            self.instances += 1
            try:
                return await asyncio.to_thread(load, self.spec)
            except BaseException:
                self.instances -= 1
                raise
        if len(self.waiters) >= self.spec.max_queue:
            raise ApiError(429, f"The local model '{self.spec.label}' is busy: {self.active} request(s) running and "
                                f"{len(self.waiters)} waiting (max_queue = {self.spec.max_queue}). Retry later.",
                           code="model_busy")
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.give_back(waiter.result())  # handed over just as its requester left
            raise
        finally:
            with contextlib.suppress(ValueError):
                self.waiters.remove(waiter)

    def give_back(self, instance: Any) -> None:
        self.used = time.monotonic()
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(instance)
                return
        self.idle.append(instance)

    # --- jobs ------------------------------------------------------------------------------

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            if not line:
                return
            request = orjson.loads(line)
            op = request.get("op")
            if op == "stats":
                writer.write(orjson.dumps(self.stats()) + b"\n")
            elif op == "keep_alive":
                self.keep_alive = float(request["seconds"])
                self.used = time.monotonic()
                writer.write(b"{}\n")
            else:
                self.active += 1
                try:
                    await self._job(op, request["body"], reader, writer)
                finally:
                    self.active -= 1
                    self.used = time.monotonic()
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _job(self, op: str, body: dict, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            job = Job.parse("chat" if op == "count" else op, body) if op != "embed" else None
            instance = await self.lend()
        except ApiError as error:
            writer.write(wire.error_frame(error))
            return
        loop = asyncio.get_running_loop()
        cancelled = threading.Event()
        returned = threading.Event()
        ended = asyncio.Event()
        # The job's thread writes its frames itself, on a blocking copy of the connection (the loop writes nothing
        # more on it): a token handed to the loop to write would wait for the loop's thread to wake and take the
        # GIL, about a millisecond on this machine, before the first token and after every one.
        channel = socket.socket(fileno=os.dup(writer.get_extra_info("socket").fileno()))
        channel.setblocking(True)
        last: bytes | None = None
        """The job's last frame (its end, or its error), written once the instance is given back."""
        self.requests += 1
        number = self.requests

        def give_back() -> None:
            self.give_back(instance)
            returned.set()

        def send(frame: bytes) -> None:
            if cancelled.is_set():
                return
            try:
                channel.sendall(frame)
            except OSError:  # the worker is gone: the job stops at its next token
                cancelled.set()

        def emit(item: object) -> None:
            nonlocal last
            if isinstance(item, Progress):
                if item.done:
                    self.prompts.pop(number, None)
                else:
                    self.prompts[number] = item
                send(wire.frame(wire.PROGRESS, orjson.dumps({"processed": item.processed, "total": item.total})))
            elif item is STARTED:
                send(wire.frame(wire.STARTED))
            elif isinstance(item, bytes):
                send(wire.frame(wire.REPLY if op == "count" else wire.DATA, item))
            elif last is None:  # the end (None) or an error: the first of them is the job's last frame
                last = wire.error_frame(failure(self.spec, item)) if isinstance(item, BaseException) else \
                    wire.frame(wire.END)

        def work() -> None:
            try:
                if op == "embed":
                    emit(STARTED)
                    emit(embed(instance, body))
                    emit(None)
                elif op == "count":
                    assert job is not None
                    emit(STARTED)
                    emit(orjson.dumps({"tokens": len(instance.prompt_tokens(job)[0])}))
                    emit(None)
                else:
                    assert job is not None
                    started = time.perf_counter()
                    usage = generate(instance, job, cancelled, emit)
                    if usage and usage["completion_tokens"] > 1:
                        self.speeds.append(usage["completion_tokens"] / (time.perf_counter() - started))
            except BaseException as exc:
                emit(exc)
            finally:  # the instance is free before the worker hears the end, and asks again
                loop.call_soon_threadsafe(give_back)
                returned.wait()
                if last is not None:
                    send(last)
                channel.close()
                loop.call_soon_threadsafe(ended.set)

        threading.Thread(target=work, name=f"{op} {self.spec.label}", daemon=True).start()
        gone = asyncio.ensure_future(reader.read(1))  # the worker closing its end cancels the job
        gone.add_done_callback(lambda _: cancelled.set())
        try:
            await ended.wait()
        finally:
            gone.cancel()
            self.prompts.pop(number, None)

    def stats(self) -> dict:
        return {"pid": os.getpid(), "loaded_at": self.loaded_at, "active": self.active, "requests": self.requests,
                "waiting": len(self.waiters), "instances": self.instances,
                "tokens_per_s": round(sum(self.speeds) / len(self.speeds), 2) if self.speeds else None,
                "keep_alive": self.keep_alive, "idle_s": 0.0 if self.active else time.monotonic() - self.used,
                "prompt_progress": [{"processed": progress.processed, "total": progress.total}
                                    for progress in list(self.prompts.values())]}  # (jobs' threads change it)

    async def watch(self, parent: int) -> None:
        """Exit after `keep_alive` seconds idle, or when the supervisor is gone."""
        while True:
            await asyncio.sleep(IDLE_CHECK_S)
            if os.getppid() != parent:
                return
            if self.active == 0 and 0 <= self.keep_alive <= time.monotonic() - self.used:
                return


async def run(spec: Spec, socket_path: str, first: Any) -> None:
    host = Host(spec, first)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)
    server = await asyncio.start_unix_server(host.serve, socket_path, limit=wire.LINE_LIMIT)
    os.chmod(socket_path, 0o600)
    print("ready", flush=True)
    try:
        await host.watch(os.getppid())
    finally:
        server.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.local.host", description=__doc__)
    parser.add_argument("spec", help="the model's spec, as JSON")
    parser.add_argument("socket", type=Path, help="the Unix socket to serve on")
    args = parser.parse_args(argv)
    spec = Spec.from_json(orjson.loads(args.spec))
    try:
        first = load(spec)
    except ImportError:
        print(orjson.dumps({"error": "llama-cpp-python is not installed"}).decode(), flush=True)
        return 1
    except ApiError as error:
        print(orjson.dumps({"error": error.message}).decode(), flush=True)
        return 1
    asyncio.run(run(spec, str(args.socket), first))
    return 0


if __name__ == "__main__":
    sys.exit(main())
