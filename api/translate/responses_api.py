"""OpenAI's Responses API over Chat Completions: a Responses request as a chat request, and a
`chat.completion` as a `response` object (streams: `responses_api_stream`).

The gateway stores nothing, so what needs stored state (`previous_response_id`, `conversation`,
background responses, stored prompts) is refused; a client sends the whole conversation in `input`,
as Codex CLI does with `"store": false`. Function tools go as chat functions, custom (freeform) tools as
chat functions taking their text as `input`, the tools of a namespace tool named `namespace__name`; tools
the chat API cannot offer (hosted tools such as web_search) are left out. The rules are listed in
docs/translation.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson

from api.translate import TranslationError
from api.translate.answers import new_id, reasoning_of, text_of
from api.translate.requests import malformed_is_translation_error, passthrough

REFUSED_FIELDS = {
    "previous_response_id": "'previous_response_id' is not supported: Gatehouse stores no responses. Send the "
                            "whole conversation in 'input' (with 'store': false, as Codex CLI does).",
    "conversation": "'conversation' is not supported: Gatehouse stores no conversations. Send the whole "
                    "conversation in 'input'.",
    "background": "Background responses ('background': true) are not supported: Gatehouse stores no responses "
                  "to fetch later.",
    "prompt": "Stored prompts ('prompt') are not supported: Gatehouse cannot read them. Send the prompt's text "
              "as 'instructions'.",
}
"""Fields that need state the gateway does not keep: a 400 when set."""
DROPPED_FIELDS = frozenset({
    "store", "include", "truncation", "service_tier", "prompt_cache_key", "prompt_cache_retention",
    "prompt_cache_options", "metadata", "stream_options", "max_tool_calls", "top_logprobs", "context_management",
    "moderation", "access_programs", "background_options", "image", "client_metadata",
})
"""Fields accepted and not sent on (no chat counterpart, or nothing to do without stored responses)."""
TRANSLATED_FIELDS = frozenset({
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "max_output_tokens",
    "temperature", "top_p", "reasoning", "text", "user", "safety_identifier", "stream", *REFUSED_FIELDS,
})
_TEXT_PARTS = frozenset({"input_text", "output_text"})
NAMESPACE_JOIN = "__"
"""Between a namespace tool's name and its tool's, in the chat function's name (`multi_agent_v1__close_agent`)."""
OFFERED_TOOLS = ("function", "custom")
"""The tool types offered to a chat model, as functions."""
GRAMMAR_LIMIT = 4000
"""Characters of a custom tool's grammar told to the model (Codex CLI's apply_patch grammar has about 1,500)."""


@malformed_is_translation_error
def responses_to_chat(body: dict, openai_itself: bool = False) -> dict:
    """A Responses request as a chat.completions request.

    - `instructions` becomes a leading system message; `input` (a string: one user message) its messages.
    - Message items keep their role, `developer` becoming `system` (but for OpenAI's own API, see
      `Provider.openai_itself`); `input_text`/`output_text` parts are text parts (a single one the
      content string), `input_image` an `image_url` part (URLs and data URLs only), `refusal` a refusal part.
    - `function_call` and `custom_tool_call` items become the `tool_calls` of an assistant message (joining
      the assistant message before them; a custom call's arguments `{"input": ...}`), their outputs `tool`
      messages (text parts joined).
    - The summary text of `reasoning` items (else their reasoning text) goes back as the next assistant
      message's `reasoning_content`, as DeepSeek-style models want it in a tool loop (not to OpenAI's own
      API, which refuses it).
    - Function tools become chat tools; custom (freeform) tools functions with one string parameter,
      `input`, their grammar told in the description; the tools of a namespace tool (Codex CLI's) are
      named `namespace__name`. Tools a chat API cannot offer (hosted ones such as `web_search`, shell
      tools) are left out: the model answers without them. `tool_choice` and `parallel_tool_calls` go
      along with tools only (chat APIs refuse them alone).
    - `max_output_tokens` gives `max_tokens` (`max_completion_tokens` for OpenAI's own API),
      `reasoning.effort` `reasoning_effort`, `text.format` `response_format`; a stream asks for usage.
    """
    for name, why in REFUSED_FIELDS.items():
        if body.get(name):
            raise TranslationError(why, param=name)
    out = passthrough(body, TRANSLATED_FIELDS, DROPPED_FIELDS, frozenset(), "")
    out["model"] = body["model"]
    out["messages"] = _messages(body.get("instructions"), body["input"], openai_itself)
    if body.get("max_output_tokens") is not None:
        out["max_completion_tokens" if openai_itself else "max_tokens"] = body["max_output_tokens"]
    out.update((key, body[key]) for key in ("temperature", "top_p", "user", "safety_identifier", "stream")
               if body.get(key) is not None)
    if body.get("stream"):
        out["stream_options"] = {"include_usage": True}
    if effort := (body.get("reasoning") or {}).get("effort"):
        out["reasoning_effort"] = effort
    if response_format := _response_format((body.get("text") or {}).get("format")):
        out["response_format"] = response_format
    choice = _chat_tool_choice(body["tool_choice"]) if body.get("tool_choice") is not None else None
    if tools := _chat_tools(body.get("tools")):
        out["tools"] = tools
        if choice is not None:
            out["tool_choice"] = choice
        if body.get("parallel_tool_calls") is not None:
            out["parallel_tool_calls"] = body["parallel_tool_calls"]
    return out


