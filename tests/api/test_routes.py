"""Routes (`[routes.NAME]`, docs/routes.md) on a real gateway in front of the fake upstreams: retries that honour
retry-after, fallback to the next target, the cool-down of a failing target, streams that fall back only before
their first byte, what is not retried, and every try in the activity."""

from __future__ import annotations

import time
import tomllib
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from api.config.settings import ConfigError, parse_config
from tests.conftest import UPSTREAM_KEY, WRITER_KEY, activity_of, anthropic_sdk, gateway_config, openai_sdk, upstream_record
from tests.api.test_metrics import samples, total
from tests.gateway import SERVER_KEY, start_gateway, wait_until

ROUTES = """
[providers.primary]
type = "openai"
base_url = "{upstream}/v1"
api_key = "{upstream_key}"
models = ["gpt-fake-primary", "gpt-fake-breaker", "gpt-fake-slow", "gpt-fake-calm"]

[providers.backup]
type = "openai"
base_url = "{upstream}/v1"
api_key = "{upstream_key}"
models = ["gpt-fake-backup"]

[routes.steady]
targets = ["primary:gpt-fake-primary", "backup:gpt-fake-backup"]
failures = 1000  # never cooled down: each test's failures are its own

[routes.dead]
targets = ["down:gpt-dead", "backup:gpt-fake-backup"]
retries = 1
failures = 1000

[routes.breaker]
targets = ["primary:gpt-fake-breaker", "backup:gpt-fake-backup"]
retries = 0
failures = 1
cooldown_s = 600

[routes.cross]
targets = ["down:gpt-cross", "anth:claude-fake-sonnet"]
retries = 0

[routes.doomed]
targets = ["down:gpt-doomed", "primary:gpt-fake-primary"]
retries = 1
failures = 1000

[routes.weighted]
targets = ["primary:gpt-fake-primary", "backup:gpt-fake-backup"]
strategy = "weighted"
weights = [1, 9]

[routes.counted]
targets = ["down:gpt-counted", "backup:gpt-fake-backup"]
retries = 1

[routes.newest]
targets = ["anth:claude-fake-opus-4-7"]

[routes.embedder]
targets = ["down:text-embedding-down", "fake:text-embedding-fake"]
retries = 0

[clients.routed]
api_key = "key-of-routed-0123456789"
model = "route:steady"

[clients.metered]
api_key = "key-of-metered-0123456789"
rpm = 2

[routes.gpt-fake-backup]  # a provider has a model of this name: the bare name reaches that model, not the route
targets = ["primary:gpt-fake-primary"]

[routes.calmest]
targets = ["primary:gpt-fake-calm", "backup:gpt-fake-backup"]
strategy = "least-busy"

[routes.quickest]
targets = ["primary:gpt-fake-slow", "backup:gpt-fake-backup"]
strategy = "lowest-latency"
"""
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def routed(upstreams, tmp_path_factory):
    upstream, _ = upstreams
    text = gateway_config(upstreams) + ROUTES.replace("{upstream}", upstream).replace("{upstream_key}", UPSTREAM_KEY)
    server = start_gateway(text, tmp_path_factory.mktemp("routes"))
    yield server
    server.stop()


@pytest.fixture
def http(routed):
    with httpx.Client(base_url=routed.base_url, timeout=30) as session:
        yield session


def chat(server, model: str, *, fake: dict | None = None, stream: bool = False):
    """A chat request through the OpenAI SDK (no SDK retries); the raw response, with its request id."""
    request_id = f"route-{uuid.uuid4().hex}"
    extra = {"fake": fake} if fake else None
    response = openai_sdk(server).chat.completions.with_raw_response.create(
        model=model, messages=HELLO, stream=stream, extra_body=extra, extra_headers={"x-request-id": request_id})
    return response, request_id


def tries(http, request_id: str) -> list[tuple[str, int | None]]:
    record = activity_of(http, request_id)
    return [(attempt["target"], attempt["status"]) for attempt in record["attempts"]]


