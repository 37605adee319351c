"""Provider type `ollama`: Ollama's own model list (/api/tags), its OpenAI-compatible endpoints under /v1
(/v1/responses too, in recent versions: `responses = "native"`), and what its OpenAI-compatible API cannot do,
through its native API (docs/ollama.md has the sources):

- Which models are loaded (`GET /api/ps`), loading (`POST /api/generate` without a prompt, with `keep_alive`)
  and unloading (the same with `keep_alive: 0`): the `HoldsModels` protocol.
- The context length. Ollama's /v1/chat/completions has no way to set `num_ctx` (its request type has no
  `options`), and a later /v1 request reloads a model loaded with another `num_ctx` at the default one (its
  scheduler reloads a runner whose options differ). So a chat request to a model with a configured `num_ctx`
  (`num_ctx`, `num_ctx_models`) goes to Ollama's native `POST /api/chat` with `options.num_ctx`, and its answer
  comes back as an OpenAI chat completion (a stream as OpenAI's chunks): `NativeChatAnswer`.
- A request's own `keep_alive` (Ollama's field: seconds, "10m", -1, 0), which /v1 ignores too: such a request
  goes to /api/chat the same way, `keep_alive` at its top level.
- A prompt longer than the context is refused (400 `context_length_exceeded`) instead of being cut: Ollama keeps
  the prompt's start and end and drops the middle without a word. Ollama cannot count tokens for us: the
  prompt's characters / 4 is the estimate (fewer tokens than code or non-English text really takes), and it is
  refused only when that is more than 10% over the context. The context: the configured `num_ctx`, else what
  /api/ps says the loaded model runs with, else 4096 (Ollama's default below 24 GiB of VRAM).
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime

import orjson

from api.local import keep_alive as keep_alive_values
from api.upstream.http_client import ConnectError, ReadTimeout
from api.upstream.providers.base import Provider, UpstreamResponse
from api.wire.errors import ApiError, Dialect

DEFAULT_NUM_CTX = 4096
"""Ollama's context length when nothing sets it, on machines with less than 24 GiB of VRAM (more: 32k or 256k;
its server's OLLAMA_CONTEXT_LENGTH overrides it)."""
CHARS_PER_TOKEN = 4
"""The estimate of a prompt's tokens: its characters / 4 (English text is about 4 characters a token; code and
most other languages take more tokens, so this under-counts them)."""
MARGIN = 1.1
"""A prompt is refused when its estimate is over the context by more than this factor."""
PINNED_AFTER_S = 100 * 365 * 86400
"""Ollama pins a model (keep_alive negative) by expiring it in ~292 years: farther than this is pinned."""


def _ollama_keep_alive(seconds: float) -> float | int:
    """A keep_alive in seconds (negative: pinned) as Ollama takes it."""
    return -1 if seconds < 0 else (int(seconds) if seconds == int(seconds) else seconds)


class ContextLengthExceeded(ApiError):
    """A prompt longer than the model's context, in each dialect's words: OpenAI's `context_length_exceeded`,
    Anthropic's "prompt is too long" (an invalid_request_error)."""

    def __init__(self, model: str, estimate: int, context: int, source: str, hint: str) -> None:
        self.estimate, self.context, self.hint, self.source = estimate, context, hint, source
        super().__init__(400, f"This model's maximum context length is {context} tokens ({source}). However, your "
                              f"messages resulted in about {estimate} tokens (estimated: 4 characters a token). "
                              f"Please reduce the length of the messages, or raise the context: {hint}.",
                         param="messages", code="context_length_exceeded")
        self.model = model

    def body(self, dialect: Dialect = "openai") -> dict:
        if dialect == "anthropic":
            return {"type": "error", "error": {
                "type": "invalid_request_error",
                "message": f"prompt is too long: about {self.estimate} tokens (estimated) > {self.context} maximum "
                           f"({self.source}); raise the context: {self.hint}"}}
        return super().body(dialect)


class ModelStats:
    """What this worker saw of one model's answers: how many, how many now, how fast the last one was."""

    __slots__ = ("active", "requests", "tokens_per_s")

    def __init__(self) -> None:
        self.active = 0
        self.requests = 0
        self.tokens_per_s: float | None = None