def _messages(instructions, items, openai_itself: bool) -> list[dict]:
    messages = [{"role": "system", "content": instructions}] if instructions else []
    if isinstance(items, str):
        return [*messages, {"role": "user", "content": items}]
    reasoning: list[str] = []  # of reasoning items, for the next assistant message
    for i, item in enumerate(items):
        where = f"input[{i}]"
        kind = item.get("type", "message")
        if kind == "reasoning":
            reasoning += [part["text"] for part in item.get("summary") or item.get("content") or ()]
            continue
        if kind == "message":
            message = _message(item, where, openai_itself)
            messages.append(message)
        elif kind in ("function_call", "custom_tool_call"):
            arguments = item["arguments"] if kind == "function_call" else \
                orjson.dumps({"input": item["input"]}).decode()
            call = {"id": item["call_id"], "type": "function",
                    "function": {"name": _joined(item.get("namespace"), item["name"]), "arguments": arguments}}
            if messages and messages[-1]["role"] == "assistant":
                message = messages[-1]
                message.setdefault("tool_calls", []).append(call)
            else:
                message = {"role": "assistant", "content": None, "tool_calls": [call]}
                messages.append(message)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            messages.append({"role": "tool", "tool_call_id": item["call_id"],
                             "content": _tool_output(item["output"], f"{where}.output")})
            continue
        elif kind == "item_reference":
            raise TranslationError("Item references are not supported: Gatehouse stores no items. Send the items "
                                   "themselves.", param=f"{where}.type")
        else:
            raise TranslationError(f"Input items of type '{kind}' are not supported: only messages, function and "
                                   "custom tool calls, their outputs and reasoning are.", param=f"{where}.type")
        if reasoning and message["role"] == "assistant":
            if not openai_itself:
                message["reasoning_content"] = "\n\n".join(reasoning)
            reasoning = []
    return messages


def _message(item: dict, where: str, openai_itself: bool) -> dict:
    role = item["role"]
    if role not in ("user", "assistant", "system", "developer"):
        raise TranslationError(f"Messages with role '{role}' are not supported.", param=f"{where}.role")
    if role == "developer" and not openai_itself:
        role = "system"  # the role OpenAI-compatible servers know
    content = item["content"]
    if isinstance(content, list):
        content = [_chat_part(part, f"{where}.content[{j}]") for j, part in enumerate(content)]
        if len(content) == 1 and content[0]["type"] == "text":
            content = content[0]["text"]
    return {"role": role, "content": content}


def _chat_part(part: dict, where: str) -> dict:
    kind = part["type"]
    if kind in _TEXT_PARTS:
        return {"type": "text", "text": part["text"]}
    if kind == "refusal":
        return {"type": "refusal", "refusal": part["refusal"]}
    if kind == "input_image":
        if not part.get("image_url"):
            raise TranslationError("Images are supported by 'image_url' only (a URL or a data URL): Gatehouse has "
                                   "no Files API for a 'file_id'.", param=f"{where}.image_url")
        image = {"url": part["image_url"]}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    raise TranslationError(f"Content parts of type '{kind}' are not supported.", param=f"{where}.type")


def _tool_output(output, where: str) -> str:
    """A function call's output as a tool message's text: its text parts joined with a blank line."""
    if isinstance(output, str):
        return output
    parts = [_chat_part(part, f"{where}[{j}]") for j, part in enumerate(output)]
    if any(part["type"] != "text" for part in parts):
        raise TranslationError("Tool call outputs can only hold text.", param=where)
    return "\n\n".join(part["text"] for part in parts)


