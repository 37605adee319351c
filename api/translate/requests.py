"""Request bodies: OpenAI `chat.completions` ⇄ Anthropic `messages`.

A field with a counterpart is translated; a field known to have none is
dropped (`DROPPED_OPENAI_FIELDS`, `DROPPED_ANTHROPIC_FIELDS`); a field that
would change the answer in a way the other side cannot honour raises
`TranslationError`. Any other field is passed through unchanged, so a
provider-specific parameter (Anthropic's `top_k` sent by an OpenAI client,
say) still reaches the provider. `tool_choice` and `parallel_tool_calls` are
sent only along with tools (both APIs reject them alone).
"""

from __future__ import annotations

import hashlib
from functools import wraps

import orjson

from api.translate import TranslationError, claude

# OpenAI fields with no Anthropic counterpart: dropped.
DROPPED_OPENAI_FIELDS = frozenset({
    "frequency_penalty", "presence_penalty", "logit_bias", "seed", "logprobs", "top_logprobs",
    "stream_options", "metadata", "store", "service_tier",
    "prediction", "modalities", "moderation", "prompt_cache_key", "prompt_cache_options",
    "prompt_cache_retention", "verbosity", "web_search_options",
})
# OpenAI fields an Anthropic model cannot honour: a TranslationError when set (so is `n` > 1).
UNSUPPORTED_OPENAI_FIELDS = frozenset({"audio", "functions", "function_call"})
TRANSLATED_OPENAI_FIELDS = frozenset({
    "model", "messages", "max_tokens", "max_completion_tokens", "stop", "temperature", "top_p", "stream",
    "tools", "tool_choice", "parallel_tool_calls", "user", "safety_identifier", "n", "response_format",
    "reasoning_effort",
})

# Anthropic fields with no OpenAI counterpart: dropped.
DROPPED_ANTHROPIC_FIELDS = frozenset({
    "top_k", "thinking", "cache_control", "container", "context_management", "diagnostics",
    "inference_geo", "service_tier", "speed",
})
UNSUPPORTED_ANTHROPIC_FIELDS = frozenset({"mcp_servers"})
TRANSLATED_ANTHROPIC_FIELDS = frozenset({
    "model", "messages", "max_tokens", "system", "stop_sequences", "temperature", "top_p", "stream",
    "tools", "tool_choice", "metadata", "output_config",
})

MIN_THINKING_BUDGET = 1024
"""The smallest budget Anthropic takes."""
THINKING_BUDGETS = {"none": 0, "minimal": MIN_THINKING_BUDGET, "low": 1024, "medium": 2048, "high": 4096,
                    "xhigh": 8192, "max": 16384}
"""Anthropic thinking budgets (tokens) for OpenAI's `reasoning_effort`: low to max as LiteLLM maps them (doubling
at each step), minimal the smallest budget, none no thinking (0). Any other value is refused, as OpenAI does."""

MAX_OPENAI_USER = 64
"""Characters OpenAI takes in `user` (Claude Code's `metadata.user_id` is about 150)."""

# OpenAI tool_choice string → Anthropic tool_choice type, and back.
_TOOL_CHOICE_TYPES = {"auto": "auto", "required": "any", "none": "none"}
_TOOL_CHOICE_STRINGS = {kind: name for name, kind in _TOOL_CHOICE_TYPES.items()}


def malformed_is_translation_error(translate):
    """A malformed request (a missing field, a value of the wrong type) is the client's error, not a crash."""
    @wraps(translate)
    def checked(body: dict, *args, **kwargs) -> dict:
        try:
            return translate(body, *args, **kwargs)
        except KeyError as exc:
            raise TranslationError(f"The request is malformed: missing field {exc}.") from exc
        except (TypeError, AttributeError, IndexError) as exc:
            raise TranslationError(f"The request is malformed: {exc}.") from exc
    return checked


