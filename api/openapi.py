"""The OpenAPI 3.1 description of Gatehouse's public HTTP API.

`build_spec(version)` returns the document as a plain, JSON-serialisable dict;
it is served at `/api-docs.json` and rendered by Swagger UI at `/api-docs`.

The document is data: reusable schemas live in `_SCHEMAS`, shared parameters
in `_PARAMETERS`, error answers in `_ERRORS` (shaped per API dialect by
`_DIALECTS`), and `_paths()` wires them into operations. The small helpers
below only save repetition.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

from api.errors import ApiError, Dialect

Schema = dict[str, Any]

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _ref(name: str, kind: str = "schemas") -> Schema:
    """A `$ref` to a component of `kind` (schemas, parameters, responses, ...)."""
    return {"$ref": f"#/components/{kind}/{name}"}


def _obj(properties: Schema, *required: str, extra: bool = False, **more: Any) -> Schema:
    """An object schema; `extra` allows properties not listed."""
    schema: Schema = {"type": "object", **more, "properties": properties}
    if required:
        schema["required"] = list(required)
    schema["additionalProperties"] = extra
    return schema


def _arr(items: Schema, **more: Any) -> Schema:
    return {"type": "array", "items": items, **more}


def _str(description: str | None = None, **more: Any) -> Schema:
    return {"type": "string", **({"description": description} if description else {}), **more}


def _int(description: str | None = None, **more: Any) -> Schema:
    return {"type": "integer", **({"description": description} if description else {}), **more}


def _num(description: str | None = None, **more: Any) -> Schema:
    return {"type": "number", **({"description": description} if description else {}), **more}


def _bool(description: str) -> Schema:
    return {"type": "boolean", "description": description}


def _const(value: str) -> Schema:
    return {"type": "string", "const": value}


def _enum(*values: str, description: str | None = None) -> Schema:
    return _str(description, enum=list(values))


def _nullable(schema: Schema) -> Schema:
    """`schema` or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def _one_of(*schemas: Schema, **more: Any) -> Schema:
    return {"oneOf": list(schemas), **more}


def _any_of(*schemas: Schema, **more: Any) -> Schema:
    return {"anyOf": list(schemas), **more}


def _tagged(prop: str, variants: dict[str, str], **more: Any) -> Schema:
    """A oneOf of schema components told apart by `prop` (its value -> component name)."""
    return _one_of(*(_ref(name) for name in variants.values()), **more, discriminator={
        "propertyName": prop,
        "mapping": {value: f"#/components/schemas/{name}" for value, name in variants.items()}})


def _typed(kind: str, properties: Schema, *required: str, **more: Any) -> Schema:
    """An object whose `type` is `kind` (Anthropic's blocks, deltas and stream events)."""
    return _obj({"type": _const(kind), **properties}, "type", *required, extra=True, **more)


def _json_body(schema: Schema, description: str | None = None, required: bool = True) -> Schema:
    """A JSON request body."""
    body: Schema = {"required": required, "content": {"application/json": {"schema": schema}}}
    if description:
        body["description"] = description
    return body


def _ok(description: str, content: Schema) -> Schema:
    """A 200 response carrying `content` (media type -> media object) and `x-request-id`."""
    return {"200": {"description": description, "headers": _REQUEST_ID_HEADER, "content": content}}


def _json_ok(description: str, schema: Schema) -> Schema:
    return _ok(description, {"application/json": {"schema": schema}})


def _json_or_sse_ok(description: str, body: str, events: tuple[str, str]) -> Schema:
    """A 200 answered as JSON `body`, or as server-sent events when `stream` is true;
    `events` is (how the events look, an example stream)."""
    framing, example = events
    return _ok(description, {
        "application/json": {"schema": _ref(body)},
        "text/event-stream": {"schema": _str(
            f"Server-sent events, sent when `stream` is true. {framing}", examples=[example])},
    })


def _openai_events(chunk: str) -> tuple[str, str]:
    """OpenAI's stream framing, each event one `chunk` object (for `_json_or_sse_ok`)."""
    return ((f"Each event is a line `data: <JSON>` holding one `{chunk}` object, followed by "
             "a blank line. The stream ends with the line `data: [DONE]`. An error after the "
             "stream has started arrives as a `data:` line holding an `ErrorResponse` object."),
            f"data: {{...{chunk}...}}\n\ndata: [DONE]\n\n")


def _error_responses(*statuses: int, dialect: str = "openai") -> Schema:
    """References to the shared error responses for `statuses`, in `dialect`'s shape."""
    prefix = _DIALECTS[dialect].prefix
    return {str(s): _ref(prefix + _ERRORS[s][0], "responses") for s in statuses}


def _op(op_id: str, tag: str, summary: str, description: str, responses: Schema, *,
        parameters: tuple[str, ...] = (), body: Schema | None = None,
        public: bool = False) -> Schema:
    """An operation; `parameters` name components, `public` drops authentication."""
    op: Schema = {"operationId": op_id, "tags": [tag], "summary": summary,
                  "description": description}
    if parameters:
        op["parameters"] = [_ref(p, "parameters") for p in parameters]
    if body is not None:
        op["requestBody"] = body
    op["responses"] = responses
    if public:
        op["security"] = []
    return op