def test_a_target_answering_429_is_tried_again_after_its_retry_after(routed, http, upstream):
    began = time.monotonic()
    response, request_id = chat(routed, "route:steady", fake={
        "models": {"gpt-fake-primary": {"error_status": 429, "fail_times": 1, "retry_after": 1}}})
    waited = time.monotonic() - began
    completion = response.parse()
    assert response.status_code == 200 and completion.choices[0].message.content == "echo: hello"
    assert completion.model == "gpt-fake-primary"
    assert response.headers["x-gatehouse-target"] == "primary:gpt-fake-primary"
    assert waited >= 0.95  # the provider asked for a second
    assert upstream_record(upstream, request_id)["attempts"] == 2
    record = activity_of(http, request_id)
    assert record["route"] == "steady" and record["status"] == 200 and record["error"] is None
    assert record["model"] == "primary:gpt-fake-primary"
    assert [(a["target"], a["status"]) for a in record["attempts"]] == [
        ("primary:gpt-fake-primary", 429), ("primary:gpt-fake-primary", 200)]
    assert "Rate limit reached" in record["attempts"][0]["error"]


def test_retry_after_ms_is_honoured_too(routed, upstream):
    began = time.monotonic()
    response, request_id = chat(routed, "route:steady", fake={
        "models": {"gpt-fake-primary": {"error_status": 503, "fail_times": 1, "retry_after_ms": 400}}})
    assert response.status_code == 200 and response.headers["x-gatehouse-target"] == "primary:gpt-fake-primary"
    assert time.monotonic() - began >= 0.38
    assert upstream_record(upstream, request_id)["attempts"] == 2


def test_a_least_busy_route_sends_a_request_past_a_target_that_is_busy(routed):
    slow = {"models": {"gpt-fake-calm": {"delay_ms": 1500}}}
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(chat, routed, "route:calmest", fake=slow)
        time.sleep(0.4)  # the first is in flight on the first target
        second = pool.submit(chat, routed, "route:calmest", fake=slow)
        targets = [future.result()[0].headers["x-gatehouse-target"] for future in (first, second)]
    assert targets == ["primary:gpt-fake-calm", "backup:gpt-fake-backup"]


def test_a_target_that_is_down_passes_the_request_to_the_next(routed, http):
    response, request_id = chat(routed, "route:dead")
    assert response.status_code == 200 and response.parse().model == "gpt-fake-backup"
    assert response.headers["x-gatehouse-target"] == "backup:gpt-fake-backup"
    assert tries(http, request_id) == [("down:gpt-dead", 502), ("down:gpt-dead", 502), ("backup:gpt-fake-backup", 200)]
    assert "unreachable" in activity_of(http, request_id)["attempts"][0]["error"]


def test_a_later_try_sends_the_request_as_it_came_completed_once_with_the_clients_settings(routed, http, upstream):
    writer = openai.OpenAI(base_url=routed.openai_url, api_key=WRITER_KEY, max_retries=0)
    request_id = f"route-{uuid.uuid4().hex}"
    failing = {"models": {"gpt-fake-primary": {"error_status": 500}}}
    answer = writer.chat.completions.with_raw_response.create(
        model="route:steady", messages=HELLO, extra_body={"fake": failing}, extra_headers={"x-request-id": request_id})
    assert answer.headers["x-gatehouse-target"] == "backup:gpt-fake-backup"
    assert [status for _, status in tries(http, request_id)][-1] == 200 and len(tries(http, request_id)) > 1
    sent = upstream_record(upstream, request_id)["body"]  # the last try's
    assert sent["model"] == "gpt-fake-backup"
    assert sent["messages"] == [{"role": "system", "content": "You are a poet."}, *HELLO]  # the prompt once
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"]) == (0.3, 0.9, 50)


def test_sampling_defaults_are_left_out_for_a_target_that_refuses_them(routed, anthropic_upstream):
    # the writer's temperature and top_p defaults, on a route to Claude Opus 4.7 (which answers 400 to either),
    # from Anthropic's own dialect (sent to the provider as they are, no translation to strip them)
    writer = anthropic.Anthropic(base_url=routed.base_url, api_key=WRITER_KEY, max_retries=0)
    request_id = f"route-{uuid.uuid4().hex}"
    message = writer.messages.create(model="route:newest", max_tokens=20, messages=HELLO,
                                     extra_headers={"x-request-id": request_id})
    assert message.content
    sent = upstream_record(anthropic_upstream, request_id)["body"]
    assert sent["model"] == "claude-fake-opus-4-7" and "temperature" not in sent and "top_p" not in sent
    assert sent["system"] == "You are a poet."  # the client's other settings still apply


