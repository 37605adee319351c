"""Methods a path does not serve, over a real socket: 405 with `Allow` (RFC 9110), whatever the method."""

from __future__ import annotations

import pytest

from tests.gateway import SERVER_KEY


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