def _v1_op(*args: Any, errors: tuple[int, ...], parameters: tuple[str, ...] = (),
           dialect: str = "openai", **kwargs: Any) -> Schema:
    """An authenticated /v1 operation: client/request-id headers and errors in `dialect`."""
    op = _op(*args, parameters=(*parameters, *_V1_HEADERS), **kwargs)
    op["responses"] = {**op["responses"], **_error_responses(*errors, dialect=dialect)}
    return op


def _anthropic_ops(path: str, op_id: str, summary: str, description: str,
                   responses: Schema, body: Schema) -> Schema:
    """Path items for `path` and `/{provider_id}{path}`: one Anthropic operation, the
    second form taking the provider from the path."""
    def op(op_id: str, summary: str, description: str, *parameters: str) -> Schema:
        return _v1_op(op_id, "anthropic", summary, f"{description}\n\n{_ANTHROPIC_AUTH}",
                      responses, body=body, errors=_ALL_ANTHROPIC_ERRORS, dialect="anthropic",
                      parameters=(*parameters, "AnthropicVersion", "AnthropicBeta"))
    return {
        path: {"post": op(op_id, summary, description)},
        f"/{{provider_id}}{path}": {"post": op(
            f"{op_id}ForProvider", f"{summary} (provider in the path)",
            f"{description}\n\n{_PROVIDER_PATH}", "ProviderId")},
    }


# ---------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------

_REQUEST_ID_HEADER = {"x-request-id": _ref("RequestId", "headers")}

_V1_HEADERS = ("XClientId", "ClientHeader", "XRequestId")

# status -> (component name, description, example message). The OpenAI-shaped
# responses carry the name as it is, those of other dialects with their prefix.
_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("BadRequest",
          ("The request is invalid: malformed JSON, a missing or invalid parameter, "
           "an ambiguous model id (one that more than one provider offers; prefix it "
           "with the provider id), or a request the model's provider cannot take "
           "(e.g. a field with no counterpart in its API)."),
          "Missing required parameter: 'messages'."),
    401: ("Unauthorized", "The API key is missing or wrong.", "Incorrect API key provided."),
    403: ("Forbidden", ("The provider refused access (e.g. its key may not use the "
                        "model); its answer is passed on."),
          "Your API key does not have permission to use the specified resource."),
    404: ("NotFound", "The model is unknown to every configured provider.",
          "The model 'openai:gpt-unknown' does not exist."),
    413: ("PayloadTooLarge",
          "The request body is larger than `server.max_body_bytes` (10 MiB by default).",
          "Request body too large."),
    429: ("RateLimited", "The provider is rate limiting; its answer is passed on.",
          "Rate limit reached."),
    500: ("InternalError", "Something went wrong inside the gateway.", "Internal server error."),
    502: ("BadGateway",
          ("The provider could not be reached or sent a broken reply; the message "
           "names the provider id."),
          "Provider 'ollama' is unreachable."),
    504: ("GatewayTimeout",
          "The provider did not answer in time; the message names the provider id.",
          "Provider 'openai' timed out."),
    529: ("Overloaded", "The provider is overloaded; its answer is passed on.", "Overloaded."),
}


class _Dialect(NamedTuple):
    """How errors look in one API dialect (bodies come from api.errors, as the server sends them)."""

    name: Dialect
    prefix: str
    """Of its error response components' names."""
    schema: str
    """Its error body component."""
    statuses: tuple[int, ...]
    """Every status its operations document."""


_DIALECTS: dict[str, _Dialect] = {
    "openai": _Dialect("openai", "", "ErrorResponse", (400, 401, 404, 413, 429, 500, 502, 504)),
    "anthropic": _Dialect("anthropic", "Anthropic", "AnthropicErrorResponse",
                          (400, 401, 403, 404, 413, 429, 500, 502, 504, 529)),
}
_ALL_ERRORS = _DIALECTS["openai"].statuses
_ALL_ANTHROPIC_ERRORS = _DIALECTS["anthropic"].statuses

_ANTHROPIC_AUTH = (
    "Authenticate as on every endpoint, with `Authorization: Bearer <key>` or "
    "`X-API-Key: <key>`; the `x-api-key` header Anthropic's SDKs send is that same "
    "header (header names are case-insensitive).")

_PROVIDER_PATH = (
    "This form takes the provider from the path: `model` is then the bare model id at "
    "that provider (a `provider_id:` prefix is accepted too).")

_ANTHROPIC_EVENTS = (
    ("Each event is a line `event: <name>` and a line `data: <JSON>` holding one "
     "`AnthropicStreamEvent` whose `type` is that name, followed by a blank line. An error "
     "after the stream has started arrives as an `error` event holding an "
     "`AnthropicErrorResponse`."),
    ('event: message_start\ndata: {"type":"message_start","message":{...}}\n\n'
     'event: content_block_start\ndata: {"type":"content_block_start","index":0,...}\n\n'
     'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
     '"delta":{"type":"text_delta","text":"Hi"}}\n\n'
     'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
     'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
     '"stop_sequence":null},"usage":{"output_tokens":2}}\n\n'
     'event: message_stop\ndata: {"type":"message_stop"}\n\n'))