def test_a_target_that_keeps_failing_is_cooled_down_and_skipped(routed, http, upstream):
    failing = {"models": {"gpt-fake-breaker": {"error_status": 500}}}
    first, first_id = chat(routed, "route:breaker", fake=failing)
    assert first.status_code == 200
    assert tries(http, first_id) == [("primary:gpt-fake-breaker", 500), ("backup:gpt-fake-backup", 200)]
    second, second_id = chat(routed, "route:breaker", fake=failing)
    assert second.status_code == 200 and second.headers["x-gatehouse-target"] == "backup:gpt-fake-backup"
    seen = upstream_record(upstream, second_id)
    assert seen["attempts"] == 1 and seen["body"]["model"] == "gpt-fake-backup"  # the failing target was not asked
    record = activity_of(http, second_id)
    assert record["attempts"][0] == {"target": "primary:gpt-fake-breaker", "status": None, "latency_ms": 0.0,
                                     "error": "skipped: cooling down"}


@pytest.mark.parametrize("broken", [
    {"raw_body": "", "raw_content_type": "text/event-stream"},
    {"raw_body": 'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n',
     "raw_content_type": "text/event-stream"},
    {"error_status": 503},
], ids=["ends at once", "error event first", "error status"])
def test_a_stream_that_fails_before_its_first_byte_falls_back(routed, http, broken):
    response, request_id = chat(routed, "route:steady", stream=True, fake={"models": {"gpt-fake-primary": broken}})
    text = "".join(chunk.choices[0].delta.content or "" for chunk in response.parse() if chunk.choices)
    assert text == "echo: hello"
    assert response.headers["x-gatehouse-target"] == "backup:gpt-fake-backup"
    attempts = tries(http, request_id)
    assert attempts[-1] == ("backup:gpt-fake-backup", 200)
    assert all(target == "primary:gpt-fake-primary" for target, _ in attempts[:-1]) and len(attempts) == 4


def test_a_stream_that_fails_after_its_first_byte_ends_with_an_error_event(routed, http, upstream):
    response, request_id = chat(routed, "route:steady", stream=True,
                                fake={"chunks": 4, "models": {"gpt-fake-primary": {"fail_after_chunks": 2}}})
    received = []
    with pytest.raises(openai.APIError):
        for chunk in response.parse():
            received.extend(choice.delta.content or "" for choice in chunk.choices)
    assert "".join(received).startswith("echo")  # what the first target sent reached the client
    assert upstream_record(upstream, request_id)["body"]["model"] == "gpt-fake-primary"  # no other target asked
    record = activity_of(http, request_id)
    assert [(a["target"], a["status"]) for a in record["attempts"]] == [("primary:gpt-fake-primary", 200)]
    assert record["error"]


def test_a_bad_request_is_answered_at_once_without_retries_or_fallback(routed, http, upstream):
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        chat(routed, "route:steady", fake={"models": {"gpt-fake-primary": {"error_status": 422}}})
    assert caught.value.response.headers["x-gatehouse-target"] == "primary:gpt-fake-primary"
    request_id = caught.value.response.headers["x-request-id"]
    assert upstream_record(upstream, request_id)["attempts"] == 1
    assert tries(http, request_id) == [("primary:gpt-fake-primary", 422)]


def test_a_prompt_too_long_for_a_target_goes_to_the_next(routed, http):
    response, request_id = chat(routed, "route:steady", fake={"models": {"gpt-fake-primary": {"error_status": 400}}})
    assert response.status_code == 200 and response.parse().model == "gpt-fake-backup"
    assert tries(http, request_id) == [("primary:gpt-fake-primary", 400), ("backup:gpt-fake-backup", 200)]


def test_when_every_target_fails_the_last_failure_is_the_answer(routed, http):
    with pytest.raises(openai.InternalServerError) as caught:
        chat(routed, "route:doomed", fake={"models": {"gpt-fake-primary": {"error_status": 503}}})
    failure = caught.value
    assert failure.status_code == 503 and "overloaded" in failure.message
    assert failure.response.headers["x-gatehouse-target"] == "primary:gpt-fake-primary"
    request_id = failure.response.headers["x-request-id"]
    record = activity_of(http, request_id)
    assert record["status"] == 503 and "overloaded" in record["error"]
    assert [a["status"] for a in record["attempts"]] == [502, 502, 503, 503]


