"""Non-streaming answers, stop/finish reasons, usage and error bodies between the two dialects."""

from __future__ import annotations

import time
import uuid

import orjson

from api.translate import UntranslatableAnswer
from api.translate.requests import openai_assistant_message, tool_use
from api.translate.shapes import check_answer
from api.wire.errors import ApiError, Dialect

# Anthropic stop_reason → OpenAI finish_reason (anything else → "stop").
FINISH_REASONS: dict[str | None, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
}

REASONING_FIELDS = ("reasoning_content", "reasoning")
"""Where OpenAI-compatible servers put a model's reasoning text, in a message or a stream delta, in the
order they are read: `reasoning_content` (DeepSeek, llama.cpp, vLLM's older releases), `reasoning`
(OpenRouter, Ollama, Groq, vLLM since it renamed the field). OpenAI's own API sends none. Towards
OpenAI clients the gateway writes `reasoning_content`, DeepSeek's name, which the clients that show
reasoning read."""

# OpenAI finish_reason → Anthropic stop_reason (anything else → "end_turn").
STOP_REASONS: dict[str | None, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

_RAW_MESSAGE_LIMIT = 500
CONTEXT_CODE = "context_length_exceeded"
CONTEXT_MESSAGE = "prompt is too long"
CONTEXT_WORDS = (CONTEXT_MESSAGE, "context length", "context size", "context window")
"""How providers word a prompt too long for the model: Anthropic, OpenAI and vLLM ("maximum context
length"), llama.cpp's server ("exceeds the available context size"), others."""
_EXCERPT_LIMIT = 200
"""How much of an answer that is not JSON its error message quotes."""


def read_answer(body: bytes, dialect: Dialect) -> dict:
    """A provider's whole answer in `dialect`, parsed and checked to hold what its translation reads.

    Raises UntranslatableAnswer, saying in plain words what is wrong with it.
    """
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        excerpt = body[:_EXCERPT_LIMIT].decode("utf-8", "replace").strip()
        raise UntranslatableAnswer(f"it is not JSON: {excerpt}" if excerpt else "it is empty") from None
    check_answer(answer, dialect)
    return answer


def anthropic_to_openai_response(message: dict, model: str) -> dict:
    """An Anthropic message as a `chat.completion`: texts concatenated, the text of thinking blocks
    in `reasoning_content` (only when there is some), their signatures and redacted thinking dropped."""
    reply = openai_assistant_message(message.get("content") or [])
    reply["refusal"] = None
    return {
        "id": "chatcmpl-" + message.get("id", ""),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": reply, "logprobs": None,
                     "finish_reason": FINISH_REASONS.get(message.get("stop_reason"), "stop")}],
        "usage": openai_usage(message.get("usage") or {}),
    }


