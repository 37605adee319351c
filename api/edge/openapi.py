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

from api.config.settings import PROVIDER_TYPES, ROUTE_STRATEGIES
from api.edge.body import LARGEST_INT
from api.edge.routes.admin import EARLIEST_S, LATEST_S, PAGE_MAX
from api.wire.errors import ApiError, Dialect

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


def _fixed(properties: Schema, **more: Any) -> Schema:
    """An object whose properties are all always present (`more` as for `_obj`)."""
    return _obj(properties, *properties, **more)


def _arr(items: Schema, **more: Any) -> Schema:
    return {"type": "array", "items": items, **more}


def _map(values: Schema, description: str) -> Schema:
    """An object of any keys, each holding `values`."""
    return {"type": "object", "description": description, "additionalProperties": values}


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


def _sse(description: str, example: str) -> Schema:
    """A `text/event-stream` body as its events (`event`, `data`, ...), the way readers of the document
    (schemathesis, generators) parse it; `description` tells what `data` holds, `example` shows a stream."""
    return {"type": "object", "description": f"{description}\n\nFor example:\n\n```\n{example}```",
            "properties": {"event": _str("The event's name, where the stream names its events."),
                           "data": _str("The event's data (JSON, unless said otherwise)."),
                           "id": _str(), "retry": _int(minimum=0)}}


def _json_or_sse_ok(description: str, body: str, events: tuple[str, str]) -> Schema:
    """A 200 answered as JSON `body`, or as server-sent events when `stream` is true;
    `events` is (how the events look, an example stream)."""
    framing, example = events
    return _ok(description, {
        "application/json": {"schema": _ref(body)},
        "text/event-stream": {"schema": _sse(f"Server-sent events, sent when `stream` is true. {framing}",
                                             example)},
    })


def _openai_events(chunk: str) -> tuple[str, str]:
    """OpenAI's stream framing, each event one `chunk` object (for `_json_or_sse_ok`)."""
    return ((f"Each event is a line `data: <JSON>` holding one `{chunk}` object, followed by "
             "a blank line. The stream ends with the line `data: [DONE]`. An error after the "
             "stream has started arrives as a `data:` line holding an `ErrorResponse` object."),
            f"data: {{...{chunk}...}}\n\ndata: [DONE]\n\n")


def _error_responses(*statuses: int, dialect: str = "openai") -> Schema:
    """References to the shared error responses for `statuses`, in `dialect`'s shape."""
    prefix = _EITHER_PREFIX if dialect == "either" else _DIALECTS[dialect].prefix
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


def _admin_op(op_id: str, summary: str, description: str, responses: Schema, *,
              errors: tuple[int, ...] = (), parameters: tuple[str, ...] = ()) -> Schema:
    """A /admin operation (server key only): its errors, with 401, 403 and 500, in OpenAI's
    shape, the admin API's own (`_ADMIN_ERRORS`) where they differ from the shared ones."""
    statuses = sorted({*errors, 401, 403, 500})
    return _op(op_id, "admin", summary, description, {**responses, **{
        str(s): _ref((_ADMIN_ERRORS.get(s) or _ERRORS[s])[0], "responses") for s in statuses}},
        parameters=parameters)


def _query(name: str, schema: Schema, description: str) -> Schema:
    """An optional query parameter."""
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


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
    429: ("RateLimited", ("A limit of the client's refused the request (`[clients.NAME]` `rpm`, `tpm`, "
                          "`max_concurrent`, `budget`: `retry-after`, `retry-after-ms` and the dialect's "
                          "rate-limit headers say when to try again; a spent budget also says "
                          "`x-should-retry: false`), or the provider is rate limiting and its answer is passed on."),
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
    """How errors look in one API dialect (bodies come from api.wire.errors, as the server sends them)."""

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
_EITHER_PREFIX = "OpenAIOrAnthropic"
"""Of the error responses of the endpoints both dialects share (`/v1/models`): OpenAI's shape, or Anthropic's when
asked with `anthropic-version` (`dialect="either"`)."""
_ALL_ERRORS = _DIALECTS["openai"].statuses
_ALL_ANTHROPIC_ERRORS = _DIALECTS["anthropic"].statuses

# The admin API's own error responses (OpenAI's shape), for the statuses where they differ
# from the shared ones: status -> (component name, description, example error).
_ADMIN_ERRORS: dict[int, tuple[str, str, ApiError]] = {
    400: ("AdminBadQuery",
          ("A query parameter is invalid: `status`, `since_id`, `before_id` or `limit` is "
           "not a non-negative integer (`status` may also be `ok` or `error`), or `since` / "
           "`until` is neither epoch seconds nor ISO 8601. `param` names it."),
          ApiError(400, "Invalid value for 'limit': expected a non-negative integer.",
                   param="limit")),
    404: ("ProviderNotFound", "No provider with this id in the config. `code` is `provider_not_found`.",
          ApiError(404, "No provider 'nope' in the config.", code="provider_not_found")),
    403: ("ServerKeyRequired",
          ("The key is a client's own: the admin API needs the server key "
           "(`[server].api_key`). `code` is `server_key_required`."),
          ApiError(403, "The admin API needs the server key ([server].api_key); client keys "
                        "cannot use it.", code="server_key_required")),
    503: ("ActivityNotRunning",
          ("Activity recording is not running in the worker that answered (its activity "
           "store is not open, e.g. while the worker starts or stops)."),
          ApiError(503, "Activity recording is not running.")),
}

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
        "schema": _ref("ProviderType"),
        "description": "Only models of this provider type (another value, blank included, answers 400).",
    },
    "ProviderTypeAlias": {
        "name": "providerType", "in": "query", "required": False,
        "schema": _ref("ProviderType"), "description": "Alias of `provider_type`.",
    },
    "Limit": {
        "name": "limit", "in": "query", "required": False, "schema": _int(minimum=0),
        "description": "Return at most this many models (all by default; in Anthropic's format "
                       "20 by default, at most 1000).",
    },
    "ModelAfterId": _query(
        "after_id", _str(),
        "Anthropic's format: the page right after the model with this id (its SDK passes the "
        "previous page's `last_id`). An id not in the list answers 404; a blank one is ignored."),
    "ModelBeforeId": _query(
        "before_id", _str(), "Anthropic's format: the page right before the model with this id; with "
                             "`after_id` too, the first page of the models between the two."),
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
    # -- admin ----------------------------------------------------------------
    "ConfiguredProviderId": {
        "name": "provider_id", "in": "path", "required": True, "schema": _str(),
        "description": "A provider id (`[providers.ID]`).", "example": "openai",
    },
    "Refresh": _query("refresh", _str(examples=["true"]),
                      "`1`, `true` or `yes` (any case): ask the provider again now instead of using the "
                      "cached list; any other value: use the cached list."),
    "CollectionName": {
        "name": "name", "in": "path", "required": True, "schema": _str(),
        "description": "A collection name (`[collections.NAME]`).", "example": "notes",
    },
    "ClientName": {
        "name": "name", "in": "path", "required": True, "schema": _str(),
        "description": "A client name. A name with no `[clients.NAME]` section gets the "
                       "settings of the `server` client, as its requests would.",
        "example": "server",
    },
    "ActivityClient": _query("client", _str(), "Only records of this client."),
    "ActivityModel": _query("model", _str(examples=["openai:gpt-4o-mini"]),
                            "Only records of this model, `provider-id:model-id`."),
    "ActivityProvider": _query("provider", _str(), "Only records served by this provider id."),
    "ActivityStatus": _query(
        "status", _one_of(_int(minimum=0), _enum("ok", "error")),
        "Only records with this HTTP status; `error`: 400 and above, or an error after a 200 (a stream "
        "that ended with an error, a client that left); `ok`: the others."),
    "SinceId": _query(
        "since_id", _int(minimum=0),
        "Only records after this one (a greater `id`). The stream starts after it; "
        "without it, the stream starts from now."),
    "BeforeId": _query(
        "before_id", _int(minimum=0),
        "Only records before this one (a smaller `id`): pass `next_before_id` to get the "
        "next, older page."),
    "ActivityLimit": _query(
        "limit", _int(minimum=0, default=100),
        f"Return at most this many records (0 counts as 1, more than {PAGE_MAX} as {PAGE_MAX})."),
    "ActivitySince": _query("since", _ref("Moment"), "Only records of requests that "
                                                     "arrived at or after this time."),
    "ActivityUntil": _query("until", _ref("Moment"), "Only records of requests that "
                                                     "arrived before this time."),
    "UsageSince": _query("since", _ref("Moment"), "Start of the window (inclusive). "
                                                  "Default: 24 hours before `until`."),
    "UsageUntil": _query("until", _ref("Moment"), "End of the window (exclusive). "
                                                  "Default: now."),
    "Recompute": _query("recompute", _str(examples=["true"]),
                        "`true`: price each request again from its recorded usage by the current prices."),
}