@malformed_is_translation_error
def openai_to_anthropic(body: dict, default_max_tokens: int = 4096) -> dict:
    """An OpenAI chat.completions request as an Anthropic messages request.

    - `system`/`developer` messages, wherever they are, become the top-level `system`
      string (texts joined with a blank line); the messages around them are then
      merged when they share a role, as Anthropic requires alternating turns.
    - `tool` messages become `tool_result` blocks of a user turn; consecutive ones,
      and a user message right after them, share that turn.
    - Tool call arguments that are not a JSON object are kept as
      `{"_raw_arguments": "<the string>"}` (empty arguments as `{}`), so a history
      holding a malformed call stays valid and the model still sees what it wrote.
    - A turn holding a single text is sent as a string, other turns as blocks.
    - Empty texts are left out (Anthropic rejects empty text blocks), and so are
      messages left with no content; a conversation left with no message is refused.
    - `cache_control` on a content part (the convention of gateways that reach Claude
      with OpenAI's API) stays on its block; system parts carrying one make `system`
      a list of text blocks.
    - `temperature` is clamped to 1.0 (OpenAI's range is 0–2, Anthropic's 0–1;
      values up to 1 keep their meaning). With `temperature`, `top_p` is left out:
      current Claude models refuse the two together. Opus 4.7 and later refuse all
      sampling parameters, so `temperature`, `top_p` and `top_k` are left out for them
      (many OpenAI clients always send a temperature).
    - `response_format` of type `json_schema` becomes `output_config.format` (Claude's
      structured outputs); `json_object` has no counterpart and is dropped.
    - `thinking` (Anthropic's, passed through) is left out when the last assistant turn
      holds tool calls: an OpenAI client never has the thinking block that Anthropic
      requires at the start of such a turn, so the tool loop goes on without thinking.
    - Without `thinking`, `reasoning_effort` asks for thinking (see `_think`: adaptive at an effort
      from Claude 4.6 on, else a budget of THINKING_BUDGETS tokens), none for none; a value OpenAI
      does not take is refused in its words.
    - `max_completion_tokens` (else `max_tokens`, else `default_max_tokens`) gives
      `max_tokens`, which Anthropic requires.
    - `user` (else `safety_identifier`) becomes `metadata.user_id`.
    - An assistant message's reasoning (`reasoning_content`, `reasoning`, as a client may send back
      what it was given) is left out: Anthropic takes back only the thinking blocks it signed.
    """
    n = body.get("n")
    if n is not None and n != 1:
        raise TranslationError("Anthropic models give one choice per request: 'n' must be 1.", param="n")
    out = passthrough(body, TRANSLATED_OPENAI_FIELDS, DROPPED_OPENAI_FIELDS, UNSUPPORTED_OPENAI_FIELDS,
                       "an Anthropic")
    out["model"] = body["model"]
    system, out["messages"] = _anthropic_messages(body.get("messages") or ())
    if not out["messages"]:
        raise TranslationError("An Anthropic model needs at least one user or assistant message with content.",
                               param="messages")
    if system:
        out["system"] = system
    max_tokens = body.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_tokens")
    out["max_tokens"] = default_max_tokens if max_tokens is None else max_tokens
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if claude.is_latest(body["model"]):
        for name in claude.SAMPLING:
            out.pop(name, None)
    elif body.get("temperature") is not None:
        out["temperature"] = min(body["temperature"], 1.0)
    else:
        _copy(body, out, "top_p")
    _copy(body, out, "stream")
    if (schema := _json_schema(body.get("response_format"))) is not None:
        out["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    if tools := body.get("tools"):
        out["tools"] = [_anthropic_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools)]
        if choice := _anthropic_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls")):
            out["tool_choice"] = choice
    effort = _reasoning_effort(body.get("reasoning_effort"))
    if _in_tool_loop(out["messages"]):
        out.pop("thinking", None)
    elif "thinking" not in out and effort:
        _think(out, effort, asked_max_tokens=max_tokens)
    if user := body.get("user") or body.get("safety_identifier"):
        out["metadata"] = {"user_id": user}
    return out