def _offered(tools) -> Iterator[tuple[str, str | None, dict]]:
    """(where, namespace, tool) of each tool offered to a chat model: function and custom tools, at the top
    or inside a namespace tool (`namespace` None at the top)."""
    for i, tool in enumerate(tools or ()):
        if tool.get("type") == "namespace":
            yield from ((f"tools[{i}].tools[{j}]", tool["name"], inner)
                        for j, inner in enumerate(tool.get("tools") or ()) if inner.get("type") in OFFERED_TOOLS)
        elif tool.get("type") in OFFERED_TOOLS:
            yield f"tools[{i}]", None, tool


def _joined(namespace: str | None, name: str) -> str:
    return f"{namespace}{NAMESPACE_JOIN}{name}" if namespace else name


def _chat_tools(tools) -> list[dict]:
    """The chat function tools for the offered tools (see `_offered`), each name once."""
    functions: dict[str, dict] = {}
    for where, namespace, tool in _offered(tools):
        name = _joined(namespace, tool["name"])
        if name in functions:
            raise TranslationError(f"The tool name '{name}' names another tool too (the tools of a namespace are "
                                   f"offered to the model as 'namespace{NAMESPACE_JOIN}name'): rename one.",
                                   param=f"{where}.name")
        if tool["type"] == "custom":
            function = {"name": name, "description": _custom_description(tool), "parameters": _custom_parameters()}
        else:
            function = {"name": name, "parameters": tool.get("parameters") or {"type": "object", "properties": {}}}
            function.update((key, tool[key]) for key in ("description", "strict") if tool.get(key) is not None)
        functions[name] = {"type": "function", "function": function}
    return list(functions.values())


def _custom_description(tool: dict) -> str:
    """What the model is told of a custom tool: its description, where its text goes, and its grammar (the
    first `GRAMMAR_LIMIT` characters)."""
    parts = [tool["description"]] if tool.get("description") else []
    parts.append("This tool takes free-form text, not JSON arguments: put the whole text, as it is, in `input`.")
    text_format = tool.get("format") or {}
    if text_format.get("type") == "grammar":
        definition = text_format["definition"]
        if len(definition) > GRAMMAR_LIMIT:
            definition = definition[:GRAMMAR_LIMIT] + "\n[... the rest of the grammar left out]"
        parts.append(f"The text must follow this {text_format.get('syntax', '')} grammar:\n{definition}")
    return "\n\n".join(parts)


def _custom_parameters() -> dict:
    return {"type": "object", "properties": {"input": {"type": "string", "description": "The tool's text, as it is."}},
            "required": ["input"], "additionalProperties": False}


def called_tools(tools) -> dict[str, tuple[str, str | None, str]]:
    """The chat function name of each custom tool and of each tool inside a namespace tool → (its type, its
    namespace, its name); any other name is a function's own."""
    return {_joined(namespace, tool["name"]): (tool["type"], namespace, tool["name"])
            for _, namespace, tool in _offered(tools) if namespace or tool["type"] == "custom"}


def _chat_tool_choice(choice) -> str | dict:
    if isinstance(choice, str):
        return choice
    if choice.get("type") in OFFERED_TOOLS:
        return {"type": "function", "function": {"name": choice["name"]}}
    raise TranslationError(f"tool_choice of type '{choice.get('type')}' is not supported: only 'auto', 'none', "
                           "'required', a function and a custom tool are.", param="tool_choice")


def _response_format(text_format) -> dict | None:
    """`text.format` as a chat `response_format` (None for plain text)."""
    kind = (text_format or {}).get("type")
    if kind == "json_schema":
        schema = {key: text_format[key] for key in ("name", "schema", "description", "strict") if key in text_format}
        return {"type": "json_schema", "json_schema": schema}
    return {"type": "json_object"} if kind == "json_object" else None


# --- answers ---------------------------------------------------------------------------------------

def echoed(body: dict) -> dict:
    """The request's fields a `response` object repeats, with the API's defaults."""
    return {
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": None,
        "reasoning": body.get("reasoning"),
        "temperature": body.get("temperature"),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": [_echoed_tool(tool) for tool in body.get("tools") or []],
        "top_p": body.get("top_p"),
        "truncation": body.get("truncation") or "disabled",
        **({"user": body["user"]} if body.get("user") is not None else {}),
    }


def _echoed_tool(tool: dict) -> dict:
    """A tool as a `response` repeats it: a function tool always with `strict` and `parameters` (OpenAI's
    schema requires both; absent, the chat side is not strict)."""
    if not isinstance(tool, dict) or tool.get("type") != "function":
        return tool
    return {**tool, "strict": bool(tool.get("strict")), "parameters": tool.get("parameters")}