_PARAMETERS: Schema = {
    "XClientId": {
        "name": "X-Client-Id", "in": "header", "required": False, "schema": _str(),
        "description": "Names the client whose settings (default model, allowed models) "
                       "apply when the server key is used. Defaults to `server`. Ignored "
                       "with a client's own key, which always means that client.",
    },
    "ClientHeader": {
        "name": "client", "in": "header", "required": False, "schema": _str(),
        "description": "Alias of `X-Client-Id`.",
    },
    "XRequestId": {
        "name": "X-Request-Id", "in": "header", "required": False, "schema": _str(),
        "description": "Request id, echoed in the `x-request-id` response header "
                       "(one is generated when absent).",
    },
    "ProviderType": {
        "name": "provider_type", "in": "query", "required": False,
        "schema": _ref("ProviderType"), "description": "Only models of this provider type.",
    },
    "ProviderTypeAlias": {
        "name": "providerType", "in": "query", "required": False,
        "schema": _ref("ProviderType"), "description": "Alias of `provider_type`.",
    },
    "Limit": {
        "name": "limit", "in": "query", "required": False, "schema": _int(minimum=0),
        "description": "Return at most this many models.",
    },
    "Offset": {
        "name": "offset", "in": "query", "required": False,
        "schema": _int(minimum=0, default=0), "description": "Skip this many models first.",
    },
    "ProviderId": {
        "name": "provider_id", "in": "path", "required": True, "schema": _str(),
        "description": "The id of the provider to send the request to; `model` is then "
                       "the bare model id at that provider. An id no provider has "
                       "answers 404.",
        "example": "anthropic",
    },
    "AnthropicVersion": {
        "name": "anthropic-version", "in": "header", "required": False,
        "schema": _str(examples=["2023-06-01"]),
        "description": "Anthropic API version. On `/v1/messages` it is forwarded to "
                       "Anthropic-type providers; on `/v1/models` its presence selects "
                       "Anthropic's format for the answer.",
    },
    "AnthropicBeta": {
        "name": "anthropic-beta", "in": "header", "required": False, "schema": _str(),
        "description": "Anthropic beta features, comma-separated; forwarded to "
                       "Anthropic-type providers (ignored when translated).",
    },
    "ModelId": {
        "name": "model_id", "in": "path", "required": True, "schema": _str(),
        "description": "A model id, `provider-id:model-id`. It may contain `:` and `/` "
                       "(e.g. `ollama:library/llama3:8b`).",
        "example": "openai:gpt-4o-mini",
    },
}

# ---------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------



def _model_field(alternative: str = "", example: str = "openai:gpt-4o-mini") -> Schema:
    return _str(f"Model id, `provider-id:model-id`{alternative}. Omitted or `default` uses "
                "the client's default model.", examples=[example])


_MODEL_FIELD = _model_field()
_USER = _str("An end-user id, passed on to the provider.")
_SEED = _int("Seed for best-effort deterministic sampling.")
_TEMPERATURE = _num("Sampling temperature.", minimum=0, maximum=2)
_TOP_P = _num("Nucleus sampling probability mass.", minimum=0, maximum=1)
_N = _int("How many choices to generate.", minimum=1)
_STREAM = _bool("Answer as server-sent events (`text/event-stream`).")
_CREATED = _int("Unix time (seconds) the object was created.")
_INDEX = _int("Position of the content block in the message.", minimum=0)
_STOP_SEQUENCE = _nullable(_str("The stop sequence that ended generation, if any."))

# A prompt or embedding input: text, texts, tokens, or token lists (anyOf: `[]` fits all).
_TEXT_OR_TOKENS = [
    _str(), _arr(_str()), _arr(_int()), _arr(_arr(_int())),
]


def _chat_message(role: str, content: Schema, *required: str, **extra: Schema) -> Schema:
    return _obj({"role": _const(role), "content": content,
                 "name": _str("Optional name of the participant."), **extra},
                "role", *required, extra=True)


def _anthropic_request(description: str, **more: Schema) -> Schema:
    """An Anthropic request body: the fields of count_tokens, plus `more`."""
    return _obj({
        "model": _model_field(", or the bare model id at the provider when the path names "
                              "it (`/{provider_id}/v1/...`)", "anthropic:claude-sonnet-4-5"),
        "messages": _arr(_ref("AnthropicMessageParam"), minItems=1,
                         description="The conversation, user and assistant turns."),
        "system": _one_of(_str(), _arr(_ref("AnthropicTextBlock")),
                          description="System prompt: text, or text blocks. A client's "
                                      "configured prompt is put before it."),
        **more,
        "stop_sequences": _arr(_str(), description="Sequences where generation stops."),
        "temperature": _num("Sampling temperature.", minimum=0, maximum=1),
        "top_p": _TOP_P,
        "top_k": _int("Sample only from the K most likely tokens (dropped when "
                      "translated).", minimum=0),
        "metadata": _obj({"user_id": _nullable(_USER)}, extra=True),
        "tools": _arr(_ref("AnthropicTool")),
        "tool_choice": _ref("AnthropicToolChoice"),
    }, "messages", extra=True, description=description)


