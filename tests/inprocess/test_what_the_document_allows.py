"""What `/api-docs.json` allows, the server takes, and what it forbids, the server refuses (issue 21, item 17):
the cases schemathesis found, kept as plain tests so that they fail by name."""

from __future__ import annotations

from urllib.parse import quote

import orjson
import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")

ANTHROPIC = {"anthropic-version": "2023-06-01"}


async def _get(served, path: str, headers: dict | None = None) -> tuple[int, dict]:
    response, body = await served.request("GET", path, headers=headers)
    return response.status, orjson.loads(body)


@pytest.mark.parametrize("path", ["/v1/models?providerType=", "/v1/models?provider_type=",
                                  "/v1/models?provider_type=openai&providerType=AAA"])
async def test_a_blank_or_unknown_provider_type_is_refused(served, path):
    status, body = await _get(served, path)
    assert status == 400, body
    assert body["error"]["param"] == "provider_type"


async def test_two_provider_type_spellings_that_agree_filter_as_one(served):
    status, body = await _get(served, "/v1/models?provider_type=anthropic&providerType=anthropic")
    assert status == 200
    assert body["data"] and {model["provider_type"] for model in body["data"]} == {"anthropic"}


@pytest.mark.parametrize("path", ["/admin/activity?limit=", "/admin/activity?status=", "/admin/activity?since=",
                                  "/admin/usage?until="])
async def test_a_blank_number_or_time_is_refused_not_ignored(served, path):
    status, body = await _get(served, path)
    assert status == 400, body


async def test_a_limit_past_64_bits_is_taken_as_all(served):
    status, body = await _get(served, "/v1/models?limit=89592138261333933618626560")
    assert status == 200, body
    assert len(body["data"]) == len((await _get(served, "/v1/models"))[1]["data"])


@pytest.mark.parametrize("moment", ["2025-01-01t00:00:00z", "2025-01-01T00:00:00.1234567890+02:00", "0"])
async def test_rfc_3339_times_are_taken(served, moment):
    status, body = await _get(served, f"/admin/usage?until={quote(moment)}")
    assert status == 200, body
    assert body["until"] is not None


async def test_the_epoch_is_a_time_not_now(served):
    status, body = await _get(served, "/admin/usage?until=0")
    assert status == 200
    assert body["until"] == "1970-01-01T00:00:00+00:00"
    assert body["since"] == "1969-12-31T00:00:00+00:00"


async def test_an_unknown_cursor_is_a_404_in_anthropics_dialect(served):
    status, body = await _get(served, "/v1/models?after_id=no-such-model", ANTHROPIC)
    assert status == 404
    assert body["error"]["type"] == "not_found_error"
    assert "no-such-model" in body["error"]["message"]


async def test_both_cursors_give_the_models_between_them(served):
    everything = (await _get(served, "/v1/models?limit=1000", ANTHROPIC))[1]["data"]
    ids = [model["id"] for model in everything]
    assert len(ids) >= 4
    status, body = await _get(served, f"/v1/models?after_id={ids[0]}&before_id={ids[3]}", ANTHROPIC)
    assert status == 200, body
    assert [model["id"] for model in body["data"]] == ids[1:3]
    assert body["has_more"] is False
    status, body = await _get(served, f"/v1/models?after_id={ids[0]}&before_id={ids[3]}&limit=1", ANTHROPIC)
    assert [model["id"] for model in body["data"]] == ids[1:2]
    assert body["has_more"] is True


@pytest.mark.parametrize("field", ["top_k", "max_tokens"])
async def test_a_whole_number_written_as_a_float_is_an_integer_when_translated(served, field):
    request = {"model": "fake:gpt-fake", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}],
               field: 5.0}
    response, body = await served.request("POST", "/v1/messages", request, headers=ANTHROPIC)
    assert response.status == 200, body
    assert orjson.loads(body)["type"] == "message"


async def test_the_document_says_what_the_server_does(served):
    _, body = await served.request("GET", "/api-docs.json")
    schemas = orjson.loads(body)["components"]["schemas"]
    model = schemas["ChatCompletionRequest"]["properties"]["model"]
    assert {"type": "null"} in model["anyOf"] and {"type": "string", "minLength": 1} in model["anyOf"]
    assert "max_tokens" in schemas["AnthropicMessagesRequest"]["required"]
    assert "max_tokens" not in schemas["AnthropicCountTokensRequest"].get("required", [])
    assert schemas["ResponseRequest"]["properties"]["input"]["oneOf"][1]["items"] == {
        "$ref": "#/components/schemas/ResponseInputItem"}


async def test_an_id_past_sqlites_integers_is_after_every_record(served):
    status, body = await _get(served, f"/admin/activity?since_id={1 << 70}")
    assert status == 200, body
    assert body["data"] == []
