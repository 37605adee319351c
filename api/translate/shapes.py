"""The shapes of the fields a translation reads, checked before it reads them.

A malformed request gets a 400 naming the field, worded as the endpoint's own API words it
(OpenAI: "Invalid type for 'messages[0].content': ...", Anthropic: "messages.0.content: Input
should be a valid list"), instead of a Python error. Only what the translation relies on is
checked; the provider still validates the rest. A provider's answer that its translation cannot
read is said to be so in plain words ("its 'choices[0].message.content' is an integer, not a
string, an array or null").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from api.translate import TranslationError, UntranslatableAnswer
from api.wire.errors import Dialect


@dataclass(frozen=True, slots=True)
class Shape:
    kinds: tuple[str, ...]
    """JSON types allowed: "string", "boolean", "integer", "number", "array", "object", "null"."""
    items: Shape | None = None
    """For arrays: the shape of every item."""
    fields: dict[str, Shape] = field(default_factory=dict)
    """For objects: the shape of the fields that are checked."""
    variants: tuple[str, dict[str, dict[str, Shape]]] | None = None
    """For objects: more fields to check, by the value of one field (a block's `type`, a message's `role`)."""
    required: bool = False
    nonempty: bool = False
    """For arrays: the first item is required (an empty array lacks item 0)."""
    types: tuple[type, ...] = field(init=False, repr=False)
    """The Python types of `kinds` (bool, a subclass of int, only when "boolean" is allowed)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", tuple(python_type for kind in self.kinds for python_type in _TYPES[kind]))


_TYPES = {"string": (str,), "boolean": (bool,), "integer": (int,), "number": (int, float), "array": (list,),
          "object": (dict,), "null": (type(None),)}
_OPENAI_NAMES = {"string": "a string", "boolean": "a boolean", "integer": "an integer", "number": "a number",
                 "array": "an array", "object": "an object", "null": "null"}
_ANTHROPIC_NAMES = {"string": "a valid string", "boolean": "a valid boolean", "integer": "a valid integer",
                    "number": "a valid number", "array": "a valid list", "object": "a valid dictionary",
                    "null": "None"}


def _string(required: bool = False) -> Shape:
    return Shape(("string",), required=required)


def _object(required: bool = False, **fields: Shape) -> Shape:
    return Shape(("object",), fields=fields, required=required)


def _typed_object(variants: dict[str, dict[str, Shape]] | None = None, required: bool = False,
                  **fields: Shape) -> Shape:
    """An object told apart by its `type`, with the fields each type needs."""
    return Shape(("object",), fields={"type": _string(required=True), **fields},
                 variants=("type", variants) if variants else None, required=required)


_FUNCTION_NAMED = _object(required=True, name=_string(required=True))
_TEXT = {"text": _string(required=True)}

_OPENAI_PARTS = _typed_object({
    "text": _TEXT,
    "image_url": {"image_url": _object(required=True, url=_string(required=True))},
})
_OPENAI_CONTENT = {"content": Shape(("string", "array"), items=_OPENAI_PARTS, required=True)}
"""The content of every message but the assistant's (which may hold only tool calls)."""

OPENAI_REQUEST = {
    "messages": Shape(("array",), required=True, items=Shape(
        ("object",),
        fields={
            "role": _string(required=True),
            "content": Shape(("string", "array", "null"), items=_OPENAI_PARTS),
            "tool_calls": Shape(("array", "null"), items=_object(function=_object(
                required=True, name=_string(required=True), arguments=_string()))),
        },
        variants=("role", {"user": _OPENAI_CONTENT, "system": _OPENAI_CONTENT, "developer": _OPENAI_CONTENT,
                           "tool": {**_OPENAI_CONTENT, "tool_call_id": _string(required=True)}}))),
    "tools": Shape(("array", "null"), items=_object(function=_FUNCTION_NAMED)),
    "tool_choice": Shape(("string", "object", "null"), variants=("type", {"function": {"function": _FUNCTION_NAMED}})),
    "stop": Shape(("string", "array", "null"), items=_string()),
    "stream": Shape(("boolean", "null")),
    "stream_options": Shape(("object", "null")),
    "max_tokens": Shape(("integer", "null")),
    "max_completion_tokens": Shape(("integer", "null")),
    "n": Shape(("integer", "null")),
    "temperature": Shape(("number", "null")),
    "top_p": Shape(("number", "null")),
}

