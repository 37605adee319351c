"""What every model endpoint does first: read and check the body, fill in the client's settings,
resolve the model to its provider, and note the route in the activity record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from blacksheep import Request

from api.store.activity import Record
from api.edge.body import optional_model, read_json_object, require
from api.core.client_settings import apply_client_settings
from api.core.worker import State
from api.edge.middleware import IDENTITY, RECORD, STATE
from api.upstream.providers import Provider


@dataclass(slots=True)
class Inbound:
    state: State
    body: dict
    """The request body, its `model` now the provider's own model id."""
    provider: Provider
    record: Record | None


async def inbound(request: Request, endpoint: str, required: str, kind: type | tuple[type, ...],
                  model_name: Callable[[State, dict], str] = lambda _state, body: body["model"]) -> Inbound:
    """The request routed; `model_name` gives the name to resolve (default: the body's model)."""
    state = request.scope[STATE]
    body = await read_json_object(request, state.config.server.max_body_bytes)
    require(body, required, kind)
    optional_model(body)
    apply_client_settings(body, state.config, request.scope[IDENTITY].client, endpoint)
    provider, body["model"] = await state.catalog.resolve(model_name(state, body))
    record = request.scope[RECORD]
    if record is not None:
        record.routed(provider.id, body["model"], provider.dialect, body.get("stream") is True)
    return Inbound(state, body, provider, record)
