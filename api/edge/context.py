"""What the edge knows of a request while it is served, typed: set once by the middleware, read by the routes."""

from __future__ import annotations

from dataclasses import dataclass

from blacksheep import Request

from api.core.auth import Identity
from api.core.recording import NotRecorded, Recording
from api.core.worker import State
from api.edge.body_deadlines import BodyDeadlines

NOBODY = Identity(client="server", key_id="", server_key=False)
"""Who sent a request that needs no key (health, the API docs), which therefore presents none."""
_SCOPE_KEY = "gatehouse"


@dataclass(slots=True)
class RequestContext:
    request_id: str
    state: State
    """The config state the request is served with from start to end (a reload meanwhile does not change it)."""
    recording: Recording | NotRecorded
    """Its activity record (NOT_RECORDED when it is not recorded)."""
    body_deadlines: BodyDeadlines
    """The worker's watch over body reads (api/edge/body_deadlines.py)."""
    identity: Identity = NOBODY
    """Who sent it: set once its key is accepted."""


def attach(request: Request, context: RequestContext) -> None:
    request.scope[_SCOPE_KEY] = context  # type: ignore[literal-required]  # the one key of ours in the scope


def context_of(request: Request) -> RequestContext:
    context: RequestContext = request.scope[_SCOPE_KEY]  # type: ignore[literal-required]
    return context
