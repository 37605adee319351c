"""Which collections a request searches: its own `localdocs` field, else the `X-Gatehouse-Collections` header,
else its client's `collections`; checked against the config and the caller's rights.

A client key reaches only its client's collections (403 for another); the server key reaches every one.
An unknown collection is a 400 naming it, a `localdocs` field of the wrong shape a 400 naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.config.settings import CollectionSettings, Config
from api.wire.errors import ApiError

HEADER = b"x-gatehouse-collections"
FIELD = "localdocs"
MAX_TOP_K = 100


@dataclass(frozen=True, slots=True)
class Selection:
    collections: list[CollectionSettings]
    top_k: int
    """Snippets to add: the request's `top_k`, else the largest of its collections' `top_k`."""


def _invalid(message: str, param: str) -> ApiError:
    return ApiError(400, message, param=param, code="invalid_value")


def _names(value: object, param: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(name, str) and name for name in value):
        raise _invalid(f"'{param}' must be a list of collection names.", param)
    return list(dict.fromkeys(value))


def _top_k(value: object, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_K:
        raise _invalid(f"'{param}' must be an integer from 1 to {MAX_TOP_K}.", param)
    return value


def asked_for(field: object, header: bytes | None) -> tuple[list[str] | None, int | None]:
    """The collection names and `top_k` a request asks for (None: not said), from its `localdocs` field or
    header; a field of the wrong shape is a 400 naming it."""
    if field is not None:
        if not isinstance(field, dict):
            raise _invalid(f"'{FIELD}' must be an object with 'collections' and/or 'top_k'.", FIELD)
        unknown = sorted(field.keys() - {"collections", "top_k"})
        if unknown:
            raise _invalid(f"Unknown field '{FIELD}.{unknown[0]}': '{FIELD}' takes 'collections' and 'top_k'.",
                           f"{FIELD}.{unknown[0]}")
        names = _names(field["collections"], f"{FIELD}.collections") if "collections" in field else None
        top_k = _top_k(field["top_k"], f"{FIELD}.top_k") if "top_k" in field else None
        if names is not None or top_k is not None:
            return names, top_k
    if header is not None:
        text = header.decode("utf-8", "replace")
        return [name.strip() for name in text.split(",") if name.strip()], None
    return None, None


def select(config: Config, client: str, server_key: bool, names: list[str] | None, top_k: int | None,
           everything_by_default: bool = False) -> Selection | None:
    """The collections to search, or None when there are none. `names` None means the client's own list
    (or, with `everything_by_default` and the server key, every collection)."""
    own = config.client(client).collections
    if names is None:
        names = list(config.collections) if everything_by_default and server_key and not own else list(own)
    unknown = [name for name in names if name not in config.collections]
    if unknown:
        known = ", ".join(sorted(config.collections)) or "none is configured"
        raise ApiError(400, f"Unknown LocalDocs collection '{unknown[0]}' (known: {known}).",
                       param=f"{FIELD}.collections", code="collection_not_found")
    if not server_key:
        barred = [name for name in names if name not in own]
        if barred:
            raise ApiError(403, f"Collection '{barred[0]}' is not one of client '{client}''s collections.",
                           param=f"{FIELD}.collections", code="collection_not_allowed")
    if not names:
        return None
    chosen = [config.collections[name] for name in names]
    return Selection(chosen, top_k or max(collection.top_k for collection in chosen))