class Counted:
    """An upstream answer that tells its model's stats when it is done with (released or closed)."""

    def __init__(self, inner: UpstreamResponse, stats: ModelStats) -> None:
        self.inner, self.stats, self.done = inner, stats, False
        stats.active += 1

    @property
    def status(self) -> int:
        return self.inner.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self.inner.headers

    @property
    def content(self):
        return self.inner.content

    async def read(self) -> bytes:
        return await self.inner.read()

    def _finish(self) -> None:
        if not self.done:
            self.done = True
            self.stats.active -= 1
            if self.inner.status < 400:
                self.stats.requests += 1

    def release(self) -> None:
        self._finish()
        self.inner.release()

    def close(self) -> None:
        self._finish()
        self.inner.close()


class OllamaProvider(Provider):
    api_prefix = "/v1"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stats: dict[str, ModelStats] = {}

    def listed(self, models: dict[str, dict], model: str) -> str | None:
        """Ollama lists `name:tag` and takes a bare name for `name:latest`."""
        if model in models:
            return model
        latest = f"{model}:latest"
        return latest if ":" not in model and latest in models else None

    async def discover(self) -> dict[str, dict]:
        document = await self.get_json(f"{self.settings.base_url}/api/tags")
        entries = document.get("models") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ApiError(502, f"provider '{self.id}' sent a model list without 'models'")
        return {entry["name"]: {"id": entry["name"], "owned_by": "ollama", "details": entry.get("details")}
                for entry in entries if isinstance(entry, dict) and isinstance(entry.get("name"), str)}

    # --- context length -----------------------------------------------------------------------

    def num_ctx(self, model: str) -> int | None:
        """The configured context length of `model` (per model, else the provider's); None: Ollama's own."""
        per_model = self.settings.num_ctx_models
        for name in (model, f"{model}:latest" if ":" not in model else model.removesuffix(":latest")):
            if name in per_model:
                return per_model[name]
        return self.settings.num_ctx

    def _hint(self, model: str) -> str:
        return (f"num_ctx_models = {{ \"{model}\" = N }} or num_ctx = N in [providers.{self.id}] of Gatehouse's "
                "config")

    async def check_context(self, body: dict, model: str, num_ctx: int | None) -> None:
        """Refuse a chat request whose prompt clearly does not fit the model's context (see the module's doc)."""
        estimate = estimate_prompt_tokens(body)
        if num_ctx is not None:
            context, source = num_ctx, f"num_ctx set for '{self.id}:{model}' in Gatehouse's config"
        else:
            if estimate <= DEFAULT_NUM_CTX * MARGIN:
                return  # fits Ollama's smallest default: no need to ask
            running = await self._running_context(model)
            context, source = (running, "the context Ollama runs it with now (/api/ps)") if running else (
                DEFAULT_NUM_CTX, "Ollama's default context, as no num_ctx is set for it in Gatehouse's config")
        if estimate > context * MARGIN:
            raise ContextLengthExceeded(model, estimate, context, source, self._hint(model))

    async def _running_context(self, model: str) -> int | None:
        """The context_length /api/ps gives for `model` (asked afresh: only for prompts longer than Ollama's
        smallest default, which take long to process anyway); None if not loaded or Ollama cannot say."""
        try:
            running = await self._running()
        except ApiError:
            return None
        for entry in running:
            if _same_model(entry, model) and isinstance(entry.get("context_length"), int):
                return entry["context_length"]
        return None

    # --- requests -----------------------------------------------------------------------------

    async def post(self, path: str, body: bytes, request_id: str,
                   extra_headers: dict[str, str] | None = None) -> UpstreamResponse:
        if path != "/chat/completions":
            return await super().post(path, body, request_id, extra_headers)
        document = orjson.loads(body)
        model = document.get("model")
        if not isinstance(model, str):
            return await super().post(path, body, request_id, extra_headers)
        num_ctx = self.num_ctx(model)
        await self.check_context(document, model, num_ctx)
        stats = self.stats.setdefault(model, ModelStats())
        if num_ctx is None and document.get("keep_alive") is None:
            return Counted(await super().post(path, body, request_id, extra_headers), stats)
        native = native_chat_request(document, num_ctx)
        response = await super().post("/api/chat", orjson.dumps(native), request_id, extra_headers)
        return Counted(NativeChatAnswer(response, model, native["stream"], _include_usage(document), stats), stats)

    def url(self, path: str) -> str:
        """Paths of Ollama's native API (/api/...) are not under /v1."""
        return f"{self.settings.base_url}{path}" if path.startswith("/api/") else super().url(path)

    # --- what is loaded -----------------------------------------------------------------------

    async def _call(self, method: str, path: str, body: dict | None = None, timeout: float | None = None) -> object:
        """A native API call (`path` under base_url); its JSON answer; Ollama's errors as ApiErrors."""
        if self.points_here:
            raise self.loops()
        url = f"{self.settings.base_url}{path}"
        try:
            response = await self.http.request(method, url, orjson.dumps(body) if body is not None else b"",
                                               self.header_lines, connect_timeout=self.discovery_connect_timeout_s,
                                               read_timeout=timeout or self.discovery_read_timeout_s)
            try:
                raw = await response.read()
            finally:
                response.release()
        except (ConnectError, ReadTimeout) as exc:
            raise self.failure(exc) from exc
        except ApiError:
            raise
        except Exception as exc:
            failure = self.failure(exc)
            raise (failure if isinstance(failure, ApiError) else ApiError(502, str(exc))) from exc
        try:
            document = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise ApiError(502, f"provider '{self.id}' sent invalid JSON for {method} {path}",
                           code="upstream_error") from None
        if response.status >= 400:
            message = document.get("error") if isinstance(document, dict) else None
            message = message if isinstance(message, str) else raw[:200].decode("utf-8", "replace")
            if response.status == 404:
                raise ApiError(404, f"Ollama ('{self.id}'): {message}", param="model", code="model_not_found")
            raise ApiError(502, f"provider '{self.id}' answered {response.status} to {method} {path}: {message}",
                           code="upstream_error")
        return document

    async def _running(self) -> list[dict]:
        """Ollama's running models (GET /api/ps)."""
        document = await self._call("GET", "/api/ps")
        models = document.get("models") if isinstance(document, dict) else None
        if not isinstance(models, list):
            raise ApiError(502, f"provider '{self.id}' sent /api/ps without 'models'", code="upstream_error")
        return [entry for entry in models if isinstance(entry, dict)]

    def _entry(self, running: dict) -> dict:
        name = running.get("name") or running.get("model") or "?"
        stats = self.stats.get(name) or self.stats.get(name.removesuffix(":latest")) or ModelStats()
        expires = running.get("expires_at")
        pinned = _far_away(expires)
        size = running.get("size")
        return {"model": f"{self.id}:{name}", "provider": self.id, "embedding": False, "pid": None,
                "memory_mb": round(size / 2**20, 1) if isinstance(size, int | float) and size >= 0 else None,
                "loaded_at": None, "state": "ready", "active": stats.active, "requests": stats.requests,
                "tokens_per_s": stats.tokens_per_s, "pinned": pinned,
                "expires_at": None if pinned or not isinstance(expires, str) or expires.startswith("0001-")
                else expires}

    async def loaded_models(self) -> list[dict]:
        return [self._entry(entry) for entry in await self._running()]

    async def load_model(self, model: str, keep_alive: float | None) -> dict:
        """An empty generate request loads a model (with the configured num_ctx, which later chat requests
        through Gatehouse keep); `keep_alive` as Ollama takes it, or Ollama's own default when None."""
        body: dict = {"model": model, "stream": False}
        if keep_alive is not None:
            body["keep_alive"] = _ollama_keep_alive(keep_alive)
        if (num_ctx := self.num_ctx(model)) is not None:
            body["options"] = {"num_ctx": num_ctx}
        await self._call("POST", "/api/generate", body, timeout=self.request_timeout_s)
        for entry in await self._running():
            if _same_model(entry, model):
                return self._entry(entry)
        raise ApiError(502, f"Ollama ('{self.id}') loaded '{model}' but does not list it in /api/ps",
                       code="upstream_error")

    async def unload_model(self, model: str) -> bool:
        """`keep_alive: 0` unloads a model once its requests are done (Ollama's `ollama stop`)."""
        loaded = any(_same_model(entry, model) for entry in await self._running())
        if loaded:
            await self._call("POST", "/api/generate", {"model": model, "keep_alive": 0, "stream": False},
                             timeout=self.request_timeout_s)
        return loaded


