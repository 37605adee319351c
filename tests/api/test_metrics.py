"""`GET /metrics` on a real two-worker gateway, read with prometheus_client's own parser."""

from __future__ import annotations

import time

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.config.settings import ConfigError, parse_config
from tests.conftest import gateway_config
from tests.gateway import SERVER_KEY, free_port, start_gateway, wait_until

METERED_KEY = "key-of-metered-0123456789"
CLIENTS = f"""
[clients.metered]
api_key = "{METERED_KEY}"
rpm = 2
"""


@pytest.fixture(scope="module")
def measured(upstreams, tmp_path_factory):
    server = start_gateway(gateway_config(upstreams, workers=2) + CLIENTS, tmp_path_factory.mktemp("metrics"))
    yield server
    server.stop()


def samples(server) -> dict[tuple[str, tuple], float]:
    answer = httpx.get(f"{server.base_url}/metrics", headers={"authorization": f"Bearer {SERVER_KEY}"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text) for sample in family.samples}


def total(found: dict, name: str, **labels: str) -> float:
    return sum(value for (sample, pairs), value in found.items()
               if sample == name and all(dict(pairs).get(key) == wanted for key, wanted in labels.items()))


def test_requests_tokens_and_refusals_are_counted_across_both_workers(measured):
    sdk = openai.OpenAI(base_url=measured.openai_url, api_key=SERVER_KEY, max_retries=0)
    for _ in range(12):  # fresh connections: both workers take some
        answer = httpx.post(f"{measured.openai_url}/chat/completions", headers={"x-api-key": SERVER_KEY,
                                                                                "x-client-id": "counted"},
                            json={"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]})
        assert answer.status_code == 200
    stream = sdk.chat.completions.create(model="fake:gpt-fake", messages=[{"role": "user", "content": "hi"}],
                                         stream=True, extra_headers={"x-client-id": "streamer"})
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="fake:no-such-model", messages=[{"role": "user", "content": "x"}],
                                    extra_headers={"x-client-id": "lost"})
    statuses = [httpx.post(f"{measured.openai_url}/chat/completions", headers={"x-api-key": METERED_KEY},
                           json={"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]}).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]
    time.sleep(0.5)
    rows = httpx.get(f"{measured.base_url}/admin/activity", params={"client": "counted", "limit": 50},
                     headers={"x-api-key": SERVER_KEY}).json()["data"]
    workers = {row["worker"] for row in rows}
    found = samples(measured)
    assert len(workers) == 2  # the counts below are both workers' together
    assert total(found, "gatehouse_requests_total", client="counted", model="fake:gpt-fake", status="200") == 12
    assert total(found, "gatehouse_tokens_total", client="counted", kind="output") > 0
    assert total(found, "gatehouse_request_duration_seconds_count", model="fake:gpt-fake") >= 13
    assert total(found, "gatehouse_time_to_first_token_seconds_count", model="fake:gpt-fake") >= 1
    assert total(found, "gatehouse_requests_total", client="lost", status="404") >= 1
    assert total(found, "gatehouse_limit_refusals_total", client="metered", limit="rpm") == 1
    assert total(found, "gatehouse_requests_total", client="metered", status="429") == 1


def test_the_activity_write_lag_is_measured(measured):
    httpx.post(f"{measured.openai_url}/chat/completions", headers={"x-api-key": SERVER_KEY},
               json={"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]})
    lags: list[float] = []

    def reported() -> bool:
        lags[:] = [value for (name, _), value in samples(measured).items()
                   if name == "gatehouse_activity_write_lag_seconds"]
        return bool(lags) and max(lags) > 0  # 0 until a worker's writer has reported

    wait_until(reported, 5, "a write lag reported")
    assert max(lags) < 5  # records reach the file within a flush interval or so


def test_metrics_need_the_server_key_and_are_not_recorded(measured):
    refused = httpx.get(f"{measured.base_url}/metrics")
    assert refused.status_code == 401 and refused.json()["error"]["type"] == "invalid_request_error"
    assert httpx.get(f"{measured.base_url}/metrics", headers={"x-api-key": METERED_KEY}).status_code == 403
    time.sleep(0.5)
    rows = httpx.get(f"{measured.base_url}/admin/activity", params={"limit": 500},
                     headers={"x-api-key": SERVER_KEY}).json()["data"]
    assert not [row for row in rows if row["path"] == "/metrics"]


def test_a_restart_starts_the_counters_from_zero(upstreams, tmp_path):
    config = gateway_config(upstreams)
    server = start_gateway(config, tmp_path)
    try:
        httpx.post(f"{server.openai_url}/chat/completions", headers={"x-api-key": SERVER_KEY},
                   json={"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]})
        assert total(samples(server), "gatehouse_requests_total", client="server") == 1
    finally:
        server.stop()
    again = start_gateway(config, tmp_path)
    try:
        assert total(samples(again), "gatehouse_requests_total", client="server") == 0
    finally:
        again.stop()


def test_a_metrics_port_of_its_own_answers_prometheus_without_a_key(upstreams, tmp_path):
    port = free_port()
    server = start_gateway(gateway_config(upstreams, workers=2, metrics_port=port), tmp_path)
    try:
        for _ in range(4):
            httpx.post(f"{server.openai_url}/chat/completions",
                       headers={"x-api-key": SERVER_KEY, "x-client-id": "open"}, json={"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]})
        found: dict = {}

        def counted() -> bool:
            answer = httpx.get(f"http://127.0.0.1:{port}/metrics")  # no key: a port for Prometheus
            assert answer.status_code == 200
            found.update({(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                          for family in text_string_to_metric_families(answer.text) for sample in family.samples})
            return total(found, "gatehouse_requests_total", client="open") == 4

        wait_until(counted, 5, "the four requests on the metrics port")
        assert httpx.get(f"{server.base_url}/metrics").status_code == 401  # the API's port still wants the key
    finally:
        server.stop()


def test_the_metrics_port_cannot_be_the_api_port(upstreams, tmp_path):
    with pytest.raises(ConfigError) as caught:
        parse_config({"server": {"api_key": "0123456789", "port": 9000, "metrics_port": 9000}}, tmp_path / "c.toml",
                     environ={})
    assert ("server.metrics_port", "must differ from server.port (the API's own port)") in caught.value.problems
