"""What the server refuses, its OpenAPI document (`/api-docs.json`, from a real server) must not allow, and what
the server takes, the document must allow (issue 21 item 17): each value below is sent to the server and checked
against the schema the document declares for it."""

from __future__ import annotations

import json

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.gateway import SERVER_KEY

KEY = {"Authorization": f"Bearer {SERVER_KEY}"}
MODEL = "fake:gpt-fake"


@pytest.fixture(scope="module")
def document(gateway) -> dict:
    return httpx.get(f"{gateway.base_url}/api-docs.json", timeout=30).json()


def accepts(document: dict, schema: dict, value: object) -> bool:
    """Whether `schema` (a part of `document`, its `$ref`s into it) allows `value`."""
    registry = Registry().with_resource("urn:doc", Resource.from_contents(document, default_specification=DRAFT202012))
    rooted = json.loads(json.dumps(schema).replace('"#/', '"urn:doc#/'))
    return Draft202012Validator(rooted, registry=registry).is_valid(value)


def parameter_schema(document: dict, path: str, name: str) -> dict:
    for parameter in document["paths"][path]["get"]["parameters"]:
        if "$ref" in parameter:
            parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        if parameter["name"] == name:
            return parameter["schema"]
    raise AssertionError(f"{path} declares no {name}")


def body_schema(document: dict, path: str) -> dict:
    return document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize(("path", "name", "value"), [
    ("/v1/models", "provider_type", "AAA"),
    ("/v1/models", "provider_type", "openai"),
    ("/v1/models", "providerType", "AAA"),
    ("/admin/activity", "limit", "1001"),
    ("/admin/activity", "limit", "0"),
    ("/admin/providers/{provider_id}", "refresh", "-6239"),
    ("/admin/providers/{provider_id}", "refresh", "true"),
])
def test_query_parameters(http, document, path, name, value):
    answer = http.get(path.replace("{provider_id}", "fake"), params={name: value}, headers=KEY)
    assert answer.status_code in (200, 400), answer.text
    schema = parameter_schema(document, path, name)
    typed = int(value) if schema.get("type") == "integer" else value
    assert accepts(document, schema, typed) == (answer.status_code == 200), (answer.status_code, answer.text)


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/completions", {"model": MODEL, "prompt": []}),
    ("/v1/completions", {"model": MODEL, "prompt": ["hi"]}),
    ("/v1/embeddings", {"model": MODEL, "input": []}),
    ("/v1/embeddings", {"model": MODEL, "input": "hi"}),
    ("/v1/responses", {"model": MODEL, "input": []}),
    ("/v1/responses", {"model": MODEL, "input": "hi"}),
])
def test_bodies(http, document, path, body):
    answer = http.post(path, json=body, headers=KEY)
    assert answer.status_code in (200, 400), answer.text
    assert accepts(document, body_schema(document, path), body) == (answer.status_code == 200), answer.text


def response_schema(document: dict, path: str, method: str, status: int) -> dict:
    response = document["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response["content"]["application/json"]["schema"]


@pytest.mark.parametrize("headers", [KEY, {**KEY, "anthropic-version": "2023-06-01"}], ids=["openai", "anthropic"])
@pytest.mark.parametrize(("path", "url", "params"), [
    ("/v1/models/{model_id}", "/v1/models/fake:no-such-model", {}),
    ("/v1/models", "/v1/models", {"provider_type": "AAA"}),
    ("/{provider_id}/v1/models/{model_id}", "/fake/v1/models/no-such-model", {}),
])
def test_model_errors_as_declared(http, document, headers, path, url, params):
    """The models endpoints answer errors in either dialect's shape; the document declares both."""
    answer = http.get(url, params=params, headers=headers)
    assert answer.status_code in (400, 404), answer.text
    assert accepts(document, response_schema(document, path, "get", answer.status_code), answer.json()), answer.text