_ANTHROPIC_IMAGE = {"source": _typed_object({
    "base64": {"media_type": _string(required=True), "data": _string(required=True)},
    "url": {"url": _string(required=True)}}, required=True)}
_ANTHROPIC_BLOCK = _typed_object({
    "text": _TEXT,
    "image": _ANTHROPIC_IMAGE,
    "tool_use": {"id": _string(required=True), "name": _string(required=True), "input": _object()},
    "tool_result": {"tool_use_id": _string(required=True), "content": Shape(
        ("string", "array"), items=_typed_object({"text": _TEXT, "image": _ANTHROPIC_IMAGE}))},
})

ANTHROPIC_REQUEST = {
    "messages": Shape(("array",), required=True, items=_object(
        role=_string(required=True), content=Shape(("string", "array"), required=True, items=_ANTHROPIC_BLOCK))),
    "system": Shape(("string", "array"), items=_typed_object({"text": _TEXT})),
    "tools": Shape(("array",), items=_object(name=_string(required=True))),
    "tool_choice": _typed_object(),
    "stop_sequences": Shape(("array",), items=_string()),
    "stream": Shape(("boolean",)),
    "max_tokens": Shape(("integer",)),
    "metadata": Shape(("object",)),
    "temperature": Shape(("number",)),
    "top_p": Shape(("number",)),
    "top_k": Shape(("integer",)),
    "thinking": _typed_object(),
}


_COUNT = Shape(("number", "null"))
OPENAI_ANSWER = Shape(("object",), fields={
    "id": _string(),
    "choices": Shape(("array",), required=True, nonempty=True, items=_object(
        message=Shape(("object", "null"), fields={
            "content": Shape(("string", "array", "null"), items=_typed_object({"text": _TEXT})),
            "refusal": Shape(("string", "null")),
            "tool_calls": Shape(("array", "null"), items=_object(
                id=Shape(("string", "null")),
                function=_object(required=True, name=_string(required=True),
                                 arguments=Shape(("string", "object", "null"))))),
        }),
        finish_reason=Shape(("string", "null")))),
    "usage": Shape(("object", "null"), fields={
        "prompt_tokens": _COUNT, "completion_tokens": _COUNT,
        "prompt_tokens_details": Shape(("object", "null"), fields={"cached_tokens": _COUNT})}),
})
"""A `chat.completion`, as far as its translation into an Anthropic message reads it."""

