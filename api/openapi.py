"""The OpenAPI 3.1 description of Gatehouse's public HTTP API.

`build_spec(version)` returns the document as a plain, JSON-serialisable dict;
it is served at `/api-docs.json` and rendered by Swagger UI at `/api-docs`.

The document is data: reusable schemas live in `_SCHEMAS`, shared parameters
in `_PARAMETERS`, error answers in `_ERRORS`, and `_paths()` wires them into
operations. The small helpers below only save repetition.
"""

from __future__ import annotations

import copy
from typing import Any

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


def _json_or_sse_ok(description: str, body: str, chunk: str) -> Schema:
    """A 200 answered as JSON `body`, or as an SSE stream of `chunk` when `stream` is true."""
    return _ok(description, {
        "application/json": {"schema": _ref(body)},
        "text/event-stream": {"schema": _str(
            f"Server-sent events, sent when `stream` is true. Each event is a line "
            f"`data: <JSON>` holding one `{chunk}` object, followed by a blank line. "
            "The stream ends with the line `data: [DONE]`. An error after the stream "
            "has started arrives as a `data:` line holding an `ErrorResponse` object.",
            examples=[f"data: {{...{chunk}...}}\n\ndata: [DONE]\n\n"])},
    })


def _error_responses(*statuses: int) -> Schema:
    """References to the shared error responses for `statuses`."""
    return {str(s): _ref(_ERRORS[s][0], "responses") for s in statuses}


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
           **kwargs: Any) -> Schema:
    """An authenticated /v1 operation: client/request-id headers and OpenAI-style errors."""
    op = _op(*args, parameters=(*parameters, *_V1_HEADERS), **kwargs)
    op["responses"] = {**op["responses"], **_error_responses(*errors)}
    return op


# ---------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------

_REQUEST_ID_HEADER = {"x-request-id": _ref("RequestId", "headers")}

_V1_HEADERS = ("XClientId", "ClientHeader", "XRequestId")

# status -> (component name, description, example error type, example message)
_ERRORS: dict[int, tuple[str, str, str, str]] = {
    400: ("BadRequest",
          "The request is invalid: malformed JSON, a missing or invalid parameter, "
          "or an ambiguous model id (one that more than one provider offers; "
          "prefix it with the provider id).",
          "invalid_request_error", "Missing required parameter: 'messages'."),
    401: ("Unauthorized", "The API key is missing or wrong.",
          "invalid_request_error", "Incorrect API key provided."),
    404: ("NotFound", "The model is unknown to every configured provider.",
          "invalid_request_error", "The model 'openai:gpt-unknown' does not exist."),
    413: ("PayloadTooLarge",
          "The request body is larger than `server.max_body_bytes` (10 MiB by default).",
          "invalid_request_error", "Request body too large."),
    429: ("RateLimited", "The provider is rate limiting; its answer is passed on.",
          "rate_limit_error", "Rate limit reached."),
    500: ("InternalError", "Something went wrong inside the gateway.",
          "server_error", "Internal server error."),
    502: ("BadGateway",
          "The provider could not be reached or sent a broken reply; the message "
          "names the provider id.",
          "upstream_error", "Provider 'ollama' is unreachable."),
    504: ("GatewayTimeout", "The provider did not answer in time.",
          "upstream_timeout", "Provider 'openai' timed out."),
}

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

_MODEL_FIELD = _str("Model id, `provider-id:model-id`. Omitted or `default` uses the "
                    "client's default model.", examples=["openai:gpt-4o-mini"])
_USER = _str("An end-user id, passed on to the provider.")
_SEED = _int("Seed for best-effort deterministic sampling.")
_TEMPERATURE = _num("Sampling temperature.", minimum=0, maximum=2)
_TOP_P = _num("Nucleus sampling probability mass.", minimum=0, maximum=1)
_N = _int("How many choices to generate.", minimum=1)
_STREAM = _bool("Answer as server-sent events (`text/event-stream`).")
_CREATED = _int("Unix time (seconds) the object was created.")

# A prompt or embedding input: text, texts, tokens, or token lists (anyOf: `[]` fits all).
_TEXT_OR_TOKENS = [
    _str(), _arr(_str()), _arr(_int()), _arr(_arr(_int())),
]


def _chat_message(role: str, content: Schema, *required: str, **extra: Schema) -> Schema:
    return _obj({"role": _const(role), "content": content,
                 "name": _str("Optional name of the participant."), **extra},
                "role", *required, extra=True)


