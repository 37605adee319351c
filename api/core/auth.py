"""API keys and client identification.

A request carries its key as `Authorization: Bearer K` or `X-API-Key: K`.
The server key lets the caller name its client with `X-Client-Id` (or
`client`), defaulting to `server`; a client's own key always means that client.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from api.config.settings import Config
from api.wire.errors import ApiError

DEFAULT_CLIENT = "server"


@dataclass(frozen=True, slots=True)
class Identity:
    client: str
    """Name of the client the request belongs to."""
    key_id: str
    """Short fingerprint of the key used: safe to log, useless to an attacker."""
    server_key: bool
    """True when the server key was used (full access)."""


def fingerprint(key: bytes) -> str:
    return "k-" + hashlib.sha256(key).hexdigest()[:8]


class KeyRing:
    """Every key of a config, checked in constant time."""

    def __init__(self, config: Config) -> None:
        server_key = config.server.api_key.encode()
        self._entries: list[tuple[bytes, str | None, str]] = [(server_key, None, fingerprint(server_key))]
        for client in config.clients.values():
            if client.api_key:
                key = client.api_key.encode()
                self._entries.append((key, client.name, fingerprint(key)))

    def identify(self, presented: bytes | None, client_header: bytes | None) -> Identity:
        """The identity behind a presented key, or ApiError 401."""
        if not presented:
            raise ApiError(
                401,
                "You didn't provide an API key. Send it as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'.",
                code="missing_api_key",
            )
        match = None
        for key, client, key_id in self._entries:  # compare with every key: no early exit
            if hmac.compare_digest(key, presented) and match is None:
                match = (client, key_id)
        if match is None:
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
        client, key_id = match
        if client is not None:
            return Identity(client, key_id, False)
        name = client_header.decode("utf-8", "replace").strip() if client_header else ""
        return Identity(name[:64] or DEFAULT_CLIENT, key_id, True)


def presented_key(authorization: bytes | None, x_api_key: bytes | None) -> bytes | None:
    """The key from `Authorization: Bearer K`, else from `X-API-Key`."""
    if authorization:
        scheme, _, value = authorization.partition(b" ")
        if scheme.lower() == b"bearer" and value.strip():
            return value.strip()
    return x_api_key.strip() if x_api_key else None