def response_object(response_id: str, created_at: int, model: str, echo: dict, status: str, output: list[dict],
                    usage: dict | None = None, error: dict | None = None, finish_reason: str | None = None) -> dict:
    """A `response` object; `finish_reason` (the chat answer's) says why an incomplete one stopped. Without
    `usage` (the events before the last) it has none, not `null`."""
    incomplete = {"reason": "content_filter" if finish_reason == "content_filter" else "max_output_tokens"} \
        if status == "incomplete" else None
    return {"id": response_id, "object": "response", "created_at": created_at, "status": status,
            "error": error, "incomplete_details": incomplete, "model": model, "output": output,
            **({"usage": usage} if usage is not None else {}), **echo}


def status_of(finish_reason: str | None) -> str:
    """The status of a response whose chat answer stopped for `finish_reason`."""
    return "incomplete" if finish_reason in ("length", "content_filter") else "completed"


def responses_usage(usage: dict) -> dict:
    """Chat usage as Responses usage."""
    prompt, completion = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
    return {"input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
                                     or 0, "cache_write_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": (usage.get("completion_tokens_details") or {}).get(
                "reasoning_tokens") or 0},
            "total_tokens": prompt + completion}


def estimated_usage(input_tokens: int, output_characters: int) -> dict:
    """Responses usage estimated, for a provider that reported none: one output token per 4 characters of
    reasoning, text and tool call arguments."""
    return responses_usage({"prompt_tokens": input_tokens, "completion_tokens": -(-output_characters // 4)})


def reasoning_item(item_id: str, text: str) -> dict:
    return {"id": item_id, "type": "reasoning", "summary": [{"type": "summary_text", "text": text}]}


def message_item(item_id: str, text: str, status: str) -> dict:
    return {"id": item_id, "type": "message", "role": "assistant", "status": status,
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}


def call_item(call_id: str, name: str, arguments: str, status: str, called: dict[str, tuple]) -> dict:
    """The output item of a call of the chat function `name`: a custom tool call, its input the `input` of
    the arguments, or a function call; one of a tool inside a namespace tool names both (see `called_tools`)."""
    kind, namespace, name = called.get(name) or ("function", None, name)
    if kind == "custom":
        item = {"id": new_id("ctc_"), "type": "custom_tool_call", "call_id": call_id, "name": name,
                "input": custom_input(arguments), "status": status}
    else:
        item = {"id": new_id("fc_"), "type": "function_call", "call_id": call_id, "name": name,
                "arguments": arguments, "status": status}
    if namespace:
        item["namespace"] = namespace
    return item


def custom_input(arguments: str) -> str:
    """A custom tool's input from the arguments of its chat function: their `input`, else (a model that did not
    follow the schema) the arguments themselves."""
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    return value["input"] if isinstance(value, dict) and isinstance(value.get("input"), str) else arguments


def chat_to_response(completion: dict, model: str, echo: dict, input_estimate: int = 0) -> dict:
    """A `chat.completion` (its first choice) as a `response`: reasoning (`reasoning_content` or
    `reasoning`) a reasoning item with its summary text, text and refusal a message, tool calls
    function calls or custom tool calls. Without the provider's usage, an estimate (`input_estimate` in)."""
    choice = completion["choices"][0]
    reply = choice.get("message") or {}
    status = status_of(choice.get("finish_reason"))
    item_status = "completed" if status == "completed" else "incomplete"
    output = [reasoning_item(new_id("rs_"), reasoning)] if (reasoning := reasoning_of(reply)) else []
    if text := text_of(reply.get("content")) + (reply.get("refusal") or ""):
        output.append(message_item(new_id("msg_"), text, item_status))
    characters, called = len(reasoning) + len(text), called_tools(echo["tools"])
    for call in reply.get("tool_calls") or ():
        function = call["function"]
        arguments = function.get("arguments") or ""
        if not isinstance(arguments, str):  # some OpenAI-compatible servers send an object
            arguments = orjson.dumps(arguments).decode()
        characters += len(arguments)
        output.append(call_item(call.get("id") or new_id("call_"), function["name"], arguments, item_status, called))
    usage = responses_usage(completion["usage"]) if completion.get("usage") else \
        estimated_usage(input_estimate, characters)
    return response_object(new_id("resp_"), int(time.time()), model, echo, status, output, usage,
                           finish_reason=choice.get("finish_reason"))