def openai_to_anthropic_response(completion: dict, model: str, input_estimate: int = 0) -> dict:
    """A `chat.completion` (its first choice) as an Anthropic message.

    Reasoning (`reasoning_content`, else `reasoning`: see REASONING_FIELDS) becomes a thinking block
    first, with an empty signature. A refusal becomes text, and so do the text parts of a content given
    as a list; the content is `[]` when there is neither reasoning, nor text, nor a tool call (as
    Anthropic itself answers at times). A tool call without an id (some OpenAI-compatible servers send
    none) gets one, as in a stream. Without upstream usage, the usage is estimated: `input_estimate` in,
    one token per 4 bytes of the content's JSON (thinking included) out.
    """
    choice = completion["choices"][0]
    reply = choice.get("message") or {}
    texts = (text_of(reply.get("content")), reply.get("refusal"))
    content = [thinking_block(reasoning)] if (reasoning := reasoning_of(reply)) else []
    content += [{"type": "text", "text": text} for text in texts if text]
    content += [tool_use(call if call.get("id") else {**call, "id": new_id("toolu_")})
                for call in reply.get("tool_calls") or ()]
    return {
        "id": "msg_" + completion.get("id", "").removeprefix("chatcmpl-"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason"), bool(reply.get("tool_calls"))),
        "stop_sequence": None,
        "usage": anthropic_usage(completion["usage"]) if completion.get("usage") else
        {**anthropic_usage({}), "input_tokens": input_estimate, "output_tokens": -(-len(orjson.dumps(content)) // 4)},
    }


def text_of(content: str | list | None) -> str:
    """The text of an OpenAI message content: a string as it is; of a list of parts (Mistral's answers and
    deltas), the `text` parts joined, others (Magistral's `thinking`) left out."""
    if isinstance(content, list):
        return "".join(part["text"] for part in content if part.get("type") == "text")
    return content or ""


def reasoning_of(message: dict) -> str:
    """The reasoning text of an OpenAI-compatible message or stream delta (see REASONING_FIELDS), "" when
    it has none. A field of another type (no server is known to send one) is ignored, not refused: it
    is not what the answer is for."""
    for field in REASONING_FIELDS:
        if (text := message.get(field)) and isinstance(text, str):
            return text
    return ""


def thinking_block(text: str) -> dict:
    """An Anthropic thinking block for reasoning from a provider that signs nothing: its signature is
    empty (the SDK takes that; only Anthropic could make a real one)."""
    return {"type": "thinking", "thinking": text, "signature": ""}


def new_id(prefix: str) -> str:
    """An id for what the provider left without one (a tool call, a message), in Anthropic's form."""
    return prefix + uuid.uuid4().hex[:24]


def stop_reason(finish_reason: str | None, tool_called: bool) -> str:
    """The Anthropic stop_reason for an OpenAI finish_reason.

    An answer ending in tool calls stops with "tool_use" even when the provider said "stop"
    (some do), as Anthropic clients run tools on that stop reason only.
    """
    reason = STOP_REASONS.get(finish_reason, "end_turn")
    return "tool_use" if tool_called and reason == "end_turn" else reason


def openai_usage(usage: dict) -> dict:
    """Anthropic usage as OpenAI usage: prompt tokens include cache writes and reads; reads are `cached_tokens`.

    `output_tokens` counts thinking, as `completion_tokens` counts reasoning; Anthropic does not say how
    many were thinking, so there is no `completion_tokens_details.reasoning_tokens`."""
    cached = usage.get("cache_read_input_tokens") or 0
    prompt = (usage.get("input_tokens") or 0) + (usage.get("cache_creation_input_tokens") or 0) + cached
    completion = usage.get("output_tokens") or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached}}


def anthropic_usage(usage: dict) -> dict:
    """OpenAI usage as Anthropic usage: cached prompt tokens are reported apart from `input_tokens`.

    `completion_tokens` already counts the reasoning tokens (`completion_tokens_details.reasoning_tokens`
    is a part of it), as Anthropic's `output_tokens` counts thinking: it is taken as it is."""
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return {"input_tokens": (usage.get("prompt_tokens") or 0) - cached,
            "output_tokens": usage.get("completion_tokens") or 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cached}


def too_long(status: int, code: object, message: str) -> bool:
    """Whether an error says the prompt is too long for the model's context, in any provider's words."""
    return status == 400 and (code == CONTEXT_CODE or any(words in message.lower() for words in CONTEXT_WORDS))


def upstream_error(dialect: Dialect, status: int, body: bytes, note: str = "") -> dict:
    """An upstream's error body (in either dialect, or not JSON at all) as an error body of `dialect`.

    A prompt too long for the model's context is said as the client's API says it, for the clients
    that act on it (compacting the conversation): OpenAI's code `context_length_exceeded`, Anthropic's
    message beginning "prompt is too long".
    """
    message, code = _error_of(status, body)
    param = None
    if too_long(status, code, message):
        code, param = CONTEXT_CODE, "messages"
        if dialect == "anthropic" and not message.startswith(CONTEXT_MESSAGE):
            message = f"{CONTEXT_MESSAGE}: {message}"
    elif status == 529:
        code = "overloaded"
    else:
        code = None
    return ApiError(status, message + note, param=param, code=code).body(dialect)


def _error_of(status: int, body: bytes) -> tuple[str, object]:
    """The message of an upstream's error body in either dialect (`error.message`, else the body's text,
    cut to 500 characters) and its code (OpenAI's `error.code`, None elsewhere)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"], error.get("code")
        if isinstance(error, str):  # some OpenAI-compatible servers: {"error": "..."}
            return error, None
    return body.decode("utf-8", "replace").strip()[:_RAW_MESSAGE_LIMIT] or f"upstream error (status {status})", None
