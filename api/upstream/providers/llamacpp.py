"""Provider type `llamacpp`: GGUF models run in-process by llama-cpp-python (the optional extra `local`).

The seam: `post` returns a `LocalAnswer`, which offers the relay the part of an upstream response
(`api.upstream.http_client.Response`) it uses (status, headers, `content.iter_any()`, `read()`, `release()`,
`close()`), filled with the OpenAI-shaped bytes a generation thread produces. The relay,
usage accounting, activity records and the Anthropic translation therefore work unchanged,
and `close()` (the relay's answer to a client disconnect) stops the generation. `count_tokens`
(Anthropic's count_tokens) tokenizes the prompt on a lent instance without generating.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import orjson

from api.config import locations
from api.config.settings import LocalModelSettings, ProviderSettings, ServerSettings
from api.local.generation import STARTED, Cancelled, Job, Loaded, generate
from api.local.gguf import GGUFError, GGUFInfo, read_gguf
from api.local.pool import pool_for
from api.upstream.providers.base import Provider
from api.wire.errors import ApiError

log = logging.getLogger("gatehouse")
T = TypeVar("T")

OWNER = "local"
"""`owned_by` of every in-process model in /v1/models, whatever the provider's id."""


@lru_cache(maxsize=256)
def _header(path: Path, stamp: tuple) -> GGUFInfo:
    return read_gguf(path)


def header(path: Path) -> GGUFInfo:
    """The GGUF header of `path`, read again only when the file changed."""
    stat = path.stat()
    return _header(path, (stat.st_ino, stat.st_mtime_ns, stat.st_size))


def from_package(package: str, directory: Path) -> Path:
    """The GGUF file shipped by a PyPI package with an `assemble(output_path)` function, assembled once
    into `directory` (written under a temporary name, then renamed, so a file there is whole)."""
    module = importlib.import_module(package.replace("-", "_"))
    target = directory / getattr(module, "MODEL_NAME", f"{package}.gguf")
    if not target.exists():
        directory.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        module.assemble(partial, overwrite=True)
        os.replace(partial, target)
    return target


@dataclass(frozen=True, slots=True)
class ModelFile:
    """A model as discovered: its file and header, or why it cannot be used."""

    settings: LocalModelSettings
    path: Path | None = None
    info: GGUFInfo | None = None
    error: str | None = None


class LocalAnswer:
    """An in-process answer, seen by the relay as an upstream response (see the module docstring)."""

    status = 200

    def __init__(self, queue: asyncio.Queue, cancelled: threading.Event, stream: bool) -> None:
        self.headers = {"content-type": "text/event-stream; charset=utf-8" if stream else "application/json"}
        self.content = self
        self._queue, self._cancelled = queue, cancelled

    async def iter_any(self):
        while (item := await self._queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_any()])

    def release(self) -> None:
        """Nothing to give back: the generation thread returns the model to the pool when it ends."""

    def close(self) -> None:
        self._cancelled.set()