_ACTIVITY_FILTERS = ("ActivityClient", "ActivityModel", "ActivityProvider", "ActivityStatus",
                     "SinceId", "ActivitySince", "ActivityUntil")

# ---------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------



def _model_field(alternative: str = "", example: str = "openai:gpt-4o-mini") -> Schema:
    return _any_of(_str(minLength=1), {"type": "null"},
                   description=f"Model id, `provider-id:model-id`{alternative}. Omitted, null or `default` "
                               "uses the client's default model; an empty string answers 400.",
                   examples=[example])


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
_TOKEN = _int("A token id.", minimum=0, maximum=LARGEST_INT)
_TEXT_OR_TOKENS = [
    _str(), _arr(_str(), minItems=1), _arr(_TOKEN, minItems=1), _arr(_arr(_TOKEN, minItems=1), minItems=1),
]
"""A prompt or embedding input; an empty list is refused."""


def _chat_message(role: str, content: Schema, *required: str, **extra: Schema) -> Schema:
    return _obj({"role": _const(role), "content": content,
                 "name": _str("Optional name of the participant."), **extra},
                "role", *required, extra=True)


def _anthropic_request(description: str, *required: str, **more: Schema) -> Schema:
    """An Anthropic request body: the fields of count_tokens, plus `more` (of which `required`)."""
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
    }, "messages", *required, extra=True, description=description)


_USAGE_SUMS: Schema = {
    "requests": _int("Requests recorded.", minimum=0),
    "errors": _int("Of them, those that failed: status 400 or above, or an error after a 200.", minimum=0),
    "input_tokens": _int("Input tokens, estimates included.", minimum=0),
    "output_tokens": _int("Output tokens, estimates included.", minimum=0),
    "total_tokens": _int("Total tokens, estimates included.", minimum=0),
    "estimated_requests": _int("Requests whose tokens are estimates.", minimum=0),
    "cost": _num("USD by the price table (docs/costs.md), estimates included; requests without a price "
                 "are not in it.", minimum=0),
    "cached_input_tokens": _int("Input tokens read from the provider's prompt cache.", minimum=0),
    "cache_write_tokens": _int("Input tokens written to Anthropic's prompt cache.", minimum=0),
    "unpriced_requests": _int("Requests with tokens whose model has no price: their cost is unknown.", minimum=0),
}
_PRICE: Schema = _obj({
    "input": _num("USD per million input tokens.", minimum=0),
    "output": _num("USD per million output tokens.", minimum=0),
    "cache_read": _num("Per million tokens read from the prompt cache; absent: as input.", minimum=0),
    "cache_write": _num("Per million tokens written to the cache (Anthropic's 5-minute writes); absent: as input.",
                        minimum=0),
    "cache_write_1h": _num("Per million tokens of 1-hour cache writes; absent: as cache_write.", minimum=0),
}, "input", "output")
_CLIENT = _str("Client name.")
_RECORDED_MODEL = _nullable(_str("`provider-id:model-id`; null for requests that reached "
                                 "no model."))
_BY_REQUESTS = "Most requests first."


