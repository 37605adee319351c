"""Tool calls and structured output for local models.

What an answer must look like becomes a llama.cpp grammar (GBNF): a `response_format` JSON schema
or JSON object, or a tool call `{"name": ..., "arguments": {...}}` whose arguments follow the
function's parameters. Tools reach the model in the Hermes format (`<tool_call>` ... `</tool_call>`,
that of Qwen 2.5 and 3, Hermes and many fine-tunes): a chat template that writes it gets the tools
and earlier calls as they are (`native`); any other template, and the transcript fallback, gets the
tools as instructions in the system message and earlier calls and results as text.

Calls are read from the answer in one of two ways: with `tool_choice` "required" or a named
function, the whole answer is held to calls by the grammar (`forced`); with "auto", the model
writes freely, and once it writes `<tool_call>`, the rest of its answer is held to calls. Unless
`parallel_tool_calls` is false, a call may be followed by more, each framed as the Hermes format
frames them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import overload

import orjson

from api.translate.requests import tool_input
from api.wire.errors import ApiError

CALL_TAG = "<tool_call>"
"""What a model of the Hermes format writes before a call; in "auto" mode, where a call begins."""
CALL_END = "</tool_call>"
"""What ends a call in the Hermes format; between calls of one answer."""
CALL_CLOSE = "\n" + CALL_END
INSTRUCTIONS = (
    "You may call functions to help with the user's request. The functions, as JSON schemas:\n<tools>\n{tools}\n"
    "</tools>\nTo call one, answer with only:\n" + CALL_TAG + "\n"
    '{{"name": "<function name>", "arguments": {{<arguments as JSON>}}}}\n</tool_call>\n'
    "A function's result comes back to you as <tool_response>...</tool_response>."
)
"""Tools for a chat template that does not write them itself (Hermes' own wording, shortened)."""


def invalid(message: str, param: str) -> ApiError:
    """A 400 in OpenAI's shape for a request a local model cannot take as it is."""
    return ApiError(400, message, param=param, code="invalid_value")


ANY_VALUE = {"type": "value"}
"""The converter's rule for any JSON value (its own name, not JSON Schema's)."""
_SHAPING = frozenset(("type", "const", "enum", "$ref", "anyOf", "oneOf", "allOf", "properties", "items",
                      "prefixItems", "pattern", "additionalProperties"))


@overload
def _loosened(schema: dict) -> dict: ...


@overload
def _loosened(schema: object) -> object: ...


def _loosened(schema: object) -> object:
    """`schema` with JSON Schema's "any value" (`{}`, `true`, or only a description) made explicit: the
    converter takes `{}` for an object and refuses a bare description (Claude Code's tools have both)."""
    if schema is True or (isinstance(schema, dict) and not _SHAPING.intersection(schema)):
        return ANY_VALUE
    if not isinstance(schema, dict):
        return schema
    loosened = dict(schema)
    for key in ("properties", "$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            loosened[key] = {name: _loosened(value) for name, value in schema[key].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            loosened[key] = _loosened(schema[key])
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(schema.get(key), list):
            loosened[key] = [_loosened(value) for value in schema[key]]
    return loosened


def _grammar(schema: dict, param: str, repeated: bool = False) -> str:
    """GBNF for JSON following `schema` (local refs only); a schema the converter cannot take is a 400.

    `repeated`: the JSON may be followed by more of it, each framed as the Hermes format frames calls
    (`</tool_call>` after one, `<tool_call>` before the next). After each, the model may end its turn."""
    from llama_cpp.llama_grammar import SchemaConverter

    converter = SchemaConverter(prop_order={"name": 0, "arguments": 1}, allow_fetch=False, dotall=False,
                                raw_pattern=False)
    try:
        rule = converter.visit(converter.resolve_refs(_loosened(schema), "request"), "call" if repeated else "")
    except Exception as exc:  # the converter's own checks: unknown types, remote refs, bad patterns
        raise invalid(f"Local models cannot follow this JSON schema: {exc}", param) from None
    grammar = converter.format_grammar()
    if repeated:
        end, begin = orjson.dumps(CALL_CLOSE).decode(), orjson.dumps("\n" + CALL_TAG + "\n").decode()
        grammar += f"\nroot ::= {rule} ({end} ({begin} {rule} {end})*)?"
    return grammar


def response_format(body: dict) -> dict | None:
    """The `response_format` of a chat request when it asks for JSON (checked, not yet a grammar)."""
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if fmt is None or kind == "text":
        return None
    if kind == "json_schema" and not isinstance((fmt.get("json_schema") or {}).get("schema"), dict):
        raise invalid("'response_format.json_schema.schema' must be a JSON schema object.",
                       "response_format.json_schema.schema")
    if kind not in ("json_object", "json_schema"):
        raise invalid("'response_format.type' must be 'text', 'json_object' or 'json_schema'.",
                       "response_format.type")
    return fmt


def output_grammar(fmt: dict) -> str:
    """The grammar of a `response_format` that `response_format()` accepted."""
    from llama_cpp.llama_grammar import JSON_GBNF

    if fmt["type"] == "json_object":
        return JSON_GBNF
    return _grammar(fmt["json_schema"]["schema"], "response_format.json_schema.schema")


@dataclass(frozen=True, slots=True)
class Tools:
    """The functions a chat request offers, and how a call is made."""

    functions: list[dict]
    """OpenAI's tool objects: {"type": "function", "function": {name, description, parameters}}."""
    chosen: list[str]
    """The functions the model may call: all, or the one `tool_choice` names."""
    forced: bool
    """A call is the whole answer ("required" or a named function); else the model may call ("auto")."""
    parallel: bool
    """The model may make several calls in one answer (unless `parallel_tool_calls` is false)."""

    @classmethod
    def parse(cls, body: dict) -> Tools | None:
        """The request's tools, or None when it offers none or `tool_choice` is "none"."""
        tools, choice = body.get("tools"), body.get("tool_choice") or "auto"
        if not tools or choice == "none":
            return None
        if not isinstance(tools, list):
            raise invalid("'tools' must be a list of functions.", "tools")
        functions: dict[str, dict] = {}
        for index, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) and tool.get("type") == "function" else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise invalid("Local models take tools of type 'function', each with a 'name'.", f"tools[{index}]")
            parameters = function.get("parameters") or {"type": "object", "properties": {}}
            if not isinstance(parameters, dict):
                raise invalid("A function's 'parameters' must be a JSON schema object.",
                               f"tools[{index}].function.parameters")
            functions[function["name"]] = {"type": "function", "function": {**function, "parameters": parameters}}
        if choice in ("auto", "required"):
            chosen = list(functions)
        elif isinstance(choice, dict) and (choice.get("function") or {}).get("name") in functions:
            chosen = [choice["function"]["name"]]
        else:
            raise invalid("'tool_choice' must be 'none', 'auto', 'required' or one of the tools.", "tool_choice")
        return cls(list(functions.values()), chosen, forced=choice != "auto",
                   parallel=body.get("parallel_tool_calls") is not False)

    def grammar(self) -> str:
        """GBNF for a call `{"name": ..., "arguments": {...}}` of a chosen function, or, `parallel`, for one
        or more calls (see `read_calls`)."""
        parameters = {tool["function"]["name"]: tool["function"]["parameters"] for tool in self.functions}
        calls = [{"type": "object",
                  "properties": {"name": {"const": name}, "arguments": _held_arguments(parameters[name])},
                  "required": ["name", "arguments"]} for name in self.chosen]
        return _grammar(calls[0] if len(calls) == 1 else {"anyOf": calls}, "tools", repeated=self.parallel)


def _held_arguments(parameters: dict) -> object:
    """What a call's arguments are held to: the function's parameters, or any JSON object where the
    converter cannot take them (one odd schema among a client's many tools does not refuse the request)."""
    if _loosened(parameters) == ANY_VALUE:  # arguments are an object whatever such a schema allows
        return {"type": "object"}
    try:
        _grammar(parameters, "tools")
    except ApiError:
        return {"type": "object"}
    return parameters


def _written_calls(text: str) -> list[dict]:
    """The calls `{"name", "arguments"}` the grammar made the model write, leaving out one cut short."""
    calls = []
    for written in text.split(CALL_CLOSE):  # a line break in JSON is followed by more JSON, never by "<"
        try:
            calls.append(orjson.loads(written.strip().removeprefix(CALL_TAG)))
        except orjson.JSONDecodeError:  # cut short, or nothing after the last call's end
            pass
    return calls


def repeats_itself(text: str) -> bool:
    """Whether the last call written is the same as one before it: small models, once they have made a
    call, tend to make it again and again; the answer ends there."""
    calls = _written_calls(text)
    return bool(calls) and calls[-1] in calls[:-1]


def read_calls(text: str) -> list[dict]:
    """The calls the model wrote, in OpenAI's shape, up to the first that repeats one before it."""
    calls: list[dict] = []
    for call in _written_calls(text):
        if call in calls:
            break
        calls.append(call)
    return [{"id": "call_" + uuid.uuid4().hex[:24], "type": "function",
             "function": {"name": call["name"], "arguments": orjson.dumps(call["arguments"]).decode()}}
            for call in calls]


def render(messages: list[dict], tools: Tools | None, native: bool) -> tuple[list[dict], list[dict] | None]:
    """The messages, and the tools, as the chat template is given them.

    `messages` are the request's, reduced to role, text content and, where present, `tool_calls` and
    `tool_call_id`. A template that is not `native` gets plain turns: calls as Hermes text in the
    assistant's turn, results as `<tool_response>` and system messages after the first turn as text of a
    user turn (joined with the user turns next to them, since many templates insist that user and
    assistant alternate), the tools in the system message.
    """
    if native:
        shaped = [{**message, "tool_calls": [
                      {**call, "function": {**call["function"], "arguments": tool_input(call["function"]["arguments"])}}
                      for call in message["tool_calls"]]}
                  if message.get("tool_calls") else message for message in messages]
        return shaped, tools.functions if tools else None
    plain: list[dict] = []
    after_joining = False
    for message in messages:
        role, content = message["role"], message["content"]
        joining = role == "tool" or (role == "system" and bool(plain))
        if message.get("tool_calls"):
            written = [CALL_TAG + "\n" + orjson.dumps({"name": call["function"]["name"],
                                                      "arguments": tool_input(call["function"]["arguments"])}).decode()
                       + CALL_CLOSE for call in message["tool_calls"]]
            content = "\n".join(([content] if content else []) + written)
        elif role == "tool":
            role, content = "user", f"<tool_response>\n{content}\n</tool_response>"
        elif joining:  # a later system message (Claude Code's): most templates take one only first
            role = "user"
        if plain and role == "user" == plain[-1]["role"] and (joining or after_joining):
            plain[-1]["content"] += "\n\n" + content
        else:
            plain.append({"role": role, "content": content})
        after_joining = joining
    if tools:
        described = INSTRUCTIONS.format(tools="\n".join(orjson.dumps(tool).decode() for tool in tools.functions))
        if plain and plain[0]["role"] == "system":
            plain[0] = {"role": "system", "content": plain[0]["content"] + "\n\n" + described}
        else:
            plain.insert(0, {"role": "system", "content": described})
    return plain, None