def _same_model(entry: dict, model: str) -> bool:
    names = {entry.get("name"), entry.get("model")}
    return model in names or (":" not in model and f"{model}:latest" in names)


def _far_away(expires: object) -> bool:
    if not isinstance(expires, str):
        return False
    try:
        year = int(expires[:4])
    except ValueError:
        return False
    return year - datetime.now(UTC).year > PINNED_AFTER_S / (365 * 86400)


def _include_usage(body: dict) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


# --- the prompt's length ------------------------------------------------------------------------

def _text_chars(content: object) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(part["text"]) for part in content
                   if isinstance(part, dict) and isinstance(part.get("text"), str))
    return 0


def estimate_prompt_tokens(body: dict) -> int:
    """The tokens of a chat request's prompt, estimated from its characters: message texts, tool calls' arguments
    and tool definitions (images are not counted)."""
    chars = 0
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else ():
        if not isinstance(message, dict):
            continue
        chars += _text_chars(message.get("content"))
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                chars += len(str(function.get("name", ""))) + len(str(function.get("arguments", "")))
    if isinstance(body.get("tools"), list):
        chars += len(orjson.dumps(body["tools"]))
    return math.ceil(chars / CHARS_PER_TOKEN)


# --- OpenAI chat → Ollama's /api/chat ----------------------------------------------------------