def _usage_row(**keys: Schema) -> Schema:
    """The sums of the requests with the same `keys` (none: of all)."""
    return _fixed({**keys, **_USAGE_SUMS})


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
    "ProviderType": _enum(*PROVIDER_TYPES, "route",
                          description="Kind of provider; `route` for a route (`route:NAME`: docs/routes.md)."),
    "Model": _obj({
        "id": _str("`provider-id:model-id`, or `route:NAME` for a route.", examples=["openai:gpt-4o-mini"]),
        "object": _const("model"),
        "created": _CREATED,
        "owned_by": _str("Owner of the model."),
        "name": _str("The model id at the provider.", examples=["gpt-4o-mini"]),
        "provider": _str("Provider id (`route` for a route).", examples=["openai"]),
        "provider_type": _ref("ProviderType"),
        "display_name": _str("Anthropic-type providers: the name the provider gives the model.",
                             examples=["Claude Sonnet 4.5"]),
        "size_bytes": _int("Local models: size of the GGUF file."),
        "quantization": _nullable(_str("Local models: the GGUF file type.", examples=["Q4_K_M"])),
        "context_length": _nullable(_int("Local models: the context length the model was trained for.")),
        "n_ctx": _nullable(_int("Local models: the context length in use (`n_ctx`).")),
        "architecture": _nullable(_str("Local models: the GGUF architecture.", examples=["gemma3"])),
        "chat_template": _enum("gguf", "config", "transcript (fallback)",
                               description="Local models: where the chat template comes from."),
        "error": _str("Local models: why the model cannot be used now."),
        "strategy": _str("Routes: how the targets are ordered.", enum=list(ROUTE_STRATEGIES)),
        "targets": _arr(_str("A route's target, `provider-id:model-id`.")),
    }, "id", "object", "created", "owned_by", "name", "provider", "provider_type"),
    "ModelList": _obj({"object": _const("list"), "data": _arr(_ref("Model"))},
                      "object", "data"),
    "AnthropicModel": _obj({
        "type": _const("model"),
        "id": _str("`provider-id:model-id`.", examples=["anthropic:claude-sonnet-4-5"]),
        "display_name": _str("The name its Anthropic-type provider gives it; else its id."),
        "created_at": _str("When the model was created (RFC 3339).", format="date-time"),
        "lifecycle": _str("The model's lifecycle stage; Gatehouse lists only models in use, so `active`.",
                          enum=["active", "deprecated", "retired"]),
    }, "type", "id", "display_name", "created_at", "lifecycle",
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
        "localdocs": _ref("LocalDocsChoice"),
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
    # -- responses API --------------------------------------------------------
    "ResponseInputText": _one_of(_typed("input_text", {"text": _str()}, "text"),
                                 _typed("output_text", {"text": _str()}, "text")),
    "ResponseInputPart": _one_of(
        _ref("ResponseInputText"),
        _typed("refusal", {"refusal": _str()}, "refusal"),
        _typed("input_image", {"image_url": _str("A URL or a data URL (no `file_id`: there is no Files API).",
                                                 minLength=1),
                               "detail": _enum("auto", "low", "high")}, "image_url")),
    "ResponseInputItem": _any_of(
        _obj({"type": _const("message"), "role": _enum("user", "system", "developer"),
              "content": _one_of(_str(), _arr(_ref("ResponseInputPart")))}, "role", "content", extra=True),
        _obj({"type": _const("message"), "role": _const("assistant"),
              "content": _one_of(_str(), _arr(_one_of(_ref("ResponseInputText"), _typed(
                  "refusal", {"refusal": _str()}, "refusal"))))}, "role", "content", extra=True),
        _typed("function_call", {"call_id": _str(), "name": _str(), "arguments": _str(),
                                 "namespace": _str()}, "call_id", "name", "arguments"),
        _typed("custom_tool_call", {"call_id": _str(), "name": _str(), "input": _str(),
                                    "namespace": _str()}, "call_id", "name", "input"),
        *(_typed(kind, {"call_id": _str(), "output": _one_of(_str(), _arr(_ref("ResponseInputText")))},
                 "call_id", "output") for kind in ("function_call_output", "custom_tool_call_output")),
        _typed("reasoning", {"summary": _arr(_typed("summary_text", {"text": _str()}, "text"))}, "summary"),
        description="A message (`type` may be left out), a tool call, a tool call's output, or reasoning."),
    "ResponseRequest": _obj({
        "model": _MODEL_FIELD,
        "localdocs": _ref("LocalDocsChoice"),
        "input": _one_of(_str("One user message."), _arr(
            _ref("ResponseInputItem"), minItems=1,
            description="Input items: messages (`role`, `content` as a string or `input_text`, "
                        "`output_text`, `input_image` (by URL) and `refusal` parts), function and custom "
                        "tool calls, their outputs, and `reasoning` items.")),
        "instructions": _str("Sent as a leading system message."),
        "tools": _arr(_typed("function", {
            "name": _str(), "description": _str(), "strict": _nullable({"type": "boolean"}),
            "parameters": {"type": "object", "additionalProperties": True}}, "name"),
            description="Function tools; a `namespace` tool's functions go as `namespace__name`; other "
                        "tool types (`web_search`, hosted and custom tools) are left out."),
        "tool_choice": _one_of(_enum("auto", "none", "required"), _typed("function", {"name": _str()}, "name")),
        "parallel_tool_calls": _bool("Allow several tool calls in one turn."),
        "max_output_tokens": _int("Most tokens to generate.", minimum=1),
        "temperature": _TEMPERATURE,
        "top_p": _TOP_P,
        "reasoning": _obj({"effort": _str("Sent as `reasoning_effort`.")}, extra=True),
        "text": _obj({"format": {"type": "object", "additionalProperties": True,
                                 "description": "`text`, `json_object` or `json_schema`."}}, extra=True),
        "stream": _STREAM,
        "user": _USER,
        "previous_response_id": _str("Refused (400): Gatehouse stores no responses; send the whole "
                                     "conversation in `input`."),
    }, "input", extra=True,
        description="OpenAI Responses API request, served over Chat Completions. `conversation`, "
                    "`background: true` and `prompt` are refused too; `store`, `include`, `truncation`, "
                    "`service_tier`, `metadata` and `prompt_cache_key` are accepted and ignored. Unknown "
                    "fields are passed through to the provider."),
    "ResponseObject": _obj({
        "id": _str(examples=["resp_4f1c2b8e9d0a7c6b5e4d3c2b"]), "object": _const("response"),
        "created_at": _CREATED,
        "status": _enum("completed", "incomplete", "failed", "in_progress"),
        "incomplete_details": _nullable(_obj({"reason": _enum("max_output_tokens", "content_filter")})),
        "error": _nullable(_obj({"code": _str(), "message": _str()}, extra=True)),
        "model": _str(),
        "output": _arr({"type": "object", "additionalProperties": True,
                        "description": "`reasoning` (with `summary_text`), `message` (with `output_text`) and "
                                       "`function_call` items."}),
        "usage": _nullable(_obj({
            "input_tokens": _int(), "output_tokens": _int(), "total_tokens": _int(),
            "input_tokens_details": _obj({"cached_tokens": _int()}, extra=True),
            "output_tokens_details": _obj({"reasoning_tokens": _int()}, extra=True),
        }, extra=True)),
    }, "id", "object", "created_at", "status", "model", "output", extra=True,
        description="A response; it also repeats the request's settings (`instructions`, `tools`, ...)."),
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
        "Anthropic Messages request. Unknown fields are passed through to the provider.", "max_tokens",
        localdocs=_ref("LocalDocsChoice"),
        max_tokens=_int("Most tokens to generate, required on every route (as Anthropic requires it); a "
                        "client's `max_tokens` setting fills it in when absent, else the answer is 400.",
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
    # -- admin ----------------------------------------------------------------
    "Moment": _any_of(_num("Epoch seconds.", minimum=EARLIEST_S, maximum=LATEST_S),
                      _str("RFC 3339 (ISO 8601 with an offset). Also taken: a date, or a time without an offset "
                           "(the server's local time).", format="date-time"),
                      examples=[1735689600, "2025-01-01T00:00:00Z"],
                      description="A time: epoch seconds or ISO 8601."),
    "AdminStatus": _fixed({
        "version": _str("Gatehouse version."),
        "pid": _int("Pid of the worker that answered; the fields below are its own."),
        "uptime_s": _num("Seconds since the worker started."),
        "workers": _int("Worker processes (`[server].workers`).", minimum=1),
        "workers_restarted": _arr(_fixed({
            "pid": _int("The worker that died."),
            "exit_code": _nullable(_int("Its exit code, when it exited.")),
            "signal": _nullable(_str("The signal that killed it, e.g. `SIGSEGV`, `SIGKILL`.")),
            "at": _str("When the server process replaced it.", format="date-time"),
        }), description="Workers that died since the server started and were replaced (the last 20)."),
        "config_path": _str("The config file."),
        "config_generation": _int("1 for the config the worker started with, +1 for every "
                                  "accepted reload.", minimum=1),
        "last_reload": _nullable(_str("When the last accepted reload happened; null before "
                                      "any.", format="date-time")),
        "last_reload_error": _nullable(_str(
            "Why the last change of the config file was rejected (the previous config "
            "still serves); null once a reload succeeds.")),
        "last_reload_error_at": _nullable(_str("When that change was rejected.",
                                               format="date-time")),
        "activity_recording": _bool("`[activity].enabled`: requests are recorded. When "
                                    "false, the records already stored can still be read."),
        "activity": _fixed({
            "recording": _bool("Whether the answering worker's records reach the activity file now: false "
                               "while it cannot be written (read-only, full). A deleted file is created again "
                               "by itself; records that could not be written are kept (up to 100,000) and "
                               "written once it can be."),
            "problem": _nullable(_str("Why records are not written; while `recording` is true, the last "
                                      "such problem, since resolved; null if there was none.")),
            "since": _nullable(_str("When `recording` or `problem` last changed.", format="date-time")),
            "lost_records": _int("Records dropped for good because more were waiting than are kept, as of "
                                 "the last change.", minimum=0),
        }, description="Whether activity really reaches the activity file."),
        "local_model_crashes": _arr(_fixed({
            "model": _str("`provider:model`."), "embedding": _bool("Its embeddings host."),
            "at": _str("When its model host died.", format="date-time"),
            "how": _str("How it ended, e.g. `was killed by SIGSEGV`."),
            "pid": _nullable(_int("The model host process that died.")),
            "restarts": _int("Crashes in a row; after 5 it is started again only by the next request.", minimum=1),
        }), description="Local model hosts that died since the server started (the last 50); each was restarted."),
        "providers": _arr(_obj({
            "id": _str("Provider id."),
            "type": _ref("ProviderType"),
            "reachable": _nullable(_bool(
                "Whether its last model discovery succeeded and its last request could connect "
                "(a provider whose `models` are configured is never asked for them, so only its "
                "requests tell); null when it has not been asked yet.")),
            "error": _nullable(_str("Why it is not reachable.")),
            "models": _int("How many models it is known to offer (0 before its list is "
                           "learned).", minimum=0),
            "loaded": {"type": "object", "additionalProperties": _int(minimum=1),
                       "description": "`llamacpp` providers: model name → instances loaded in "
                                      "the answering worker's memory (`NAME (embeddings)` for "
                                      "embedding instances)."},
        }, "id", "type", "reachable", "error", "models")),
    }, description="The answering worker's view of the server."),
    # -- localdocs --------------------------------------------------------------
    "LocalDocsSearchRequest": _obj({
        "query": _str("What to search for.", minLength=1),
        "collections": _arr(_str(minLength=1), description="Collections to search; default: the client's own "
                                                           "(with the server key and none of its own: every one)."),
        "top_k": _int("How many chunks to return.", minimum=1, maximum=100, default=10),
    }, "query", extra=True, description="A LocalDocs search. An unknown collection answers 400, one outside a client "
                                        "key's own collections 403."),
    "LocalDocsChoice": _obj({
        "collections": _arr(_str(minLength=1), description="Collections to search instead of the client's own; "
                                                           "`[]` switches LocalDocs off for this request."),
        "top_k": _int("Snippets to add.", minimum=1, maximum=100),
    }, description="Gatehouse's own field, never sent upstream: the LocalDocs collections whose best snippets for "
                   "the last user turn go into the prompt. The answer then holds a top-level `localdocs` object "
                   "(`{\"sources\": [{\"id\", \"collection\", \"path\", \"title\", \"page\", \"text\", "
                   "\"score\"}]}`), or a stream one `localdocs.sources` event before its end."),
    "LocalDocsHit": _fixed({
        "collection": _str(), "path": _str("The file, an absolute path."), "title": _str(),
        "page": _nullable(_int("The PDF page (from 1).")), "text": _str("The chunk's text."),
        "score": _num("Fused rank score (reciprocal rank fusion of BM25 and vector similarity); higher is better."),
        "chunk_id": _int(),
    }),
    "LocalDocsSearchResult": _fixed({"object": _const("list"),
                                     "data": _arr(_ref("LocalDocsHit"), description="Best first.")}),
    "LoadedModel": _obj({
        "model": _str("`provider:model`."), "provider": _str(),
        "embedding": _bool("A local model's embeddings host (a model serving both has two entries)."),
        "pid": _nullable(_int("The model host process holding it; null for Ollama's.")),
        "memory_mb": _nullable(_num("Resident memory of its process (local), or Ollama's size.", minimum=0)),
        "loaded_at": _nullable(_str("When it was loaded.", format="date-time")),
        "state": _enum("loading", "ready", "restarting"),
        "active": _int("Requests running on it now.", minimum=0),
        "requests": _int("Requests it has answered since it was loaded.", minimum=0),
        "tokens_per_s": _nullable(_num("Generation speed of its last answers; null before any.", minimum=0)),
        "pinned": _bool("Kept until unloaded (`keep_alive` negative)."),
        "expires_at": _nullable(_str("When it is unloaded if it stays idle; null while busy or pinned.",
                                     format="date-time")),
        "prompt_progress": _arr(_fixed({"processed": _int(minimum=0), "total": _int(minimum=0)}),
                                description="Its requests still evaluating their prompt: tokens processed so far "
                                            "of the prompt's total (local models; empty for Ollama's)."),
    }, "model", "provider", "pid", "memory_mb", "loaded_at", "state", "active", "requests", "tokens_per_s", "pinned",
        "expires_at"),
    "CollectionStatus": _fixed({
        "name": _str(), "state": _enum("indexing", "ready", "error"),
        "problem": _nullable(_str("Why the collection cannot be indexed (state `error`); it keeps its last index.")),
        "paths": _arr(_str()), "files": _int(minimum=0), "files_indexed": _int(minimum=0),
        "files_total": _nullable(_int("Files the current (or last) scan found; null before the first scan.",
                                      minimum=0)),
        "files_done": _nullable(_int("Files that scan has looked at so far (unchanged ones count): with "
                                     "`files_total`, the progress of an indexing.", minimum=0)),
        "chunks": _int(minimum=0),
        "embedding_model": _nullable(_str("The collection's `embedding_model`, else the built-in embedder's name.")),
        "last_indexed": _nullable(_str("When the last full scan ended.", format="date-time")),
        "errors": _arr(_fixed({"path": _str(), "reason": _str()}), description="Files that could not be indexed."),
    }),
    "ProviderModels": _obj({
        "id": _str("Provider id."),
        "type": _ref("ProviderType"),
        "base_url": _str("The provider's API root."),
        "models_configured": _bool("Its `models` are listed in the config (it is never asked)."),
        "reachable": _bool("Whether its last model discovery succeeded and its last request could "
                           "connect."),
        "error": _nullable(_str("Why it is not reachable.")),
        "models": _arr(_str("A model id, `provider-id:model-id`.")),
        "check": _fixed({
            "answered": _bool("Whether it answered with its model list."),
            "error": _nullable(_str("Why not: it could not be reached, refused the key, or has no "
                                    "model list.")),
            "not_listed": _nullable(_arr(_str("A configured model id it does not list."))),
        }, description="Only with `refresh=true` for a provider whose `models` are configured: it "
                       "was asked for its list all the same."),
    }, "id", "type", "base_url", "models_configured", "reachable", "error", "models",
        description="A provider and the models it serves."),
    "Redacted": _enum("<redacted>", "", description="A secret, never shown: `<redacted>` "
                                                    "when set, empty when not."),
    "EffectiveConfig": _fixed({
        "path": _str("The config file."),
        "server": _obj({
            "host": _str(), "port": _int(), "api_key": _ref("Redacted"), "workers": _int(),
            "data_dir": _str(), "max_body_bytes": _int(), "request_timeout_s": _num(),
            "connect_timeout_s": _num(), "cors_origins": _arr(_str()),
        }, extra=True, description="`[server]`."),
        "providers": _map(_obj({
            "id": _str(), "type": _ref("ProviderType"), "base_url": _str(),
            "api_key": _ref("Redacted"), "api_key_env": _str(),
            "models": _nullable(_arr(_str(), description="Configured models; null: "
                                                         "discovered from the provider.")),
            "headers": _map(_const("<redacted>"), "Extra headers sent upstream; every "
                                                  "value redacted (they often carry "
                                                  "credentials)."),
            "responses": _nullable(_enum("native", "translate", description="How /v1/responses reaches an "
                                         "openai provider; null: native for OpenAI's own API and Azure's, "
                                         "else translate.")),
        }, extra=True), "`[providers.ID]`, by id."),
        "prompts": _map(_obj({"name": _str(), "text": _str()}, extra=True),
                        "`[prompts.NAME]`, by name."),
        "clients": _map(_obj({
            "name": _str(), "model": _nullable(_str()), "prompt": _nullable(_str()),
            "temperature": _nullable(_num()), "top_p": _nullable(_num()),
            "max_tokens": _nullable(_int()), "collections": _arr(_str()),
            "api_key": _ref("Redacted"),
        }, extra=True), "`[clients.NAME]`, by name."),
        "activity": _obj({"enabled": {"type": "boolean"}, "retention_days": _num(),
                          "max_rows": _int()}, extra=True, description="`[activity]`."),
    }, extra=True, description="The config in effect, defaults filled in, secrets redacted."),
    "ClientSettings": _fixed({
        "name": _str("The client asked about."),
        "configured": _bool("It has a `[clients.NAME]` section."),
        "settings_from": _str("The client whose settings apply: itself, or `server` (an "
                              "unconfigured name gets the `server` client's settings)."),
        "model": _fixed({
            "id": _nullable(_str("The default model as configured; null when there is "
                                 "none.")),
            "provider": _nullable(_str("Id of the provider serving it; null when it does "
                                       "not resolve.")),
            "upstream_id": _nullable(_str("Its id at that provider.")),
            "error": _nullable(_str("Why it does not resolve (unknown or ambiguous id, "
                                    "provider unreachable).")),
        }, description="The default model: used when a request names none or says "
                       "`default`."),
        "prompt": _nullable(_fixed({"name": _str(), "text": _str()},
                                   description="The system prompt put first in every "
                                               "request.")),
        "temperature": _nullable(_num("Default sampling temperature.")),
        "top_p": _nullable(_num("Default nucleus sampling probability mass.")),
        "max_tokens": _nullable(_int("Default most tokens to generate.")),
        "collections": _arr(_str(), description="LocalDocs collections."),
        "own_api_key": _bool("The client has a key of its own (`[clients.NAME].api_key`); "
                             "false when its settings come from `server`."),
    }, description="What applies to the requests of one client."),
    "ClientLimits": _fixed({
        "client": _str("The client's name."),
        "rpm": _nullable(_fixed({
            "limit": _int("Requests per minute.", minimum=1),
            "remaining": _int("Requests it may make now.", minimum=0),
            "reset_s": _num("Seconds until all of them are back.", minimum=0),
        }, description="Requests per minute; null when it has no such limit.")),
        "tpm": _nullable(_fixed({
            "limit": _int("Tokens per minute (input + output).", minimum=1),
            "remaining": _int("Tokens left this minute.", minimum=0),
            "reset_s": _num("Seconds until all of them are back.", minimum=0),
        }, description="Tokens per minute; null when it has no such limit.")),
        "max_concurrent": _nullable(_fixed({
            "limit": _int("Requests at once.", minimum=1),
            "in_flight": _int("Its requests being answered now.", minimum=0),
        }, description="Requests at once; null when it has no such limit.")),
        "budget": _nullable(_fixed({
            "amount": _num("What it may spend per period.", minimum=0),
            "currency": _enum("usd", "tokens", description="US dollars by the price table, or tokens."),
            "period": _enum("day", "month", description="Calendar periods in UTC."),
            "spent": _num("Spent this period.", minimum=0),
            "remaining": _num("Left this period.", minimum=0),
            "unpriced_requests": _int("Answers this period whose model has no price: not in `spent`.",
                                      minimum=0),
            "period_start": _str("When this period began.", format="date-time"),
            "resets_at": _str("When the next period begins.", format="date-time"),
        }, description="Its budget; null when it has none.")),
    }, description="One client's limits and what is left of them."),
    "ActivityRecord": _fixed({
        "id": _int("Increases with every record, whichever worker wrote it.", minimum=1),
        "request_id": _str("The request's `x-request-id`."),
        "ts": _num("When the request arrived (epoch seconds)."),
        "time": _str("`ts` in ISO 8601 (the server's local time, milliseconds).",
                     format="date-time"),
        "client": _str("The client the request counted as."),
        "key_id": _nullable(_str("Fingerprint of the key sent, never the key; null when "
                                 "none was sent.", pattern="^k-[0-9a-f]{8}$",
                                 examples=["k-3f2a9c1e"])),
        "method": _str("HTTP method."),
        "path": _str("Request path.", examples=["/v1/chat/completions"]),
        "dialect_in": _enum("openai", "anthropic", description="The API the client spoke."),
        "dialect_out": _nullable(_enum("openai", "anthropic", description=(
            "The API spoken to the provider; null when the request reached none."))),
        "provider": _nullable(_str("Provider id; null when the request reached none.")),
        "model": _nullable(_str("`provider-id:model-id`; null when the request reached no "
                                "model.")),
        "stream": _bool("The answer was streamed."),
        "status": _int("HTTP status answered."),
        "error": _nullable(_str("The error answered, or why a stream ended early (e.g. "
                                "`client disconnected`); null on success.")),
        "latency_ms": _num("Time to the end of the answer (a stream's last byte)."),
        "ttfb_ms": _nullable(_num("Time to a stream's first byte; null when not streamed.")),
        "input_tokens": _nullable(_int("Input tokens; null when unknown.")),
        "output_tokens": _nullable(_int("Output tokens; null when unknown.")),
        "total_tokens": _nullable(_int("`input_tokens` + `output_tokens`; null when both "
                                       "are unknown.")),
        "tokens_estimated": _bool("The provider reported no usage, so the tokens are "
                                  "estimates: input ≈ request bytes / 4, output ≈ one per "
                                  "streamed event."),
        "request_bytes": _int("Size of the request body (its `Content-Length`; 0 without "
                              "one).", minimum=0),
        "response_bytes": _int("Bytes of the answer's body sent.", minimum=0),
        "worker": _int("Pid of the worker that served it."),
        "localdocs_collections": _nullable(_str("LocalDocs collections searched for it, comma-separated.")),
        "localdocs_snippets": _nullable(_int("LocalDocs snippets added to its prompt; for a search "
                                             "(`/v1/localdocs/search`, MCP `search_documents`), the snippets found.",
                                             minimum=0)),
        "localdocs_tokens": _nullable(_int("Tokens of those snippets (estimated: 4 characters a token).",
                                           minimum=0)),
        "tool": _nullable(_str("For `/mcp`: the MCP method, and for a tool call the tool "
                               "(`tools/call search_documents`).")),
        "route": _nullable(_str("The `[routes.NAME]` the client named as its model; null when it named a model.")),
        "attempts": _nullable(_arr(_fixed({
            "target": _str("The route's target tried (`provider-id:model-id`)."),
            "status": _int("Its HTTP status; 0 when it could not be reached."),
            "latency_ms": _num("Time the try took."),
            "error": _nullable(_str("Why it failed; null for the answer.")),
        }), description="A route's tries in order, the answering one last; null when the model was not a route.")),
        "usage": _nullable(_obj({}, extra=True, description=(
            "The usage object the provider reported, as it reported it (cache and reasoning tokens included); "
            "null when it reported none."))),
        "cost": _nullable(_num("What the answer cost in USD by the price table (0 for local models); null when "
                               "its price is unknown.")),
        "limited": _nullable(_enum("rpm", "tpm", "concurrent", "budget",
                                   description="The client's limit that refused the request.")),
    }, description="One API request (`/v1/...` and `/mcp`; health, docs and admin requests are not "
                   "recorded)."),
    "ActivityPage": _fixed({
        "data": _arr(_ref("ActivityRecord"), description="Newest first."),
        "next_before_id": _nullable(_int("`before_id` for the next, older page; null on "
                                         "the last page.")),
    }),
    "UsageRow": _usage_row(),
    "UsageReport": _fixed({
        "since": _str("Start of the window (inclusive).", format="date-time"),
        "until": _str("End of the window (exclusive).", format="date-time"),
        "total": _ref("UsageRow"),
        "by_client": _arr(_usage_row(client=_CLIENT), description=_BY_REQUESTS),
        "by_model": _arr(_usage_row(model=_RECORDED_MODEL), description=_BY_REQUESTS),
        "by_client_and_model": _arr(_usage_row(client=_CLIENT, model=_RECORDED_MODEL),
                                    description=_BY_REQUESTS),
        "by_route": _arr(_usage_row(route=_nullable(_str("The `[routes.NAME]` the client named; null for requests "
                                                         "that named a model."))), description=_BY_REQUESTS),
        "recomputed": _bool("Whether the costs were worked out again by the current prices (`recompute=true`)."),
    }, description="Requests, tokens and cost over a window, in all and per client, model and route."),
    "PriceTable": _fixed({
        "version": _int("The shipped table's version."),
        "date": _str("When its figures were taken."),
        "source": _str("Where they come from."),
        "free_types": _arr(_str(), description="Provider types that cost 0 unless priced in the config."),
        "models": _map(_map(_PRICE, "By model id."), "The shipped prices by provider type, then model id."),
        "providers": _arr(_fixed({"id": _str("Provider id."), "type": _str("Provider type."),
                                  "prices": _map(_PRICE, "Its `prices` in the config, by model id.")}),
                          description="Each provider's overrides of the table."),
    }, description="The price table (USD per million tokens) and the providers' overrides of it."),
}

# ---------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------

_ANTHROPIC_FORMAT = ("A request carrying an `anthropic-version` header (Anthropic's SDKs "
                     "send one) gets Anthropic's format instead: {}.")

_NOT_ANTHROPIC = ("Models of Anthropic-type providers are not served here: they answer 400 "
                  "(use `/v1/chat/completions`, `/v1/responses` or `/v1/messages`).")


def _under_provider(paths: Schema, *names: str) -> Schema:
    """The GET operations of `names` again under `/{provider_id}`, limited to that provider (where
    Anthropic's SDK looks when its base URL names a provider)."""
    more = {}
    for name in names:
        op = copy.deepcopy(paths[name]["get"])
        op["operationId"] += "ForProvider"
        op["summary"] += " (provider in the path)"
        op["description"] += ("\n\nThis form serves only the provider named in the path; a model id "
                              "may leave out its `provider_id:` prefix.")
        op["parameters"].insert(0, _ref("ProviderId", "parameters"))
        op["responses"].setdefault("404", paths["/v1/models/{model_id}"]["get"]["responses"]["404"])  # no provider
        more[f"/{{provider_id}}{name}"] = {"get": op}
    return more


def _paths() -> Schema:
    paths = _base_paths()
    return {**paths, **_under_provider(paths, "/v1/models", "/v1/models/{model_id}")}


def _base_paths() -> Schema:
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
            "type and paged with `limit`/`offset` (in Anthropic's format also with the "
            "`after_id`/`before_id` cursors). " + _ANTHROPIC_FORMAT.format(
                '`{"data": [{"type": "model", "id", "display_name", "created_at", "lifecycle"}], '
                '"has_more", "first_id", "last_id"}` (`AnthropicModelList`)'),
            _json_ok("The models, in OpenAI's or (with `anthropic-version`) Anthropic's "
                     "format.", _one_of(_ref("ModelList"), _ref("AnthropicModelList"))),
            parameters=("ProviderType", "ProviderTypeAlias", "Limit", "Offset", "ModelAfterId",
                        "ModelBeforeId", "AnthropicVersion"),
            errors=(400, 401, 404, 500, 502, 504), dialect="either")},
        "/v1/models/{model_id}": {"get": _v1_op(
            "getModel", "models", "Get a model",
            "One model by its `provider-id:model-id` id. " + _ANTHROPIC_FORMAT.format(
                "the single `AnthropicModel` object"),
            _json_ok("The model, in OpenAI's or (with `anthropic-version`) Anthropic's "
                     "format.", _one_of(_ref("Model"), _ref("AnthropicModel"))),
            parameters=("ModelId", "AnthropicVersion"),
            errors=(400, 401, 404, 500, 502, 504), dialect="either")},
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
        "/v1/responses": {"post": _v1_op(
            "createResponse", "openai", "Create a response",
            "OpenAI's Responses API for every model. To an OpenAI-type provider with `responses = "
            "\"native\"` (the default for OpenAI's own API and Azure's) the request is passed through "
            "to its own `/responses`, the answer relayed as it comes. Otherwise it is served over Chat "
            "Completions: the request is translated to a chat request (and on to Anthropic's Messages "
            "API for an Anthropic-type provider), the answer back to a `response` object; Gatehouse "
            "stores nothing: `previous_response_id`, `conversation`, background responses and stored "
            "prompts are refused; tools other than functions are left out. With `stream: true` the "
            "answer is `text/event-stream` of Responses events (`event: <type>` and `data: "
            "{...}` lines, each with its `sequence_number`), from `response.created` to "
            "`response.completed`, `response.incomplete` or, when the provider fails, `response.failed`.",
            _ok("The response (JSON), or a stream of events (SSE).", {
                "application/json": {"schema": _ref("ResponseObject")},
                "text/event-stream": {"schema": _sse(
                    "Server-sent events, sent when `stream` is true.",
                    "event: response.created\ndata: {...}\n\nevent: response.output_text.delta\n"
                    "data: {...}\n\nevent: response.completed\ndata: {...}\n\n")},
            }),
            body=_json_body(_ref("ResponseRequest")), errors=_ALL_ERRORS)},
        "/v1/completions": {"post": _v1_op(
            "createCompletion", "openai", "Create a completion (legacy)",
            "OpenAI-compatible legacy text completions. With `stream: true` the answer "
            "is `text/event-stream` of `data: {...}` lines, each a `Completion` piece, "
            "ending with `data: [DONE]`. " + _NOT_ANTHROPIC,
            _json_or_sse_ok("The completion (JSON), or a stream of pieces (SSE).",
                            "Completion", _openai_events("Completion")),
            body=_json_body(_ref("CompletionRequest")), errors=_ALL_ERRORS)},
        "/v1/localdocs/search": {"post": _search_op()},
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
            "`anthropic-beta` headers forwarded) and for local (`llamacpp`) models (the "
            "prompt is tokenized as its generation would be, without generating); otherwise "
            "an estimate: one token per 4 "
            "bytes of the JSON of `system`, `messages` and `tools`, plus 3 per message.",
            _json_ok("The token count.", _ref("AnthropicTokenCount")),
            _json_body(_ref("AnthropicCountTokensRequest"))),
        "/admin/status": {"get": _admin_op(
            "getAdminStatus", "Server status",
            "Version, uptime, config reloads, activity recording and providers, as the "
            "worker that answers sees them.",
            _json_ok("The status.", _ref("AdminStatus")))},
        "/admin/providers": {"get": _admin_op(
            "listAdminProviders", "List providers and their models",
            "Every provider with its type, whether it answers and the models it serves "
            "(providers without configured `models` are asked, with the usual cache).",
            _json_ok("The providers, in config order.",
                     _fixed({"data": _arr(_ref("ProviderModels"))})))},
        "/admin/providers/{provider_id}": {"get": _admin_op(
            "getAdminProvider", "Test a provider",
            "One provider's models; with `refresh=true` the provider is asked again now "
            "(a configured `models` list is returned as it is, and the provider's own list "
            "is compared with it under `check`).",
            _json_ok("The provider.", _ref("ProviderModels")),
            errors=(404,), parameters=("ConfiguredProviderId", "Refresh"))},
        "/admin/config": {"get": _admin_op(
            "getAdminConfig", "Effective config",
            "The config in effect, defaults filled in, with every secret replaced by "
            "`<redacted>`: API keys and the value of every provider header.",
            _json_ok("The config.", _ref("EffectiveConfig")))},
        "/admin/clients": {"get": _admin_op(
            "listAdminClients", "List clients' settings",
            "The settings that apply to `server` and to every configured client.",
            _json_ok("The clients, `server` first.",
                     _fixed({"data": _arr(_ref("ClientSettings"))})))},
        "/admin/collections": {"get": _admin_op(
            "listCollections", "List LocalDocs collections",
            "Every configured collection with its indexing state, counts and per-file errors.",
            _json_ok("The collections, in config order.", _fixed({"data": _arr(_ref("CollectionStatus"))})))},
        "/admin/collections/{name}/reindex": {"post": _reindex_op()},
        "/admin/models/loaded": {"get": _admin_op(
            "listLoadedModels", "List loaded models",
            "The models in memory now: local GGUF models (each in its model host process, shared by every worker) "
            "and Ollama's (its /api/ps). Providers that could not say are listed in `problems`.",
            _json_ok("The loaded models.", _fixed({
                "data": _arr(_ref("LoadedModel")),
                "problems": _arr(_fixed({"provider": _str(), "message": _str()}),
                                 description="Providers that did not say what they hold, and why."),
            })))},
        "/admin/models/{model_id}/load": {"post": _load_op()},
        "/admin/models/{model_id}/unload": {"post": _admin_op(
            "unloadModel", "Unload a model",
            "Unload a local or Ollama model once its requests in flight are done.",
            _json_ok("Whether it was loaded.", _fixed({"model": _str(), "unloaded": _bool(
                "False when it was not loaded.")})),
            errors=(400, 404), parameters=("ModelId",))},
        "/metrics": {"get": _admin_op(
            "getMetrics", "Prometheus metrics",
            "The requests served, summed across all workers, in Prometheus' text format (prometheus_client): "
            "`gatehouse_requests_total` by client, model, route and status, request duration and time to first "
            "token histograms, tokens, cost in USD, limit refusals, upstream errors. See docs/metrics.md.",
            _ok("The metrics.", {"text/plain": {"schema": _str("Prometheus text exposition format 0.0.4.")}}))},
        "/admin/limits": {"get": _admin_op(
            "listClientLimits", "List the clients' limits",
            "Every client with a limit or a budget (`[clients.NAME]` `rpm`, `tpm`, `max_concurrent`, `budget`) and "
            "what is left of each now, counted across all workers.",
            _json_ok("The clients' limits.", _fixed({"data": _arr(_ref("ClientLimits"))})))},
        "/admin/clients/{name}": {"get": _admin_op(
            "getAdminClient", "Get a client's settings",
            "The settings that apply to the requests of one client, its default model "
            "resolved.",
            _json_ok("The client's settings.", _ref("ClientSettings")),
            parameters=("ClientName",))},
        "/admin/activity": {"get": _admin_op(
            "listActivity", "List activity records",
            "Recorded API requests, newest first, filtered and paged backwards: pass "
            "`next_before_id` as `before_id` for the next, older page.",
            _json_ok("A page of records.", _ref("ActivityPage")),
            parameters=(*_ACTIVITY_FILTERS, "BeforeId", "ActivityLimit"), errors=(400, 503))},
        "/admin/activity/stream": {"get": _admin_op(
            "streamActivity", "Follow activity records",
            "Each new record as server-sent events as it is written, by whichever worker, "
            "filtered as on `/admin/activity`; from now on, or after `since_id`.",
            _ok("A stream of records.", {"text/event-stream": {"schema": _sse(
                "Server-sent events, after an opening comment line `: activity tail`: "
                "each record a line `data: <JSON>` holding one `ActivityRecord`, followed "
                "by a blank line, oldest first. A comment line `: keep-alive` comes after "
                "15 seconds without records. The stream ends when the server stops.",
                ': activity tail\n\ndata: {"id":42,...}\n\n: keep-alive\n\n')}}),
            parameters=_ACTIVITY_FILTERS, errors=(400, 503))},
        "/admin/usage": {"get": _admin_op(
            "getUsage", "Usage over a window",
            "Requests, errors, tokens and cost of the recorded requests that arrived in a "
            "window (default: the last 24 hours), in all, per client, per model, per route and per "
            "client and model; with `recompute=true` the costs are worked out again by the current prices.",
            _json_ok("The usage.", _ref("UsageReport")),
            parameters=("UsageSince", "UsageUntil", "Recompute"), errors=(400, 503))},
        "/admin/prices": {"get": _admin_op(
            "getPrices", "The price table",
            "The shipped price table (version, date) and each provider's overrides, in USD per million tokens.",
            _json_ok("The prices.", _ref("PriceTable")))},
    }