@malformed_is_translation_error
def anthropic_to_openai(body: dict, openai_itself: bool = False) -> dict:
    """An Anthropic messages request as an OpenAI chat.completions request.

    - `system` (a string or text blocks, joined with a blank line) becomes a leading system message.
    - A user message's `tool_result` blocks become `tool` messages placed before the
      rest of that message; a tool result's text blocks are joined with a blank line,
      its images (OpenAI tool messages hold only text) go into the user message that follows.
    - `is_error` on a tool result and `cache_control` and citations anywhere are dropped.
    - Assistant text blocks are concatenated; the text of `thinking` blocks goes back as the
      message's `reasoning_content`, which OpenAI-compatible reasoning models (DeepSeek's) want
      back in a tool loop; other blocks (`redacted_thinking`, server tool blocks) are dropped.
    - Streaming requests ask for `stream_options.include_usage`, so usage can be reported.
    - For OpenAI's own API (`openai_itself`, see `Provider.openai_itself`), `max_tokens` goes in
      `max_completion_tokens`, the only one its reasoning models take, and no `reasoning_content`
      goes back (its API refuses fields it does not know).
    - `output_config.format` becomes `response_format` of type `json_schema`, strict when the
      schema meets OpenAI's strict rules; `output_config.effort` is dropped.
    - `metadata.user_id` becomes `user`, as its SHA-256 (64 hex digits) when longer than OpenAI takes.
    """
    out = passthrough(body, TRANSLATED_ANTHROPIC_FIELDS, DROPPED_ANTHROPIC_FIELDS, UNSUPPORTED_ANTHROPIC_FIELDS,
                       "an OpenAI")
    out["model"] = body["model"]
    out["messages"] = _openai_messages(body.get("system"), body.get("messages") or (), reasoning=not openai_itself)
    if body.get("max_tokens") is not None:
        out["max_completion_tokens" if openai_itself else "max_tokens"] = body["max_tokens"]
    _copy(body, out, "temperature", "top_p", "stream")
    if (output_format := (body.get("output_config") or {}).get("format")) is not None:
        out["response_format"] = _openai_response_format(output_format)
    if body.get("stream"):
        out["stream_options"] = {"include_usage": True}
    if stop := body.get("stop_sequences"):
        out["stop"] = list(stop)
    if tools := body.get("tools"):
        out["tools"] = [_openai_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools)]
        if choice := body.get("tool_choice"):
            _openai_tool_choice(choice, out)
    if user := (body.get("metadata") or {}).get("user_id"):
        out["user"] = user if len(user) <= MAX_OPENAI_USER else hashlib.sha256(user.encode()).hexdigest()
    return out


def tool_input(arguments: str | dict | None) -> dict:
    """OpenAI tool call `arguments` (a JSON string) as an Anthropic `tool_use` input object.

    Empty arguments give `{}`; anything that is not a JSON object is kept as `{"_raw_arguments": arguments}`.
    """
    if isinstance(arguments, dict):  # some OpenAI-compatible servers send an object
        return arguments
    if not arguments or arguments.isspace():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        value = None
    return value if isinstance(value, dict) else {"_raw_arguments": arguments}


def tool_use(call: dict) -> dict:
    """An OpenAI function tool call as an Anthropic `tool_use` block."""
    function = call["function"]
    return {"type": "tool_use", "id": call["id"], "name": function["name"],
            "input": tool_input(function.get("arguments"))}


def tool_call(block: dict) -> dict:
    """An Anthropic `tool_use` block as an OpenAI function tool call."""
    return {"id": block["id"], "type": "function",
            "function": {"name": block["name"], "arguments": orjson.dumps(block.get("input") or {}).decode()}}


def openai_assistant_message(blocks: list[dict], reasoning: bool = True) -> dict:
    """Anthropic assistant content blocks as an OpenAI assistant message.

    Texts are concatenated; `tool_use` blocks become `tool_calls`; with `reasoning`, the text of
    thinking blocks becomes `reasoning_content` (only when there is some); other blocks are
    dropped. `content` is None only when there is no text but there are tool calls.
    """
    texts: list[str] = []
    calls: list[dict] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            texts.append(block["text"])
        elif kind == "tool_use":
            calls.append(tool_call(block))
    text = "".join(texts)
    message: dict = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        message["tool_calls"] = calls
    if reasoning and (thoughts := thinking_text(blocks)):
        message["reasoning_content"] = thoughts
    return message


def thinking_text(blocks: list[dict]) -> str:
    """The text of the thinking blocks of Anthropic content, a blank line between blocks."""
    return "\n\n".join(block["thinking"] for block in blocks if block.get("type") == "thinking" and block["thinking"])