_SCHEMAS: Schema = {
    # -- errors and health ----------------------------------------------------
    "ErrorResponse": _obj({"error": _obj({
        "message": _str("Human-readable description."),
        "type": _str("Error category, e.g. `invalid_request_error`."),
        "param": _nullable(_str("The offending parameter, if any.")),
        "code": _nullable(_str("Machine-readable code, if any.")),
    }, "message", "type", "param", "code")}, "error"),
    "AnthropicErrorResponse": _obj({"type": _const("error"), "error": _obj({
        "type": _str("Error category, e.g. `invalid_request_error`."),
        "message": _str("Human-readable description."),
    }, "type", "message", extra=True)}, "type", "error", extra=True),
    "Health": _obj({
        "status": _const("ok"),
        "version": _str("Gatehouse version."),
        "uptime_s": _num("Seconds since the server started."),
    }, "status", "version", "uptime_s"),
    # -- models ---------------------------------------------------------------
    "ProviderType": _enum("openai", "anthropic", "ollama", description="Kind of provider."),
    "Model": _obj({
        "id": _str("`provider-id:model-id`.", examples=["openai:gpt-4o-mini"]),
        "object": _const("model"),
        "created": _CREATED,
        "owned_by": _str("Owner of the model."),
        "name": _str("The model id at the provider.", examples=["gpt-4o-mini"]),
        "provider": _str("Provider id.", examples=["openai"]),
        "provider_type": _ref("ProviderType"),
    }, "id", "object", "created", "owned_by", "name", "provider", "provider_type"),
    "ModelList": _obj({"object": _const("list"), "data": _arr(_ref("Model"))},
                      "object", "data"),
    "AnthropicModel": _obj({
        "type": _const("model"),
        "id": _str("`provider-id:model-id`.", examples=["anthropic:claude-sonnet-4-5"]),
        "display_name": _str("The model's name (its id)."),
        "created_at": _str("When the model was created (RFC 3339).", format="date-time"),
    }, "type", "id", "display_name", "created_at",
        description="A model in Anthropic's format (asked for with `anthropic-version`)."),
    "AnthropicModelList": _obj({
        "data": _arr(_ref("AnthropicModel")),
        "has_more": _bool("More models follow this page."),
        "first_id": _nullable(_str("Id of the first model of the page.")),
        "last_id": _nullable(_str("Id of the last model of the page.")),
    }, "data", "has_more", "first_id", "last_id",
        description="The model list in Anthropic's format (asked for with "
                    "`anthropic-version`)."),
    # -- shared ---------------------------------------------------------------
    "Stop": _nullable(_one_of(_str(), _arr(_str(), maxItems=4),
                              description="Up to 4 sequences where generation stops.")),
    "StreamOptions": _nullable(_obj({
        "include_usage": _bool("Send a last chunk carrying `usage` for the whole request."),
    }, extra=True)),
    "Usage": _obj({
        "prompt_tokens": _int(), "completion_tokens": _int(), "total_tokens": _int(),
    }, "prompt_tokens", "completion_tokens", "total_tokens", extra=True),
    "FinishReason": _nullable(_enum("stop", "length", "tool_calls", "content_filter",
                                    "function_call")),
    # -- chat: messages -------------------------------------------------------
    "TextPart": _obj({"type": _const("text"), "text": _str()}, "type", "text", extra=True),
    "ImageUrlPart": _obj({"type": _const("image_url"), "image_url": _obj({
        "url": _str("An `https:` URL or a `data:` URL with base64 image data."),
        "detail": _enum("auto", "low", "high"),
    }, "url")}, "type", "image_url", extra=True),
    "ContentPart": _tagged("type", {"text": "TextPart", "image_url": "ImageUrlPart"}),
    "FunctionCall": _obj({
        "name": _str("Function name."),
        "arguments": _str("Arguments as a JSON-encoded string."),
    }, "name", "arguments"),
    "ToolCall": _obj({"id": _str(), "type": _const("function"),
                      "function": _ref("FunctionCall")}, "id", "type", "function"),
    "SystemMessage": _chat_message("system", _one_of(_str(), _arr(_ref("TextPart"))),
                                   "content"),
    "DeveloperMessage": _chat_message("developer", _one_of(_str(), _arr(_ref("TextPart"))),
                                      "content"),
    "UserMessage": _chat_message("user", _one_of(_str(), _arr(_ref("ContentPart"))),
                                 "content"),
    "AssistantMessage": _chat_message(
        "assistant", _nullable(_one_of(_str(), _arr(_ref("TextPart")))),
        refusal=_nullable(_str()), tool_calls=_arr(_ref("ToolCall"))),
    "ToolMessage": _chat_message("tool", _one_of(_str(), _arr(_ref("TextPart"))),
                                 "content", "tool_call_id",
                                 tool_call_id=_str("The tool call this message answers.")),
    "ChatMessage": _tagged("role", {
        r.lower(): f"{r}Message" for r in ("System", "Developer", "User", "Assistant", "Tool")}),
    # -- chat: tools and formats ----------------------------------------------
    "Tool": _obj({"type": _const("function"), "function": _obj({
        "name": _str("Function name."),
        "description": _str("What the function does."),
        "parameters": {"type": "object", "description": "JSON Schema of the arguments.",
                       "additionalProperties": True},
        "strict": _bool("Follow the schema exactly."),
    }, "name")}, "type", "function"),
    "ToolChoice": _one_of(
        _enum("none", "auto", "required"),
        _obj({"type": _const("function"), "function": _obj({"name": _str()}, "name")},
             "type", "function"),
        description="`none`, `auto`, `required`, or a named function to call."),
    "ResponseFormat": _one_of(
        _obj({"type": _const("text")}, "type"),
        _obj({"type": _const("json_object")}, "type"),
        _obj({"type": _const("json_schema"), "json_schema": _obj({
            "name": _str(), "description": _str(),
            "schema": {"type": "object", "additionalProperties": True},
            "strict": _nullable({"type": "boolean"}),
        }, "name")}, "type", "json_schema")),
    # -- chat: request and replies --------------------------------------------
    "ChatCompletionRequest": _obj({
        "model": _MODEL_FIELD,
        "messages": _arr(_ref("ChatMessage"), minItems=1),
        "temperature": _TEMPERATURE,
        "top_p": _TOP_P,
        "max_tokens": _int("Most tokens to generate (older name).", minimum=1),
        "max_completion_tokens": _int("Most tokens to generate.", minimum=1),
        "n": _N,
        "stop": _ref("Stop"),
        "stream": _STREAM,
        "stream_options": _ref("StreamOptions"),
        "tools": _arr(_ref("Tool")),
        "tool_choice": _ref("ToolChoice"),
        "parallel_tool_calls": _bool("Allow several tool calls in one turn."),
        "response_format": _ref("ResponseFormat"),
        "seed": _SEED,
        "user": _USER,
        "presence_penalty": _num(minimum=-2, maximum=2),
        "frequency_penalty": _num(minimum=-2, maximum=2),
        "logit_bias": {"type": "object", "additionalProperties": _num(),
                       "description": "Token id -> bias (-100..100)."},
        "logprobs": _bool("Return log probabilities of the output tokens."),
        "top_logprobs": _int(minimum=0, maximum=20),
    }, "messages", extra=True,
        description="OpenAI chat completions request. Unknown fields are passed through "
                    "to the provider."),
    "TokenLogprob": _obj({
        "token": _str(), "logprob": _num(), "bytes": _nullable(_arr(_int())),
        "top_logprobs": _arr(_obj({"token": _str(), "logprob": _num(),
                                   "bytes": _nullable(_arr(_int()))}, extra=True)),
    }, "token", "logprob", extra=True),
    "ChatLogprobs": _nullable(_obj({
        "content": _nullable(_arr(_ref("TokenLogprob"))),
        "refusal": _nullable(_arr(_ref("TokenLogprob"))),
    }, extra=True)),
    "ChatCompletion": _obj({
        "id": _str(), "object": _const("chat.completion"), "created": _CREATED,
        "model": _str(), "system_fingerprint": _nullable(_str()),
        "choices": _arr(_obj({
            "index": _int(),
            "message": _obj({
                "role": _const("assistant"),
                "content": _nullable(_str()),
                "refusal": _nullable(_str()),
                "tool_calls": _arr(_ref("ToolCall")),
            }, "role", "content", extra=True),
            "logprobs": _ref("ChatLogprobs"),
            "finish_reason": _ref("FinishReason"),
        }, "index", "message", "finish_reason", extra=True)),
        "usage": _ref("Usage"),
    }, "id", "object", "created", "model", "choices", extra=True),
    "ChatCompletionChunk": _obj({
        "id": _str(), "object": _const("chat.completion.chunk"), "created": _CREATED,
        "model": _str(), "system_fingerprint": _nullable(_str()),
        "choices": _arr(_obj({
            "index": _int(),
            "delta": _obj({
                "role": _enum("assistant"),
                "content": _nullable(_str()),
                "refusal": _nullable(_str()),
                "tool_calls": _arr(_obj({
                    "index": _int(), "id": _str(), "type": _const("function"),
                    "function": _obj({"name": _str(), "arguments": _str(
                        "A fragment of the JSON-encoded arguments.")}),
                }, "index")),
            }, extra=True),
            "logprobs": _ref("ChatLogprobs"),
            "finish_reason": _ref("FinishReason"),
        }, "index", "delta", extra=True)),
        "usage": _nullable(_ref("Usage")),
    }, "id", "object", "created", "model", "choices", extra=True,
        description="One streamed piece; the last chunk carries `usage` when "
                    "`stream_options.include_usage` is true (with empty `choices`)."),
    # -- legacy completions ---------------------------------------------------
    "CompletionRequest": _obj({
        "model": _MODEL_FIELD,
        "prompt": _any_of(*_TEXT_OR_TOKENS, description="Text, texts, tokens, or token lists."),
        "max_tokens": _int(minimum=0),
        "temperature": _TEMPERATURE,
        "top_p": _TOP_P,
        "n": _N,
        "stream": _STREAM,
        "stream_options": _ref("StreamOptions"),
        "stop": _ref("Stop"),
        "echo": _bool("Echo the prompt before the completion."),
        "suffix": _nullable(_str("Text after the completion.")),
        "seed": _SEED,
        "logprobs": _nullable(_int("Include log probabilities of the most likely tokens.",
                                   minimum=0, maximum=5)),
        "best_of": _int(minimum=1),
        "user": _USER,
    }, "prompt", extra=True,
        description="Legacy completions request. Unknown fields are passed through "
                    "to the provider."),
    "Completion": _obj({
        "id": _str(), "object": _const("text_completion"), "created": _CREATED,
        "model": _str(), "system_fingerprint": _nullable(_str()),
        "choices": _arr(_obj({
            "text": _str(), "index": _int(),
            "logprobs": _nullable(_obj({
                "tokens": _arr(_str()), "token_logprobs": _arr(_num()),
                "top_logprobs": _arr({"type": "object", "additionalProperties": _num()}),
                "text_offset": _arr(_int()),
            }, extra=True)),
            "finish_reason": _ref("FinishReason"),
        }, "text", "index", "finish_reason", extra=True)),
        "usage": _nullable(_ref("Usage")),
    }, "id", "object", "created", "model", "choices", extra=True,
        description="A completion, or (streamed) one piece of it."),
    # -- embeddings -----------------------------------------------------------
    "EmbeddingRequest": _obj({
        "model": _MODEL_FIELD,
        "input": _any_of(*_TEXT_OR_TOKENS, description="Text, texts, tokens, or token lists."),
        "encoding_format": _enum("float", "base64", description="Default `float`."),
        "dimensions": _int("Size of the output vectors, where the model supports it.",
                           minimum=1),
        "user": _USER,
    }, "input", extra=True),
    "EmbeddingList": _obj({
        "object": _const("list"),
        "data": _arr(_obj({
            "object": _const("embedding"),
            "index": _int(),
            "embedding": _one_of(_arr(_num()), _str("Base64 of little-endian float32s.")),
        }, "object", "index", "embedding")),
        "model": _str(),
        "usage": _obj({"prompt_tokens": _int(), "total_tokens": _int()},
                      "prompt_tokens", "total_tokens", extra=True),
    }, "object", "data", "model", "usage", extra=True),
    # -- anthropic: content blocks --------------------------------------------
    "AnthropicTextBlock": _typed("text", {"text": _str()}, "text"),
    "AnthropicImageBlock": _typed("image", {"source": _one_of(
        _typed("base64", {
            "media_type": _str("`image/jpeg`, `image/png`, `image/gif` or `image/webp`."),
            "data": _str("Base64 image data."),
        }, "media_type", "data"),
        _typed("url", {"url": _str("An `https:` image URL.")}, "url"))}, "source"),
    "AnthropicToolUseBlock": _typed("tool_use", {
        "id": _str("Tool call id.", examples=["toolu_01A09q90qw90lq917835lq9"]),
        "name": _str("Tool name."),
        "input": {"type": "object", "description": "The tool's arguments.",
                  "additionalProperties": True},
    }, "id", "name", "input"),
    "AnthropicToolResultBlock": _typed("tool_result", {
        "tool_use_id": _str("The `tool_use` block this answers."),
        "content": _one_of(_str(), _arr(_tagged("type", {
            "text": "AnthropicTextBlock", "image": "AnthropicImageBlock"}))),
        "is_error": _bool("The tool failed (dropped when translated)."),
    }, "tool_use_id"),
    "AnthropicThinkingBlock": _typed("thinking", {"thinking": _str(), "signature": _str()},
                                     "thinking", description="Dropped when translated."),
    "AnthropicRedactedThinkingBlock": _typed("redacted_thinking", {"data": _str()}, "data",
                                             description="Dropped when translated."),
    "AnthropicContentBlock": _tagged("type", {
        "text": "AnthropicTextBlock", "image": "AnthropicImageBlock",
        "tool_use": "AnthropicToolUseBlock", "tool_result": "AnthropicToolResultBlock",
        "thinking": "AnthropicThinkingBlock",
        "redacted_thinking": "AnthropicRedactedThinkingBlock"}),
    "AnthropicResponseBlock": _tagged("type", {
        "text": "AnthropicTextBlock", "tool_use": "AnthropicToolUseBlock"}),
    # -- anthropic: requests --------------------------------------------------
    "AnthropicMessageParam": _obj({
        "role": _enum("user", "assistant"),
        "content": _one_of(_str(), _arr(_ref("AnthropicContentBlock"))),
    }, "role", "content", extra=True),
    "AnthropicTool": _obj({
        "name": _str("Tool name."),
        "description": _str("What the tool does."),
        "input_schema": {"type": "object", "description": "JSON Schema of the tool's input.",
                         "additionalProperties": True},
    }, "name", extra=True),
    "AnthropicToolChoice": _obj({
        "type": _enum("auto", "any", "none", "tool",
                      description="`auto`: the model decides; `any`: it must call some "
                                  "tool; `none`: no tool; `tool`: it must call `name`."),
        "name": _str("The tool to call, with type `tool`."),
        "disable_parallel_tool_use": _bool("Call at most one tool."),
    }, "type", extra=True),
    "AnthropicMessagesRequest": _anthropic_request(
        "Anthropic Messages request. Unknown fields are passed through to the provider.",
        max_tokens=_int("Most tokens to generate. Anthropic-type providers require it "
                        "(a client's `max_tokens` setting fills it in when absent).",
                        minimum=1),
        stream=_STREAM),
    "AnthropicCountTokensRequest": _anthropic_request(
        "Anthropic token counting request: a Messages request without `max_tokens` and "
        "`stream`."),
    # -- anthropic: replies ---------------------------------------------------
    "AnthropicStopReason": _nullable(_enum("end_turn", "max_tokens", "stop_sequence",
                                           "tool_use", "pause_turn", "refusal")),
    "AnthropicUsage": _obj({
        "input_tokens": _int(), "output_tokens": _int(),
        "cache_creation_input_tokens": _nullable(_int()),
        "cache_read_input_tokens": _nullable(_int()),
    }, "input_tokens", "output_tokens", extra=True),
    "AnthropicMessage": _obj({
        "id": _str(examples=["msg_013Zva2CMHLNnXjNJJKqJ2EF"]),
        "type": _const("message"),
        "role": _const("assistant"),
        "model": _str(),
        "content": _arr(_ref("AnthropicResponseBlock")),
        "stop_reason": _ref("AnthropicStopReason"),
        "stop_sequence": _STOP_SEQUENCE,
        "usage": _ref("AnthropicUsage"),
    }, "id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage",
        extra=True),
    "AnthropicStreamEvent": _one_of(
        _typed("message_start", {"message": _ref("AnthropicMessage")}, "message",
               description="The message, with empty `content` and no `stop_reason` yet."),
        _typed("ping", {}, description="Keep-alive; may be absent or repeated."),
        _typed("content_block_start", {
            "index": _INDEX, "content_block": _ref("AnthropicResponseBlock")},
            "index", "content_block"),
        _typed("content_block_delta", {"index": _INDEX, "delta": _one_of(
            _typed("text_delta", {"text": _str()}, "text"),
            _typed("input_json_delta", {"partial_json": _str(
                "A fragment of the tool call's JSON-encoded input.")}, "partial_json"))},
            "index", "delta"),
        _typed("content_block_stop", {"index": _INDEX}, "index"),
        _typed("message_delta", {
            "delta": _obj({"stop_reason": _ref("AnthropicStopReason"),
                           "stop_sequence": _STOP_SEQUENCE}, extra=True),
            "usage": _obj({"output_tokens": _int("Output tokens so far (cumulative).")},
                          "output_tokens", extra=True),
        }, "delta", "usage"),
        _typed("message_stop", {}),
        _ref("AnthropicErrorResponse"),
        description="One streamed event; its `type` is also the SSE event name."),
    "AnthropicTokenCount": _obj({
        "input_tokens": _int("Input tokens of the request: exact for Anthropic-type "
                             "providers, else an estimate.", minimum=0),
    }, "input_tokens", extra=True),
}

