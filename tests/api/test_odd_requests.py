"""Odd requests over a real socket: methods a path does not serve (405 with `Allow`, RFC 9110, whatever the method)
and admin query values out of range (400, never 500)."""

from __future__ import annotations

import socket
import time

import pytest

from tests.conftest import gateway_config
from tests.gateway import SERVER_KEY, start_gateway


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "PATCH", "GET"])
def test_another_method_on_a_post_path_is_a_405_naming_the_allowed_one(http, method):
    response = http.request(method, "/v1/chat/completions", headers={"x-api-key": SERVER_KEY})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    if method != "TRACE":
        assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_get_path_names_get_in_allow(http):
    response = http.request("DELETE", "/v1/models", headers={"x-api-key": SERVER_KEY})
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize("query", [
    {"limit": "²"},  # a digit to str.isdigit(), not to int()
    {"since": "5235890346941608.0"},  # after the year 9999
])
def test_admin_query_values_out_of_range_are_a_400_not_a_500(http, query):
    """(An id beyond SQLite's integers is capped, as the document allows any integer: see
    tests/inprocess/test_what_the_document_allows.py.)"""
    for path in ("/admin/activity", "/admin/usage"):
        response = http.get(path, params=query, headers={"x-api-key": SERVER_KEY})
        assert response.status_code in (200, 400), (path, query, response.text)
    response = http.get("/admin/activity", params=query, headers={"x-api-key": SERVER_KEY})
    assert response.status_code == 400


@pytest.mark.parametrize(("path", "named"), [
    ("/an%2561/v1/messages", "an%61"),
    ("/%252e%252e/v1/messages", "%2e%2e"),
    ("/an%2561/v1/models", "an%61"),
])
def test_the_provider_in_the_path_is_percent_decoded_once(http, path, named):
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    method = "GET" if path.endswith("models") else "POST"
    response = http.request(method, path, headers={"x-api-key": SERVER_KEY}, json=None if method == "GET" else body)
    assert response.status_code == 404
    assert f"No provider '{named}'" in response.text


@pytest.fixture(scope="module")
def impatient(upstreams, tmp_path_factory):
    server = start_gateway(gateway_config(upstreams, body_timeout_s=1), tmp_path_factory.mktemp("impatient"))
    yield server
    server.stop()


@pytest.mark.parametrize("sent", [b"", b'{"model": "fake:gpt-fake", '])
def test_a_body_that_stops_arriving_ends_with_408(impatient, sent):
    host, port = impatient.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Authorization: Bearer " + SERVER_KEY.encode() + b"\r\nContent-Length: 1000\r\n\r\n" + sent)
        started = time.monotonic()
        answer = connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"server.body_timeout_s" in answer
    assert time.monotonic() - started < 5
