"""`/api-docs` (Swagger UI 5, assets served from the installed swagger-ui-bundle-v2, works offline)
and `/api-docs.json` (the OpenAPI document)."""

from __future__ import annotations

import mimetypes

import orjson
from blacksheep import Application, Content, Response
from swagger_ui_bundle import swagger_ui_path

from api import __version__
from api.edge.openapi import build_spec
from api.wire.errors import JSON, ApiError

ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
          "favicon-32x32.png", "favicon-16x16.png")

PAGE = b"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Gatehouse API</title>
  <link rel="stylesheet" href="/api-docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/api-docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api-docs/swagger-ui-bundle.js"></script>
  <script src="/api-docs/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/api-docs.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout"
    });
  </script>
</body>
</html>
"""


def register(app: Application) -> None:
    spec = orjson.dumps(build_spec(__version__))

    @app.router.get("/api-docs")
    async def swagger_page() -> Response:
        return Response(200, None, Content(b"text/html; charset=utf-8", PAGE))

    @app.router.get("/api-docs.json")
    async def openapi_document() -> Response:
        return Response(200, None, Content(JSON, spec))

    @app.router.get("/api-docs/{name}")
    async def swagger_asset(name: str) -> Response:
        if name not in ASSETS:
            raise ApiError(404, f"No such documentation asset: {name}")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        data = (swagger_ui_path / name).read_bytes()
        return Response(200, [(b"cache-control", b"max-age=86400")], Content(content_type.encode(), data))