def passthrough(body: dict, handled: frozenset, dropped: frozenset, unsupported: frozenset, target: str) -> dict:
    """The fields of `body` that go to the other side unchanged; raises for a set unsupported one."""
    out = {}
    for key, value in body.items():
        if key in handled or key in dropped:
            continue
        if key in unsupported:
            if value:
                raise TranslationError(f"'{key}' is not supported for {target} model.", param=key)
            continue
        out[key] = value
    return out


def _empty_schema() -> dict:
    return {"type": "object", "properties": {}}


def _copy(body: dict, out: dict, *keys: str) -> None:
    for key in keys:
        if body.get(key) is not None:
            out[key] = body[key]


# --- OpenAI → Anthropic ---------------------------------------------------------------------------

def _anthropic_messages(messages) -> tuple[str | list[dict], list[dict]]:
    """The system text (text blocks when one carries `cache_control`) and the alternating Anthropic
    turns of OpenAI `messages`.

    A turn that is a single text block is sent as a string, as in the other direction.
    """
    system: list[dict] = []
    turns: list[dict] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_system_blocks(message.get("content"), f"{where}.content"))
            continue
        if role == "user":
            blocks = _anthropic_blocks(message.get("content"), f"{where}.content")
        elif role == "assistant":
            blocks = _anthropic_blocks(message.get("content"), f"{where}.content")
            for j, call in enumerate(message.get("tool_calls") or ()):
                if call.get("type", "function") != "function":
                    raise TranslationError(f"tool calls of type '{call.get('type')}' are not supported for an "
                                           "Anthropic model.", param=f"{where}.tool_calls[{j}]")
                blocks.append(tool_use(call))
        elif role == "tool":
            role = "user"
            content = message.get("content")
            blocks = [{"type": "tool_result", "tool_use_id": message["tool_call_id"],
                       "content": content if isinstance(content, str)
                       else _anthropic_blocks(content, f"{where}.content")}]
        else:
            raise TranslationError(f"messages with role '{role}' are not supported for an Anthropic model.",
                                   param=f"{where}.role")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        content = turn["content"]
        if len(content) == 1 and content[0].keys() == {"type", "text"}:
            turn["content"] = content[0]["text"]
    if any("cache_control" in block for block in system):
        return system, turns
    return "\n\n".join(block["text"] for block in system), turns


def _reasoning_effort(effort) -> str | None:
    """A `reasoning_effort` that asks for thinking (None for none, or for no effort given)."""
    if effort is None:
        return None
    if not isinstance(effort, str) or effort not in THINKING_BUDGETS:
        *others, last = (f"'{known}'" for known in THINKING_BUDGETS)
        raise TranslationError(f"Unsupported value: 'reasoning_effort' does not support {effort!r} with this model. "
                               f"Supported values are: {', '.join(others)}, and {last}.", param="reasoning_effort",
                               code="unsupported_value")
    return None if effort == "none" else effort


def _think(out: dict, effort: str, asked_max_tokens: int | None) -> None:
    """Ask Claude to think at `effort`, as far as the request lets it: not when it forces a tool
    (Anthropic refuses that). Claude from 4.6 on thinks adaptively at an `output_config.effort`
    (minimal is `low`); older models on THINKING_BUDGETS tokens, and not when the client's token limit
    leaves no room for the smallest budget. A client's limit bounds thinking and answer together, as
    OpenAI's does its reasoning and answer; without one, the answer keeps the default's room (the
    budget is added to it). `temperature` and `top_p` go, as Anthropic takes neither (but 1) with
    thinking."""
    if (out.get("tool_choice") or {}).get("type") in ("any", "tool"):
        return
    budget = THINKING_BUDGETS[effort]
    if claude.thinks_adaptively(out["model"]):
        if effort == "xhigh" and not claude.is_latest(out["model"]):
            effort = "high"
        out["thinking"] = {"type": "adaptive"}
        out["output_config"] = {**out.get("output_config", {}), "effort": "low" if effort == "minimal" else effort}
    elif asked_max_tokens is not None and (budget := min(budget, asked_max_tokens - 1)) < MIN_THINKING_BUDGET:
        return
    else:
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if asked_max_tokens is None:
        out["max_tokens"] += THINKING_BUDGETS[effort]
    out.pop("temperature", None)
    out.pop("top_p", None)