def _native_content(content: object, number: int) -> tuple[str, list[str]]:
    """A message's text and images (base64) as /api/chat takes them."""
    if isinstance(content, str) or content is None:
        return content or "", []
    texts, images = [], []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif part.get("type") == "image_url":
            url = part["image_url"].get("url") if isinstance(part.get("image_url"), dict) else part.get("image_url")
            if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
                raise ApiError(400, "Ollama takes images as base64 data URLs (data:image/png;base64,...), not "
                                    "web addresses.", param=f"messages[{number}].content", code="invalid_value")
            images.append(url.partition(";base64,")[2])
    return "\n".join(texts), images


def native_chat_request(body: dict, num_ctx: int | None) -> dict:
    """An OpenAI chat request as Ollama's /api/chat request, as Ollama's own /v1 layer converts it (openai.go,
    `FromChatRequest`), plus `options.num_ctx` and `keep_alive`."""
    messages, names = [], {}
    for number, message in enumerate(body.get("messages") or ()):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        text, images = _native_content(message.get("content"), number)
        native: dict = {"role": "system" if role == "developer" else role, "content": text}
        if images:
            native["images"] = images
        thinking = message.get("reasoning") or message.get("reasoning_content")
        if isinstance(thinking, str) and thinking:
            native["thinking"] = thinking
        calls = []
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            arguments = function.get("arguments")
            try:
                arguments = orjson.loads(arguments) if isinstance(arguments, str) and arguments else (arguments or {})
            except orjson.JSONDecodeError:
                raise ApiError(400, "invalid tool call arguments", param=f"messages[{number}].tool_calls",
                               code="invalid_value") from None
            names[call.get("id")] = function.get("name")
            calls.append({"id": call.get("id"), "function": {"name": function.get("name"), "arguments": arguments}})
        if calls:
            native["tool_calls"] = calls
        if role == "tool":
            native["tool_call_id"] = message.get("tool_call_id")
            if name := message.get("name") or names.get(message.get("tool_call_id")):
                native["tool_name"] = name
        messages.append(native)
    options: dict = {"temperature": body["temperature"] if body.get("temperature") is not None else 1.0,
                     "top_p": body["top_p"] if body.get("top_p") is not None else 1.0}
    if num_ctx is not None:
        options["num_ctx"] = num_ctx
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None:
        options["num_predict"] = limit
    for key in ("seed", "frequency_penalty", "presence_penalty"):
        if body.get(key) is not None:
            options[key] = body[key]
    stop = body.get("stop")
    if stop is not None:
        options["stop"] = [stop] if isinstance(stop, str) else stop
    native_body: dict = {"model": body["model"], "messages": messages, "stream": body.get("stream") is True,
                         "options": options}
    if body.get("tools"):
        native_body["tools"] = body["tools"]
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        if response_format.get("type") == "json_object":
            native_body["format"] = "json"
        elif response_format.get("type") == "json_schema" and isinstance(response_format.get("json_schema"), dict):
            native_body["format"] = response_format["json_schema"].get("schema")
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else body.get("reasoning_effort")
    if isinstance(effort, str):
        native_body["think"] = False if effort == "none" else effort
    if body.get("keep_alive") is not None:
        native_body["keep_alive"] = _ollama_keep_alive(keep_alive_values.seconds(body["keep_alive"]))
    return native_body


# --- Ollama's /api/chat answer → an OpenAI chat completion ---------------------------------------

def _tool_calls(calls: object) -> list[dict]:
    return [{"id": call.get("id") or f"call_{secrets.token_hex(12)}", "index": index, "type": "function",
             "function": {"name": call["function"].get("name"),
                          "arguments": orjson.dumps(call["function"].get("arguments") or {}).decode()}}
            for index, call in enumerate(calls if isinstance(calls, list) else ())
            if isinstance(call, dict) and isinstance(call.get("function"), dict)]


def _assistant(line: dict) -> tuple[dict, list[dict]]:
    """The assistant message (or a stream's delta) of one line of Ollama's /api/chat, and its tool calls."""
    message = line.get("message")
    if not isinstance(message, dict):
        message = {}
    calls = _tool_calls(message.get("tool_calls"))
    answer: dict = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("thinking"):
        answer["reasoning"] = message["thinking"]
    if calls:
        answer["tool_calls"] = calls
    return answer, calls