# ---------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------

_ANTHROPIC_FORMAT = ("A request carrying an `anthropic-version` header (Anthropic's SDKs "
                     "send one) gets Anthropic's format instead: {}.")

_NOT_ANTHROPIC = ("Models of Anthropic-type providers are not served here: they answer 400 "
                  "(use `/v1/chat/completions` or `/v1/messages`).")


def _paths() -> Schema:
    return {
        "/health": {"get": _op(
            "getHealth", "health", "Liveness check",
            "Answers as long as the server runs; needs no key.",
            _json_ok("The server is up.", _ref("Health")), public=True)},
        "/api-docs": {"get": _op(
            "getApiDocs", "docs", "API documentation (Swagger UI)",
            "An HTML page rendering this document.",
            _ok("Swagger UI.", {"text/html": {"schema": _str()}}), public=True)},
        "/api-docs.json": {"get": _op(
            "getOpenApiSpec", "docs", "This OpenAPI document",
            "The OpenAPI 3.1 description of the API, as JSON.",
            _json_ok("The document.", {"type": "object"}), public=True)},
        "/v1/models": {"get": _v1_op(
            "listModels", "models", "List models",
            "Every model of every configured provider the client may use, in OpenAI's "
            "list shape with Gatehouse's extra fields. Optionally filtered by provider "
            "type and paged with `limit`/`offset`. " + _ANTHROPIC_FORMAT.format(
                '`{"data": [{"type": "model", "id", "display_name", "created_at"}], '
                '"has_more", "first_id", "last_id"}` (`AnthropicModelList`)'),
            _json_ok("The models, in OpenAI's or (with `anthropic-version`) Anthropic's "
                     "format.", _one_of(_ref("ModelList"), _ref("AnthropicModelList"))),
            parameters=("ProviderType", "ProviderTypeAlias", "Limit", "Offset",
                        "AnthropicVersion"),
            errors=(400, 401, 500, 502, 504))},
        "/v1/models/{model_id}": {"get": _v1_op(
            "getModel", "models", "Get a model",
            "One model by its `provider-id:model-id` id. " + _ANTHROPIC_FORMAT.format(
                "the single `AnthropicModel` object"),
            _json_ok("The model, in OpenAI's or (with `anthropic-version`) Anthropic's "
                     "format.", _one_of(_ref("Model"), _ref("AnthropicModel"))),
            parameters=("ModelId", "AnthropicVersion"),
            errors=(400, 401, 404, 500, 502, 504))},
        "/v1/chat/completions": {"post": _v1_op(
            "createChatCompletion", "openai", "Create a chat completion",
            "OpenAI-compatible chat completions, routed to the model's provider. "
            "With `stream: true` the answer is `text/event-stream`: each event is a "
            "`data: {...}` line holding a `ChatCompletionChunk` followed by a blank "
            "line, and the stream ends with `data: [DONE]`.\n\n"
            "Models of Anthropic-type providers are reached through translation to "
            "Anthropic's Messages API and back, streamed or not: system and developer "
            "messages become `system`, tool messages `tool_result` blocks; `max_tokens` "
            "defaults to 4096 (Anthropic requires it), `temperature` is capped at 1, `n` "
            "must be 1, and fields with no Anthropic counterpart (e.g. `logprobs`, `seed`, "
            "`response_format`) are dropped.",
            _json_or_sse_ok("The completion (JSON), or a stream of chunks (SSE).",
                            "ChatCompletion", _openai_events("ChatCompletionChunk")),
            body=_json_body(_ref("ChatCompletionRequest")), errors=_ALL_ERRORS)},
        "/v1/completions": {"post": _v1_op(
            "createCompletion", "openai", "Create a completion (legacy)",
            "OpenAI-compatible legacy text completions. With `stream: true` the answer "
            "is `text/event-stream` of `data: {...}` lines, each a `Completion` piece, "
            "ending with `data: [DONE]`. " + _NOT_ANTHROPIC,
            _json_or_sse_ok("The completion (JSON), or a stream of pieces (SSE).",
                            "Completion", _openai_events("Completion")),
            body=_json_body(_ref("CompletionRequest")), errors=_ALL_ERRORS)},
        "/v1/embeddings": {"post": _v1_op(
            "createEmbeddings", "openai", "Create embeddings",
            "OpenAI-compatible embeddings for one or more inputs. " + _NOT_ANTHROPIC,
            _json_ok("The embeddings.", _ref("EmbeddingList")),
            body=_json_body(_ref("EmbeddingRequest")), errors=_ALL_ERRORS)},
        **_anthropic_ops(
            "/v1/messages", "createMessage", "Create a message",
            "Anthropic-compatible Messages API, routed to the model's provider. An "
            "Anthropic-type provider answers directly (the `anthropic-version` and "
            "`anthropic-beta` headers are forwarded to it); any other provider gets the "
            "request translated to OpenAI chat completions and its answer translated "
            "back, streamed or not (`thinking`/`redacted_thinking` blocks, `top_k` and a "
            "tool result's `is_error` are dropped on the way). The client's settings "
            "apply: default model, system prompt (put before `system`), sampling defaults "
            "and `max_tokens`.\n\n"
            "With `stream: true` the answer is `text/event-stream`, each frame "
            "`event: NAME\\ndata: {json}` followed by a blank line, in Anthropic's order: "
            "`message_start` (the message, with empty `content`), `ping`, then per "
            "content block `content_block_start` → `content_block_delta` (a `text_delta` "
            "with `text`, or an `input_json_delta` whose `partial_json` is a fragment of a "
            "tool call's input) → `content_block_stop`, then `message_delta` "
            "(`stop_reason`, cumulative `usage.output_tokens`) and `message_stop`. If the "
            "provider fails mid-stream, an `error` event (`AnthropicErrorResponse`) ends "
            "the stream. When translated, `message_start` carries an estimate of "
            "`usage.input_tokens` (see count_tokens).",
            _json_or_sse_ok("The message (JSON), or a stream of events (SSE).",
                            "AnthropicMessage", _ANTHROPIC_EVENTS),
            _json_body(_ref("AnthropicMessagesRequest"))),
        **_anthropic_ops(
            "/v1/messages/count_tokens", "countMessageTokens", "Count a message's tokens",
            "The input tokens a Messages request would use. Exact when the model's "
            "provider is Anthropic-type (it is asked, with the `anthropic-version` and "
            "`anthropic-beta` headers forwarded); otherwise an estimate: one token per 4 "
            "bytes of the JSON of `system`, `messages` and `tools`, plus 3 per message.",
            _json_ok("The token count.", _ref("AnthropicTokenCount")),
            _json_body(_ref("AnthropicCountTokensRequest"))),
    }