def test_routes_are_listed_and_reachable_by_either_name_from_both_sdks(routed, http):
    listed = {model.id: model for model in openai_sdk(routed).models.list()}
    steady = listed["route:steady"]
    assert steady.owned_by == "gatehouse" and steady.model_extra["provider_type"] == "route"
    assert steady.model_extra["targets"] == ["primary:gpt-fake-primary", "backup:gpt-fake-backup"]
    assert http.get("/v1/models/steady", headers={"authorization": f"Bearer {SERVER_KEY}"}).json()["id"] == \
        "route:steady"
    only_routes = http.get("/v1/models", params={"provider_type": "route"},
                           headers={"authorization": f"Bearer {SERVER_KEY}"}).json()["data"]
    assert {model["id"] for model in only_routes} == {f"route:{name}" for name in (
        "either", "steady", "dead", "breaker", "cross", "doomed", "weighted", "quickest", "counted", "calmest",
        "embedder", "newest", "gpt-fake-backup")}
    assert "route:steady" in [model.id for model in anthropic_sdk(routed).models.list(limit=1000)]

    bare, _ = chat(routed, "steady")  # no provider has a model called so
    assert bare.parse().model == "gpt-fake-primary"
    shadowed, _ = chat(routed, "gpt-fake-backup")  # a provider has: its model comes first
    assert shadowed.parse().model == "gpt-fake-backup" and "x-gatehouse-target" not in shadowed.headers
    named, _ = chat(routed, "route:gpt-fake-backup")
    assert named.parse().model == "gpt-fake-primary" and named.headers["x-gatehouse-target"] == "primary:gpt-fake-primary"
    message = anthropic_sdk(routed).messages.create(model="route:steady", max_tokens=50, messages=HELLO)
    assert message.content[0].text == "echo: hello"  # an OpenAI-type target, translated
    crossed, request_id = chat(routed, "route:cross")  # an Anthropic-type target, translated the other way
    assert crossed.headers["x-gatehouse-target"] == "anth:claude-fake-sonnet"
    assert crossed.parse().choices[0].message.content
    assert tries(http, request_id) == [("down:gpt-cross", 502), ("anth:claude-fake-sonnet", 200)]
    native = anthropic_sdk(routed).messages.with_raw_response.create(model="route:cross", max_tokens=50,
                                                                    messages=HELLO)
    assert native.headers["x-gatehouse-target"] == "anth:claude-fake-sonnet"


def test_routes_serve_the_responses_api_embeddings_and_a_clients_default_model(routed, http):
    sdk = openai_sdk(routed)
    response = sdk.responses.create(model="route:cross", input="hello")  # down, then an Anthropic-type target
    assert response.output_text and response.model == "claude-fake-sonnet"
    vectors = sdk.embeddings.with_raw_response.create(model="route:embedder", input=["one", "two"])
    assert len(vectors.parse().data) == 2
    assert vectors.headers["x-gatehouse-target"] == "fake:text-embedding-fake"
    own = openai.OpenAI(base_url=routed.openai_url, api_key="key-of-routed-0123456789", max_retries=0)
    answer = own.chat.completions.with_raw_response.create(model="default", messages=HELLO)
    assert answer.headers["x-gatehouse-target"] == "primary:gpt-fake-primary"
    assert activity_of(http, answer.headers["x-request-id"])["route"] == "steady"


def test_count_tokens_through_a_route_is_counted_as_its_target_would_count_it(routed):
    sdk = anthropic_sdk(routed)
    counted = sdk.messages.with_raw_response.count_tokens(model="route:steady", messages=HELLO)
    assert counted.headers["x-gatehouse-target"] == "primary:gpt-fake-primary"
    direct = sdk.messages.count_tokens(model="primary:gpt-fake-primary", messages=HELLO)
    assert counted.parse().input_tokens == direct.input_tokens > 0


def test_an_unknown_route_is_a_model_not_found(routed):
    with pytest.raises(openai.NotFoundError) as caught:
        chat(routed, "route:nowhere")
    assert "route:nowhere" in caught.value.message
    with pytest.raises(anthropic.NotFoundError):
        anthropic_sdk(routed).messages.create(model="route:nowhere", max_tokens=5, messages=HELLO)


def test_weighted_routes_send_most_requests_to_the_heaviest_target(routed):
    # weights 1 : 9; 80 requests, so that the light target goes unpicked with a chance of 0.9^80 (2e-4), not 0.9^40
    # (1.5 %: this test once failed so)
    answered = Counter(chat(routed, "route:weighted")[0].headers["x-gatehouse-target"] for _ in range(80))
    assert answered["backup:gpt-fake-backup"] >= 52 and answered["primary:gpt-fake-primary"] >= 1


