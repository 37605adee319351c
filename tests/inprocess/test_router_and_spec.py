"""The router serves exactly the paths the OpenAPI document describes, with the same methods."""

from __future__ import annotations

import re
from pathlib import Path

from api import __version__
from api.config.settings import parse_config
from api.edge.app import configure_application
from api.edge.openapi import build_spec

UNDOCUMENTED = {("GET", "/api-docs/{name}"), ("HEAD", "/health"), ("POST", "/mcp")}
"""The Swagger UI's own assets, HEAD, which the document leaves implicit as OpenAPI documents do, and the MCP
endpoint, whose JSON-RPC messages the MCP specification describes (docs/mcp.md), not an OpenAPI document."""
METHODS = ("get", "post", "put", "patch", "delete")


def _routes() -> set[tuple[str, str]]:
    config = parse_config({"server": {"api_key": "a-server-key-0123"}}, Path("config.toml"))
    router = configure_application(config).router
    router.apply_routes()
    found = set()
    for method, routes in router.routes.items():
        for route in routes:
            pattern = re.sub(r"\{\w+:(\w+)\}", r"{\1}", route.pattern.decode())  # {path:model_id} → {model_id}
            found.add((method.decode(), pattern))
    return found


def test_router_paths_equal_the_openapi_documents_paths():
    documented = {(method.upper(), path) for path, item in build_spec(__version__)["paths"].items()
                  for method in METHODS if method in item}
    served = _routes() - UNDOCUMENTED
    assert served - documented == set(), "served but not in the OpenAPI document"
    assert documented - served == set(), "in the OpenAPI document but not served"