_SCHEMAS: Schema = {
    # -- errors and health ----------------------------------------------------
    "ErrorResponse": _obj({"error": _obj({
        "message": _str("Human-readable description."),
        "type": _str("Error category, e.g. `invalid_request_error`."),
        "param": _nullable(_str("The offending parameter, if any.")),
        "code": _nullable(_str("Machine-readable code, if any.")),
    }, "message", "type", "param", "code")}, "error"),
    "Health": _obj({
        "status": _const("ok"),
        "version": _str("Gatehouse version."),
        "uptime_s": _num("Seconds since the server started."),
    }, "status", "version", "uptime_s"),
    # -- models ---------------------------------------------------------------
    "ProviderType": _enum("openai", "ollama", description="Kind of provider."),
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
    "ContentPart": _one_of(_ref("TextPart"), _ref("ImageUrlPart"), discriminator={
        "propertyName": "type",
        "mapping": {"text": "#/components/schemas/TextPart",
                    "image_url": "#/components/schemas/ImageUrlPart"}}),
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
    "ChatMessage": _one_of(
        *(_ref(f"{r}Message") for r in ("System", "Developer", "User", "Assistant", "Tool")),
        discriminator={"propertyName": "role", "mapping": {
            r.lower(): f"#/components/schemas/{r}Message"
            for r in ("System", "Developer", "User", "Assistant", "Tool")}}),
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
}

# ---------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------

_ALL_ERRORS = (400, 401, 404, 413, 429, 500, 502, 504)


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
            "type and paged with `limit`/`offset`.",
            _json_ok("The models.", _ref("ModelList")),
            parameters=("ProviderType", "ProviderTypeAlias", "Limit", "Offset"),
            errors=(400, 401, 500, 502, 504))},
        "/v1/models/{model_id}": {"get": _v1_op(
            "getModel", "models", "Get a model",
            "One model by its `provider-id:model-id` id.",
            _json_ok("The model.", _ref("Model")),
            parameters=("ModelId",), errors=(400, 401, 404, 500, 502, 504))},
        "/v1/chat/completions": {"post": _v1_op(
            "createChatCompletion", "openai", "Create a chat completion",
            "OpenAI-compatible chat completions, routed to the model's provider. "
            "With `stream: true` the answer is `text/event-stream`: each event is a "
            "`data: {...}` line holding a `ChatCompletionChunk` followed by a blank "
            "line, and the stream ends with `data: [DONE]`.",
            _json_or_sse_ok("The completion (JSON), or a stream of chunks (SSE).",
                            "ChatCompletion", "ChatCompletionChunk"),
            body=_json_body(_ref("ChatCompletionRequest")), errors=_ALL_ERRORS)},
        "/v1/completions": {"post": _v1_op(
            "createCompletion", "openai", "Create a completion (legacy)",
            "OpenAI-compatible legacy text completions. With `stream: true` the answer "
            "is `text/event-stream` of `data: {...}` lines, each a `Completion` piece, "
            "ending with `data: [DONE]`.",
            _json_or_sse_ok("The completion (JSON), or a stream of pieces (SSE).",
                            "Completion", "Completion"),
            body=_json_body(_ref("CompletionRequest")), errors=_ALL_ERRORS)},
        "/v1/embeddings": {"post": _v1_op(
            "createEmbeddings", "openai", "Create embeddings",
            "OpenAI-compatible embeddings for one or more inputs.",
            _json_ok("The embeddings.", _ref("EmbeddingList")),
            body=_json_body(_ref("EmbeddingRequest")), errors=_ALL_ERRORS)},
    }


def _error_components() -> Schema:
    return {
        name: {
            "description": description,
            "headers": _REQUEST_ID_HEADER,
            "content": {"application/json": {
                "schema": _ref("ErrorResponse"),
                "example": {"error": {"message": message, "type": type_,
                                      "param": None, "code": None}},
            }},
        }
        for name, description, type_, message in _ERRORS.values()
    }


_DESCRIPTION = """\
One local endpoint for every model. Gatehouse forwards OpenAI-compatible requests \
to the configured providers (OpenAI-compatible servers, Ollama, ...).

**Model ids** are `provider-id:model-id`, e.g. `openai:gpt-4o-mini` or \
`ollama:llama3:8b`. An unprefixed id works when exactly one provider offers it; \
`default` (or no model) uses the client's default model.

**Authentication**: send the key as `Authorization: Bearer <key>` or \
`X-API-Key: <key>`. With the server key, `X-Client-Id` names the client whose \
settings apply.

Errors use OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`. \
Every response carries an `x-request-id` header."""


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
            {"name": "docs", "description": "This documentation."},
        ],
        "security": [{"bearerAuth": []}, {"apiKeyHeader": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "`Authorization: Bearer <key>`."},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                 "description": "`X-API-Key: <key>`."},
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