def _usage(line: dict) -> dict:
    prompt, completion = line.get("prompt_eval_count") or 0, line.get("eval_count") or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?")


def _created(line: dict) -> int:
    """Ollama's `created_at` (RFC 3339, nanoseconds and all) in Unix seconds; now when it has none."""
    stamp = line.get("created_at")
    if isinstance(stamp, str) and (match := _STAMP.fullmatch(stamp)):
        offset = match[2] if match[2] and match[2] != "Z" else "+00:00"
        return int(datetime.fromisoformat(match[1] + offset).timestamp())
    return int(time.time())


class NativeChatAnswer:
    """Ollama's /api/chat answer (NDJSON lines when streamed), seen by the relay as an OpenAI-compatible
    provider's chat completion (SSE chunks when streamed), as Ollama's /v1 layer would have written it."""

    def __init__(self, inner: UpstreamResponse, model: str, stream: bool, include_usage: bool,
                 stats: ModelStats) -> None:
        self.inner, self.model, self.stream, self.include_usage, self.stats = inner, model, stream, include_usage, stats
        self.status = inner.status
        self.headers = {"content-type": "text/event-stream; charset=utf-8" if stream and inner.status < 400
                        else "application/json"}
        self.content = self
        self.id = f"chatcmpl-{secrets.token_hex(12)}"

    def _speed(self, line: dict) -> None:
        count, duration = line.get("eval_count"), line.get("eval_duration")
        if isinstance(count, int) and isinstance(duration, int) and duration > 0 and count > 0:
            self.stats.tokens_per_s = round(count / (duration / 1e9), 2)

    def _error(self, raw: bytes) -> bytes:
        try:
            message = orjson.loads(raw).get("error")
        except (orjson.JSONDecodeError, AttributeError):
            message = None
        message = message if isinstance(message, str) else raw[:500].decode("utf-8", "replace")
        kind = "invalid_request_error" if self.status < 500 else "api_error"
        return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}})

    def completion(self, line: dict) -> dict:
        answer, calls = _assistant(line)
        self._speed(line)
        return {"id": self.id, "object": "chat.completion", "created": _created(line), "model": self.model,
                "system_fingerprint": "fp_ollama",
                "choices": [{"index": 0, "message": answer,
                             "finish_reason": "tool_calls" if calls else (line.get("done_reason") or "stop")}],
                "usage": _usage(line)}

    def chunk(self, line: dict, tool_call_sent: bool) -> tuple[list[dict], bool]:
        delta, calls = _assistant(line)
        tool_call_sent = tool_call_sent or bool(calls)
        finish = None
        if line.get("done"):
            finish = "tool_calls" if tool_call_sent else (line.get("done_reason") or "stop")
            self._speed(line)
        base = {"id": self.id, "object": "chat.completion.chunk", "created": _created(line), "model": self.model,
                "system_fingerprint": "fp_ollama"}
        chunks = [base | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}]
        if line.get("done") and self.include_usage:
            chunks.append(base | {"choices": [], "usage": _usage(line)})
        return chunks, tool_call_sent

    async def iter_any(self) -> AsyncIterator[bytes]:
        if not self.stream or self.status >= 400:
            yield await self.read()
            return
        pending, tool_call_sent = b"", False
        async for data in self.inner.content.iter_any():
            pending += data
            *lines, pending = pending.split(b"\n")
            out = []
            for raw in lines:
                if not raw.strip():
                    continue
                line = orjson.loads(raw)
                if isinstance(line, dict) and isinstance(line.get("error"), str):
                    out.append(b"data: " + orjson.dumps({"error": {"message": line["error"], "type": "api_error",
                                                                     "param": None, "code": None}}) + b"\n\n")
                    yield b"".join(out)
                    return
                chunks, tool_call_sent = self.chunk(line, tool_call_sent)
                out.extend(b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks)
                if line.get("done"):
                    out.append(b"data: [DONE]\n\n")
            if out:
                yield b"".join(out)

    async def read(self) -> bytes:
        if self.stream and self.status < 400:
            return b"".join([chunk async for chunk in self.iter_any()])
        raw = await self.inner.read()
        if self.status >= 400:
            return self._error(raw)
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw
        return orjson.dumps(self.completion(line)) if isinstance(line, dict) and "message" in line else raw

    def release(self) -> None:
        self.inner.release()

    def close(self) -> None:
        self.inner.close()
