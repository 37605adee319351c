"""Swagger UI and the OpenAPI document: no key needed, assets served locally."""

from __future__ import annotations

import re

import httpx


def test_openapi_document_covers_every_public_endpoint(gateway):
    spec = httpx.get(f"{gateway.base_url}/api-docs.json").json()
    assert spec["openapi"].startswith("3.")
    assert {"/health", "/v1/models", "/v1/models/{model_id}", "/v1/chat/completions", "/v1/responses", "/v1/completions",
            "/v1/embeddings", "/{provider_id}/v1/messages", "/{provider_id}/v1/models"} <= set(spec["paths"])
    chat = spec["paths"]["/v1/chat/completions"]["post"]
    assert "requestBody" in chat and {"200", "401", "404"} <= set(chat["responses"])


def test_swagger_ui_works_offline(gateway):
    page = httpx.get(f"{gateway.base_url}/api-docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith("/api-docs/") for source in sources)  # nothing from a CDN
    for source in sources:
        asset = httpx.get(f"{gateway.base_url}{source}")
        assert asset.status_code == 200 and len(asset.content) > 100, source
    assert httpx.get(f"{gateway.base_url}/api-docs/..%2Fpyproject.toml").status_code == 404
