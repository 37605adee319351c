"""Which Gatehouse this is: a random id per running server, sent upstream with every request in the
`gatehouse-instance` header, so that a request that comes back (a provider whose base_url points at this
Gatehouse) is recognised and refused at once instead of going round until a timeout.

The id is made by the main process (`python -m api`, before its workers start) with `adopt(new_id())`,
which hands it to the workers both ways they may be started: forked (they inherit this module's state) or
spawned (they read $GATEHOUSE_INSTANCE once, when this module is imported). A process that serves without
`python -m api` (the in-process tests) makes its own. The id is random, never derived from a key or the
config: it is no secret, and another Gatehouse in the chain has its own, so chaining gateways still works.
"""

from __future__ import annotations

import os
import re
import secrets
from urllib.parse import urlsplit

from api.wire.errors import ApiError

ENV = "GATEHOUSE_INSTANCE"
HEADER = "gatehouse-instance"
HEADER_BYTES = HEADER.encode()
LOOP_DETECTED = "loop_detected"
"""The error code of both refusals: the request that came back, and the client's request that sent it."""
LOOP_STATUS = 508
"""508 Loop Detected (RFC 5842): the server found its own request coming back to it. Not 400: the client's
request is fine and the config is wrong, as with any gateway failure (5xx); SDKs are told not to retry
(`x-should-retry: false`)."""

_VALID = re.compile(r"[0-9a-f]{16,64}")


def new_id() -> str:
    return secrets.token_hex(8)


def _inherited() -> str:
    value = os.environ.get(ENV, "")
    return value if _VALID.fullmatch(value) else new_id()


INSTANCE_ID = _inherited()
"""This server's id (the same in all its workers); read it as `instance.INSTANCE_ID` when it is used."""
INSTANCE_ID_BYTES = INSTANCE_ID.encode()


def adopt(value: str) -> None:
    """Make `value` this server's id, in this process and in the workers it starts (the main process)."""
    global INSTANCE_ID, INSTANCE_ID_BYTES
    if not _VALID.fullmatch(value):
        raise ValueError(f"not an instance id: {value!r}")
    INSTANCE_ID, INSTANCE_ID_BYTES = value, value.encode()
    os.environ[ENV] = value


_LOOPBACK_V4 = ("127.0.0.1", "localhost")
_LOOPBACK_V6 = ("::1", "localhost")


def addresses_server(base_url: str, host: str, port: int) -> bool:
    """Whether `base_url` is plainly the address this server listens on (`host`, `port`): a loop known from
    the config alone, with no request needed (none could be answered yet while a worker starts). Other
    ways back (another name of this machine, a proxy) are caught by the header when the request arrives."""
    try:
        parts = urlsplit(base_url)
        target_port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    target = parts.hostname or ""
    if target_port != port:
        return False
    if target in _LOOPBACK_V4 and host in ("127.0.0.1", "localhost", "0.0.0.0", "::"):
        return True
    return target == host or (target in _LOOPBACK_V6 and host in ("::1", "localhost", "::"))


def came_back() -> ApiError:
    """The answer to a request this Gatehouse sent itself (it carries its own id)."""
    return ApiError(LOOP_STATUS, "Loop detected: this request was sent by this same Gatehouse, to itself: "
                                 "a provider's base_url points back at this Gatehouse. Point it at the real "
                                 "upstream (or at another gateway).", code=LOOP_DETECTED)


def loops(provider_id: str, base_url: str) -> ApiError:
    """The answer to a client whose request went to a provider that is this Gatehouse itself."""
    return ApiError(LOOP_STATUS, f"provider '{provider_id}' points back at this Gatehouse (base_url {base_url}): "
                                 "its requests come back here and would go round for good, so they are refused. "
                                 "Point the provider's base_url at the real upstream, or remove the provider.",
                    code=LOOP_DETECTED)