def _error_components() -> Schema:
    """Every dialect's error responses, named `<prefix><name>`."""
    return {
        dialect.prefix + name: {
            "description": description,
            "headers": _REQUEST_ID_HEADER,
            "content": {"application/json": {
                "schema": _ref(dialect.schema),
                "example": ApiError(status, message).body(dialect.name),
            }},
        }
        for dialect in _DIALECTS.values()
        for status in dialect.statuses
        for name, description, message in [_ERRORS[status]]
    }


_DESCRIPTION = """\
One local endpoint for every model. Gatehouse forwards OpenAI-compatible and \
Anthropic-compatible requests to the configured providers (OpenAI-compatible \
servers, Anthropic, Ollama, ...), translating between the two APIs where the \
provider speaks the other one.

**Model ids** are `provider-id:model-id`, e.g. `openai:gpt-4o-mini` or \
`ollama:llama3:8b`. An unprefixed id works when exactly one provider offers it; \
`default` (or no model) uses the client's default model.

**Authentication**: send the key as `Authorization: Bearer <key>` or \
`X-API-Key: <key>` (the `x-api-key` header of Anthropic's SDKs). With the server \
key, `X-Client-Id` names the client whose settings apply.

Errors use the shape of the endpoint's API: OpenAI's \
`{"error": {"message", "type", "param", "code"}}`, or on `/v1/messages` Anthropic's \
`{"type": "error", "error": {"type", "message"}}`. Every response carries an \
`x-request-id` header."""


def build_spec(version: str) -> dict:
    """The OpenAPI 3.1 document for Gatehouse `version`, as a plain dict."""
    return copy.deepcopy({
        "openapi": "3.1.0",
        "info": {
            "title": "Gatehouse",
            "version": version,
            "description": _DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "tags": [
            {"name": "health", "description": "Liveness."},
            {"name": "models", "description": "The models behind the gateway."},
            {"name": "openai", "description": "OpenAI-compatible endpoints."},
            {"name": "anthropic", "description": "Anthropic Messages API; any provider, "
                                                 "translated when it speaks OpenAI's API."},
            {"name": "docs", "description": "This documentation."},
        ],
        "security": [{"bearerAuth": []}, {"apiKeyHeader": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "`Authorization: Bearer <key>`."},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                 "description": "`X-API-Key: <key>` (Anthropic's SDKs "
                                                "send it as `x-api-key`)."},
            },
            "headers": {"RequestId": {
                "description": "The request's id: the `X-Request-Id` sent, or a new one.",
                "schema": _str(),
            }},
            "parameters": _PARAMETERS,
            "responses": _error_components(),
            "schemas": _SCHEMAS,
        },
    })