class LlamaCppProvider(Provider):
    in_process = True

    def __init__(self, settings: ProviderSettings, server: ServerSettings, http) -> None:
        super().__init__(settings, server, http)
        assert settings.local is not None  # the settings of every llamacpp provider have it
        self.local = settings.local
        self.pool = pool_for(self.id, self.local)
        self.package_dir = locations.model_cache_dir()
        self.files: dict[str, ModelFile] = {}
        if importlib.util.find_spec("llama_cpp") is None:
            log.warning("%s", self.missing_runtime().message)

    def missing_runtime(self) -> ApiError:
        return ApiError(503, f"provider '{self.id}' needs llama-cpp-python: pip install 'gatehouse[local]' "
                             "(make run installs it)", code="local_runtime_missing")

    def status(self) -> dict:
        return {"loaded": self.pool.loaded()}

    # --- discovery --------------------------------------------------------------------------

    async def discover(self) -> dict[str, dict]:
        self.files = await asyncio.to_thread(self._scan)
        return {name: {"id": name, "owned_by": OWNER, "extra": self._extra(file)} for name, file in self.files.items()}

    def _scan(self) -> dict[str, ModelFile]:
        found: dict[str, ModelFile] = {}
        directory = self.local.models_dir
        if directory is not None:
            if directory.is_dir():
                for path in sorted(directory.glob("*.gguf")):
                    found[path.stem] = self._file(LocalModelSettings(name=path.stem, path=path))
            else:
                log.warning("provider '%s': models_dir %s is not a directory", self.id, directory)
        for name, model in self.local.models.items():
            found[name] = self._file(model)
        return found

    def _file(self, model: LocalModelSettings) -> ModelFile:
        path = model.path
        if path is None:
            assert model.package is not None  # a model has either (checked with the config)
            try:
                path = from_package(model.package, self.package_dir)
            except ImportError:
                return ModelFile(model, error=f"the package '{model.package}' is not installed: "
                                              f"pip install {model.package} (or 'gatehouse[local]')")
            except Exception as exc:
                return ModelFile(model, error=f"the package '{model.package}' did not give its GGUF file: {exc}")
        try:
            return ModelFile(model, path, header(path))
        except FileNotFoundError:
            return ModelFile(model, path, error=f"no such file: {path}")
        except (OSError, GGUFError) as exc:
            return ModelFile(model, path, error=f"cannot read {path}: {exc}")

    def _extra(self, file: ModelFile) -> dict:
        if file.info is None:
            return {"error": file.error}
        info = file.info
        return {"size_bytes": info.size_bytes, "quantization": info.quantization,
                "context_length": info.context_length, "architecture": info.architecture,
                "n_ctx": self._option(file, "n_ctx") or info.context_length,
                "chat_template": "config" if file.settings.chat_template
                else "gguf" if info.chat_template else "transcript (fallback)"}

    def _option(self, file: ModelFile, name: str) -> int:
        value = getattr(file.settings, name)
        return getattr(self.local, name) if value is None else value

    # --- requests ---------------------------------------------------------------------------

    async def post(self, path: str, body: bytes, request_id: str,
                   extra_headers: dict[str, str] | None = None) -> LocalAnswer:
        request = orjson.loads(body)
        endpoint = {"/chat/completions": "chat", "/completions": "completions", "/embeddings": "embeddings"}[path]
        if endpoint == "embeddings":
            return _whole(await self._lend(self._usable(request["model"]), True, lambda llm: _embed(llm, request)))
        job = Job.parse(endpoint, request)
        file = self._usable(request["model"])
        key, instance = await self._acquire(file, embedding=False)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancelled = threading.Event()

        def emit(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop has closed: the worker is stopping
                cancelled.set()

        def work() -> None:
            try:
                generate(instance, job, cancelled, emit)
            finally:
                try:
                    loop.call_soon_threadsafe(self.pool.release, key, instance)
                except RuntimeError:
                    pass
        threading.Thread(target=work, name=f"generate {file.settings.name}", daemon=True).start()
        first = await queue.get()
        if first is not STARTED:
            raise self.failure(first)
        return LocalAnswer(queue, cancelled, job.stream)

    async def count_tokens(self, body: dict) -> int:
        """The prompt tokens of the chat completion `body`, formatted and tokenized as its generation
        would be (the `prompt_tokens` it would report); nothing is generated."""
        job = Job.parse("chat", body)
        tokens, _stops = await self._lend(self._usable(job.model), False, lambda loaded: loaded.prompt_tokens(job))
        return len(tokens)

    async def _acquire(self, file: ModelFile, embedding: bool) -> tuple[tuple, Any]:
        """An instance of the model, lent by the pool, and the key to `self.pool.release` it with."""
        options = tuple(self._option(file, name) for name in ("n_ctx", "n_threads", "n_gpu_layers"))
        key = (file.settings.name, file.path, options, file.settings.chat_template, embedding)
        label = f"{file.settings.name} (embeddings)" if embedding else file.settings.name
        assert file.info is not None  # a usable file's header was read
        instance = await self.pool.acquire(key, label, file.info.size_bytes,
                                           lambda: self._load(file, options, embedding))
        return key, instance

    async def _lend(self, file: ModelFile, embedding: bool, work: Callable[[Any], T]) -> T:
        """`work(instance)`, run in a thread on an instance lent by the pool until the thread is done
        (also when the request is cancelled meanwhile: the instance is never lent twice at once)."""
        key, instance = await self._acquire(file, embedding)
        done = asyncio.get_running_loop().run_in_executor(None, work, instance)
        done.add_done_callback(lambda _: self.pool.release(key, instance))
        try:
            return await asyncio.shield(done)
        except Exception as exc:
            raise self.failure(exc) from exc

    def _usable(self, model: str) -> ModelFile:
        file = self.files.get(model)
        if file is None or file.error:
            reason = file.error if file else "not found by the last discovery"
            raise ApiError(503, f"The local model '{self.id}:{model}' cannot be used: {reason}",
                           code="model_unavailable")
        return file

    def _load(self, file: ModelFile, options: tuple, embedding: bool):
        try:
            import llama_cpp
        except ImportError:
            raise self.missing_runtime() from None

        n_ctx, n_threads, n_gpu_layers = options
        log.info("loading local model '%s' from %s", file.settings.name, file.path)
        extra: dict[str, Any] = ({"embedding": True, "pooling_type": llama_cpp.LLAMA_POOLING_TYPE_MEAN}
                                 if embedding else {})
        try:
            llm = llama_cpp.Llama(model_path=str(file.path), n_ctx=n_ctx, n_threads=n_threads or None,
                                  n_gpu_layers=n_gpu_layers, verbose=False, **extra)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ApiError(500, f"provider '{self.id}' could not load {file.path}: {exc}",
                           code="model_load_failed") from exc
        return llm if embedding else Loaded(llm, file.settings.chat_template)

    def failure(self, exc: BaseException) -> BaseException:
        if isinstance(exc, ApiError):
            return exc
        if isinstance(exc, Cancelled):
            return ApiError(499, "The client disconnected; the generation was stopped.", code="client_disconnected")
        if isinstance(exc, Exception):
            return ApiError(500, f"provider '{self.id}': the local model failed: {exc.__class__.__name__}: {exc}",
                            code="local_model_error")
        return exc


def _embed(llm, request: dict) -> bytes:
    texts = request["input"]
    if isinstance(texts, str):
        texts = [texts]
    if not texts or not all(isinstance(text, str) for text in texts):
        raise ApiError(400, "Local models embed text: 'input' must be a string or a list of strings.",
                       param="input", code="invalid_value")
    return orjson.dumps(llm.create_embedding(texts, model=request["model"]))


def _whole(body: bytes) -> LocalAnswer:
    queue: asyncio.Queue = asyncio.Queue()
    for item in (body, None):
        queue.put_nowait(item)
    return LocalAnswer(queue, threading.Event(), stream=False)