def _search_op() -> Schema:
    op = _v1_op("searchLocalDocs", "localdocs", "Search LocalDocs collections",
                "Hybrid search (BM25 and vectors, fused) over indexed local documents. A client key searches only "
                "its client's collections.",
                _json_ok("The best chunks.", _ref("LocalDocsSearchResult")),
                body=_json_body(_ref("LocalDocsSearchRequest")), errors=(400, 401, 413, 500))
    op["responses"]["403"] = _error_response(
        "A client key asked for a collection that is not one of its client's. `code` is `collection_not_allowed`.",
        "ErrorResponse", ApiError(403, "Collection 'other' is not one of client 'writer''s collections.",
                                  param="localdocs.collections", code="collection_not_allowed").body("openai"))
    return op


def _load_op() -> Schema:
    op = _admin_op("loadModel", "Load a model",
                   "Load a local or Ollama model now (it is loaded on first use otherwise) and keep it `keep_alive` "
                   "after its last request. A model of another provider type is a 400 (`model_not_loadable`).",
                   _json_ok("The model, loaded.", _ref("LoadedModel")), errors=(400, 404, 413), parameters=("ModelId",))
    op["requestBody"] = _json_body(_fixed({"keep_alive": {
        "oneOf": [_num(), _str(pattern=r"^-?(\d+(\.\d+)?(ms|s|m|h)?)+$")],
        "description": "Seconds, or a duration as Ollama writes it (`\"10m\"`, `\"1h30m\"`); negative: kept until "
                       "unloaded (pinned); 0: unloaded when idle. Default: the model's `keep_alive`."}}),
        required=False)
    return op


