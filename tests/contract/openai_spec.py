"""OpenAI's published component schemas (vendored in openai_schemas.json, its source and commit named there) as
JSON Schema validators. The document is OpenAPI 3.1 but still says `nullable: true` in places, which JSON Schema
2020-12 ignores: each is turned into `anyOf [..., {"type": "null"}]` first."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMAS = Path(__file__).with_name("openai_schemas.json")


def _without_nullable(node: object) -> object:
    if isinstance(node, list):
        return [_without_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _without_nullable(value) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") is True else out


@cache
def _document() -> dict:
    return _without_nullable(json.loads(SCHEMAS.read_text()))  # type: ignore[return-value]


@cache
def validator(component: str) -> Draft202012Validator:
    """A validator for `#/components/schemas/<component>`."""
    registry = Registry().with_resource("urn:openai", Resource.from_contents(_document(),
                                                                         default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"urn:openai#/components/schemas/{component}"}, registry=registry)


def problems(component: str, value: object) -> list[str]:
    """Where `value` breaks OpenAI's schema of `component` (none: it conforms)."""
    return [f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message[:300]}"
            for error in validator(component).iter_errors(value)]