def _in_tool_loop(turns: list[dict]) -> bool:
    """Whether the last assistant turn holds tool calls (the client is sending their results)."""
    assistant = next((turn for turn in reversed(turns) if turn["role"] == "assistant"), None)
    return assistant is not None and isinstance(assistant["content"], list) and \
        any(block["type"] == "tool_use" for block in assistant["content"])


def _anthropic_blocks(content, where: str) -> list[dict]:
    """OpenAI message content (a string, content parts or None) as Anthropic blocks, empty texts left out."""
    if not content:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks = []
    for j, part in enumerate(content):
        kind = part.get("type")
        if kind in ("text", "refusal"):  # a refusal part holds its text under "refusal"
            if not (text := part.get(kind)):
                continue
            block = {"type": "text", "text": text}
        elif kind == "image_url":
            block = {"type": "image", "source": _image_source(part["image_url"]["url"], f"{where}[{j}]")}
        else:
            raise TranslationError(f"content parts of type '{kind}' are not supported for an Anthropic model.",
                                   param=f"{where}[{j}]")
        if "cache_control" in part:
            block["cache_control"] = part["cache_control"]
        blocks.append(block)
    return blocks


def _system_blocks(content, where: str) -> list[dict]:
    blocks = _anthropic_blocks(content, where)
    if any(block["type"] != "text" for block in blocks):
        raise TranslationError("System and developer messages can only hold text.", param=where)
    return blocks


def _json_schema(response_format) -> dict | None:
    """The schema of an OpenAI `response_format` of type `json_schema` (else None)."""
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    return (response_format.get("json_schema") or {}).get("schema") or _empty_schema()


def _image_source(url: str, where: str) -> dict:
    if url.startswith("data:"):
        header, comma, data = url[5:].partition(",")
        if comma and header.endswith(";base64"):
            return {"type": "base64", "media_type": header.partition(";")[0], "data": data}
        raise TranslationError("Image data URLs must be base64-encoded.", param=where)
    if url.startswith(("https://", "http://")):
        return {"type": "url", "url": url}
    raise TranslationError("Image URLs must be http(s) URLs or base64 data URLs.", param=where)


def _anthropic_tool(tool: dict, where: str) -> dict:
    if tool.get("type", "function") != "function":
        raise TranslationError(f"tools of type '{tool.get('type')}' are not supported for an Anthropic model.",
                               param=where)
    function = tool["function"]
    out = {"name": function["name"]}
    if function.get("description"):
        out["description"] = function["description"]
    out["input_schema"] = function.get("parameters") or _empty_schema()
    return out


def _anthropic_tool_choice(choice, parallel_tool_calls) -> dict | None:
    out: dict | None
    if choice is None:
        out = None
    elif isinstance(choice, str):
        if choice not in _TOOL_CHOICE_TYPES:
            raise TranslationError(f"tool_choice '{choice}' is not supported for an Anthropic model.",
                                   param="tool_choice")
        out = {"type": _TOOL_CHOICE_TYPES[choice]}
    elif choice.get("type") == "function":
        out = {"type": "tool", "name": choice["function"]["name"]}
    else:
        raise TranslationError(f"tool_choice of type '{choice.get('type')}' is not supported for an Anthropic "
                               "model.", param="tool_choice")
    if parallel_tool_calls is False:
        out = out or {"type": "auto"}
        if out["type"] != "none":  # Anthropic's "none" takes no options
            out["disable_parallel_tool_use"] = True
    return out


# --- Anthropic → OpenAI ---------------------------------------------------------------------------

def _system_text(system: str | list, where: str) -> str:
    """System text: a string, or text blocks joined with a blank line (their `cache_control` dropped)."""
    if isinstance(system, str):
        return system
    for index, block in enumerate(system):
        if block.get("type") != "text":
            raise TranslationError(f"system content holds text blocks only, not '{block.get('type')}'.",
                                   param=f"{where}[{index}]")
    return "\n\n".join(block["text"] for block in system)