def test_lowest_latency_routes_learn_which_target_is_quicker(routed):
    slow = {"models": {"gpt-fake-slow": {"delay_ms": 300}}}
    answered = [chat(routed, "route:quickest", fake=slow)[0].headers["x-gatehouse-target"] for _ in range(5)]
    assert answered[:2] == ["primary:gpt-fake-slow", "backup:gpt-fake-backup"]  # each tried once, then
    assert answered[2:] == ["backup:gpt-fake-backup"] * 3  # the quicker one


def test_a_limited_client_is_counted_once_per_request_however_many_tries_it_takes(routed):
    metered = openai.OpenAI(base_url=routed.openai_url, api_key="key-of-metered-0123456789", max_retries=0)
    for _ in range(2):  # each takes three tries: two of the target that is down, one of the next
        assert metered.chat.completions.create(model="route:dead", messages=HELLO).model == "gpt-fake-backup"
    with pytest.raises(openai.RateLimitError) as caught:
        metered.chat.completions.create(model="route:dead", messages=HELLO)
    assert caught.value.response.headers["x-ratelimit-limit-requests"] == "2"


def test_tries_retries_and_fallbacks_are_counted_in_the_metrics(routed):
    chat(routed, "route:counted")
    found: dict = {}

    def counted() -> bool:
        found.update(samples(routed))
        return total(found, "gatehouse_requests_total", route="counted") == 1

    wait_until(counted, 5, "the request counted")
    assert total(found, "gatehouse_route_missed_tries_total", route="counted", target="down:gpt-counted",
                 outcome="failed") == 2
    assert total(found, "gatehouse_route_missed_tries_total", route="counted", target="backup:gpt-fake-backup") == 0
    assert total(found, "gatehouse_route_retries_total", route="counted", target="down:gpt-counted") == 1
    assert total(found, "gatehouse_route_fallbacks_total", route="counted") == 1
    assert total(found, "gatehouse_upstream_errors_total", provider="down", status="502") >= 2
    assert total(found, "gatehouse_requests_total", route="counted", model="backup:gpt-fake-backup",
                 status="200") == 1


def problems(routes: str) -> dict[str, str]:
    """The problems of a config with provider `a` and these routes, each key's joined."""
    data = {"server": {"api_key": "0123456789"}, "providers": {"a": {"type": "openai"}}} | tomllib.loads(routes)
    with pytest.raises(ConfigError) as caught:
        parse_config(data, path=Path("config.toml"), environ={})
    found: dict[str, str] = {}
    for key, message in caught.value.problems:
        found[key] = f"{found[key]}; {message}" if key in found else message
    return found


def test_bad_routes_are_refused_naming_the_key():
    found = problems("""
[routes.r]
targets = ["a:x", "b:y", "route:r", "plain"]
weights = [1]
[routes.none]
strategy = "fastest"
[routes.w]
targets = ["a:x", "a:y"]
strategy = "weighted"
weights = [1]
""")
    assert "'b:y': no [providers.b] (known providers: a)" in found["routes.r.targets"]
    assert "'route:r': a route cannot be a target" in found["routes.r.targets"]
    assert "'plain' is not a provider:model id" in found["routes.r.targets"]
    assert found["routes.r.weights"] == 'only with strategy = "weighted"'
    assert found["routes.none.targets"] == "missing"
    assert found["routes.none.strategy"].startswith("must be one of fallback, weighted")
    assert found["routes.w.weights"].startswith("one weight per target (2)")
    assert problems('[providers.route]\ntype = "openai"\n')["providers.route"].startswith("'route' is reserved")


def test_a_route_added_to_the_file_is_served_without_a_restart(upstreams, tmp_path):
    server = start_gateway(gateway_config(upstreams), tmp_path)
    try:
        with server.config_path.open("a") as config:
            config.write('\n[routes.fresh]\ntargets = ["down:gpt-fresh", "fake:gpt-fake"]\nretries = 0\n')

        def listed() -> bool:
            return "route:fresh" in [model.id for model in openai_sdk(server).models.list()]

        wait_until(listed, 10, "the new route listed")
        answer = openai_sdk(server).chat.completions.with_raw_response.create(model="fresh", messages=HELLO)
        assert answer.headers["x-gatehouse-target"] == "fake:gpt-fake"
    finally:
        server.stop()