ANTHROPIC_ANSWER = Shape(("object",), fields={
    "id": _string(),
    "content": Shape(("array", "null"), items=_typed_object({
        "text": _TEXT, "tool_use": {"id": _string(required=True), "name": _string(required=True)},
        "thinking": {"thinking": _string(required=True)}})),
    "stop_reason": Shape(("string", "null")),
    "usage": Shape(("object", "null"), fields=dict.fromkeys(
        ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"), _COUNT)),
})
"""An Anthropic message, as far as its translation into a `chat.completion` reads it."""


class _Mismatch(Exception):
    """The first field without its shape: missing (`kinds` empty), or holding `value`, not of `kinds`."""

    def __init__(self, path: tuple, kinds: tuple[str, ...] = (), value: object = None) -> None:
        super().__init__(path)
        self.path, self.kinds, self.value = path, kinds, value


def check(body: dict, dialect: Dialect) -> None:
    """Raise TranslationError for the first field of `body` that does not have its shape, as `dialect` words it."""
    try:
        _check_fields(body, OPENAI_REQUEST if dialect == "openai" else ANTHROPIC_REQUEST, ())
    except _Mismatch as mismatch:
        if not mismatch.kinds:
            raise _missing(mismatch.path, dialect) from None
        raise _mistyped(mismatch.path, mismatch.kinds, mismatch.value, dialect) from None


def check_boolean(body: dict, name: str, dialect: Dialect) -> None:
    """Raise TranslationError when `body[name]` is there, not null and not a boolean, as `dialect` words it."""
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise _mistyped((name,), ("boolean",), value, dialect)


def check_answer(answer: object, dialect: Dialect) -> None:
    """Raise UntranslatableAnswer for the first field of a provider's whole answer (in `dialect`) that its
    translation cannot read."""
    try:
        _check(answer, OPENAI_ANSWER if dialect == "openai" else ANTHROPIC_ANSWER, ())
    except _Mismatch as mismatch:
        raise UntranslatableAnswer(_plainly(mismatch)) from None


def as_integer(value: object) -> int | None:
    """`value` as an integer if it is one: JSON's `5.0` is the integer 5 (as JSON Schema and Anthropic's API
    read it), but not `true`, nor a number past 64 bits that no JSON encoder here could write back."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 63:
        return int(value)
    return value if isinstance(value, int) else None


def _check_fields(value: dict, fields: dict[str, Shape], path: tuple) -> None:
    for name, shape in fields.items():
        if name in value:
            field_value = value[name]
            whole = as_integer(field_value) if type(field_value) is float and "integer" in shape.kinds else None
            if whole is not None:
                value[name] = field_value = whole  # sent on as the integer it is
            _check(field_value, shape, (*path, name))
        elif shape.required:
            raise _Mismatch((*path, name))


def _check(value: object, shape: Shape, path: tuple) -> None:
    if not isinstance(value, shape.types) or (isinstance(value, bool) and bool not in shape.types):
        raise _Mismatch(path, shape.kinds, value)
    if isinstance(value, list):
        if shape.nonempty and not value:
            raise _Mismatch((*path, 0))
        if shape.items is not None:
            for index, item in enumerate(value):
                _check(item, shape.items, (*path, index))
    elif isinstance(value, dict):
        _check_fields(value, shape.fields, path)
        if shape.variants is not None:
            key, variants = shape.variants
            tag = value.get(key)
            if isinstance(tag, str) and tag in variants:
                _check_fields(value, variants[tag], path)


def _is(value: object, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[kind])


def _kind_of(value: object) -> str:
    return next(kind for kind in ("null", "boolean", "integer", "number", "string", "array", "object")
                if _is(value, kind))


def _openai_path(path: tuple) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")


def _anthropic_path(path: tuple) -> str:
    return ".".join(str(part) for part in path)


def _missing(path: tuple, dialect: Dialect) -> TranslationError:
    if dialect == "openai":
        return TranslationError(f"Missing required parameter: '{_openai_path(path)}'.", _openai_path(path),
                                code="missing_required_parameter")
    return TranslationError(f"{_anthropic_path(path)}: Field required", _openai_path(path))


def _plainly(mismatch: _Mismatch) -> str:
    """A mismatch in an answer, in plain words: "it has no 'choices[0]'", "its 'id' is null, not a string"."""
    path = _openai_path(mismatch.path)
    if not mismatch.kinds:
        return f"it has no '{path}'"
    subject = f"its '{path}'" if path else "it"
    *others, last = (_OPENAI_NAMES[kind] for kind in mismatch.kinds)
    expected = f"{', '.join(others)} or {last}" if others else last
    return f"{subject} is {_OPENAI_NAMES[_kind_of(mismatch.value)]}, not {expected}"


def _mistyped(path: tuple, kinds: tuple[str, ...], value: object, dialect: Dialect) -> TranslationError:
    if dialect == "openai":
        expected = " or ".join(_OPENAI_NAMES[kind] for kind in kinds if kind != "null")
        return TranslationError(f"Invalid type for '{_openai_path(path)}': expected {expected}, but got "
                                f"{_OPENAI_NAMES[_kind_of(value)]} instead.", _openai_path(path),
                                code="invalid_type")
    expected = " or ".join(_ANTHROPIC_NAMES[kind] for kind in kinds)
    return TranslationError(f"{_anthropic_path(path)}: Input should be {expected}", _openai_path(path))