def _openai_messages(system, messages, reasoning: bool) -> list[dict]:
    out = []
    if system:
        out.append({"role": "system", "content": _system_text(system, "system")})
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        role, content = message.get("role"), message.get("content")
        if role not in ("user", "assistant", "system"):
            raise TranslationError(f"messages with role '{role}' are not supported.", param=f"{where}.role")
        if role == "system":  # a system message mid-conversation (Claude Opus 4.8 on; Claude Code sends them)
            out.append({"role": "system", "content": _system_text(content, f"{where}.content")})
        elif isinstance(content, str):
            out.append({"role": role, "content": content})
        elif role == "assistant":
            out.append(openai_assistant_message(content, reasoning))
        else:
            _add_user_message(content, f"{where}.content", out)
    return out


def _add_user_message(blocks: list[dict], where: str, out: list[dict]) -> None:
    """Appends a user message's tool results as `tool` messages, then the rest as one user message."""
    parts: list[dict] = []
    for j, block in enumerate(blocks):
        if block.get("type") == "tool_result":
            text = _tool_result_text(block.get("content"), f"{where}[{j}].content", parts)
            out.append({"role": "tool", "tool_call_id": block["tool_use_id"], "content": text})
        else:
            parts.append(_openai_part(block, f"{where}[{j}]"))
    if len(parts) == 1 and parts[0]["type"] == "text":
        out.append({"role": "user", "content": parts[0]["text"]})
    elif parts:
        out.append({"role": "user", "content": parts})


def _tool_result_text(content, where: str, parts: list[dict]) -> str:
    """A tool result's text; its images are added to `parts`, the user message that follows."""
    if not content:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for j, block in enumerate(content):
        part = _openai_part(block, f"{where}[{j}]")
        if part["type"] == "text":
            texts.append(part["text"])
        else:
            parts.append(part)
    return "\n\n".join(texts)


def _openai_part(block: dict, where: str) -> dict:
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": block["text"]}
    if kind == "image":
        source = block["source"]
        if source.get("type") == "base64":
            return {"type": "image_url", "image_url": {"url": f"data:{source['media_type']};base64,{source['data']}"}}
        if source.get("type") == "url":
            return {"type": "image_url", "image_url": {"url": source["url"]}}
        raise TranslationError(f"image sources of type '{source.get('type')}' are not supported for an OpenAI "
                               "model.", param=f"{where}.source")
    raise TranslationError(f"content blocks of type '{kind}' are not supported for an OpenAI model.", param=where)


def _openai_tool(tool: dict, where: str) -> dict:
    if tool.get("type", "custom") != "custom":
        raise TranslationError(f"server tools ('{tool.get('type')}') are not supported for an OpenAI model.",
                               param=where)
    function = {"name": tool["name"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    function["parameters"] = tool.get("input_schema") or _empty_schema()
    if tool.get("strict") is not None:
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _openai_response_format(output_format: dict) -> dict:
    """Anthropic's `output_config.format` as OpenAI's `response_format`."""
    schema = output_format.get("schema") or _empty_schema()
    json_schema = {"name": "output", "schema": schema}
    if _strict_ready(schema):
        json_schema["strict"] = True
    return {"type": "json_schema", "json_schema": json_schema}


def _strict_ready(schema) -> bool:
    """Whether a JSON schema meets OpenAI's strict mode rules for objects: every property required,
    no other properties allowed (Anthropic's SDK makes its schemas so)."""
    if isinstance(schema, list):
        return all(_strict_ready(item) for item in schema)
    if not isinstance(schema, dict):
        return True
    if "properties" in schema or schema.get("type") == "object":
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False or set(schema.get("required") or ()) != set(properties):
            return False
    return all(_strict_ready(value) for value in schema.values())


def _openai_tool_choice(choice: dict, out: dict) -> None:
    kind = choice.get("type")
    if kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    elif kind in _TOOL_CHOICE_STRINGS:
        out["tool_choice"] = _TOOL_CHOICE_STRINGS[kind]
    else:
        raise TranslationError(f"tool_choice of type '{kind}' is not supported for an OpenAI model.",
                               param="tool_choice")
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False