def _reindex_op() -> Schema:
    op = _admin_op("reindexCollection", "Index a collection again",
                   "Read every file of the collection again (an unchanged file is not embedded again). Requests "
                   "made while one runs are one.",
                   {"202": {"description": "Requested.", "headers": _REQUEST_ID_HEADER, "content": {
                       "application/json": {"schema": _fixed({"name": _str(), "reindex": _const("requested")})}}}},
                   errors=(404,), parameters=("CollectionName",))
    op["responses"]["404"] = _error_response(
        "No collection with this name in the config. `code` is `collection_not_found`.", "ErrorResponse",
        ApiError(404, "No collection 'nope'.", code="collection_not_found").body("openai"))
    return op


def _error_response(description: str, schema: str, example: dict) -> Schema:
    return {
        "description": description,
        "headers": _REQUEST_ID_HEADER,
        "content": {"application/json": {"schema": _ref(schema), "example": example}},
    }


def _error_components() -> Schema:
    """Every dialect's error responses, named `<prefix><name>`, and the admin API's own."""
    return {
        **{dialect.prefix + name: _error_response(
               description, dialect.schema, ApiError(status, message).body(dialect.name))
           for dialect in _DIALECTS.values()
           for status in dialect.statuses
           for name, description, message in [_ERRORS[status]]},
        **{_EITHER_PREFIX + name: _either_error_response(status, description)
           for status, (name, description, _) in _ERRORS.items() if status in _DIALECTS["openai"].statuses},
        **{name: _error_response(description, "ErrorResponse", error.body())
           for name, description, error in _ADMIN_ERRORS.values()},
    }


def _either_error_response(status: int, description: str) -> Schema:
    """An error in OpenAI's shape, or in Anthropic's when the request carried `anthropic-version`."""
    message = _ERRORS[status][2]
    return {
        "description": f"{description} In Anthropic's shape when the request carries `anthropic-version`.",
        "headers": _REQUEST_ID_HEADER,
        "content": {"application/json": {
            "schema": _any_of(_ref("ErrorResponse"), _ref("AnthropicErrorResponse")),
            "examples": {dialect.name: {"value": ApiError(status, message).body(dialect.name)}
                         for dialect in _DIALECTS.values()}}},
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
key, `X-Client-Id` names the client whose settings apply; only the server key opens \
`/admin/*`.

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
            {"name": "localdocs", "description": "Your own documents: search, and snippets in every chat "
                                                 "endpoint (a `localdocs` request field, sources in answers)."},
            {"name": "admin", "description": "Server state for operators and the TUI; "
                                             "server key only — client keys get 403."},
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
