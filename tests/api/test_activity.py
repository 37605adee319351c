"""Activity records and the admin API over a real server with 2 workers writing one SQLite file."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import anthropic
import httpx
import openai
import pytest

from api.store.activity import ActivityStore
from api.core.auth import fingerprint
from tests.conftest import UPSTREAM_KEY, WRITER_KEY, gateway_config
from tests.fixtures.fake_openai import start_fake_openai, stop_fake_openai
from tests.gateway import SERVER_KEY, SERVER_SECTION, free_port, start_gateway, wait_until

ADMIN = {"X-API-Key": SERVER_KEY}
HELLO = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def server(upstreams, tmp_path_factory):
    gateway = start_gateway(gateway_config(upstreams, workers=2), tmp_path_factory.mktemp("activity"))
    yield gateway
    gateway.stop()


def records(server, **filters) -> list[dict]:
    response = httpx.get(f"{server.base_url}/admin/activity", params={"limit": 1000, **filters}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def wait_for_records(server, count: int, **filters) -> list[dict]:
    wait_until(lambda: len(records(server, **filters)) >= count, 5, f"{count} records")
    return records(server, **filters)


def record_of(server, request_id: str) -> dict:
    """The record of one request, once written."""
    found = []
    wait_until(lambda: found.extend(r for r in records(server) if r["request_id"] == request_id) or found, 5,
               f"the record of {request_id}")
    return found[0]


async def burst(server, run: str, count: int) -> None:
    """`count` concurrent requests from three clients, half of them streamed, tagged with `run`."""
    plain = openai.AsyncOpenAI(base_url=server.openai_url, api_key=SERVER_KEY, max_retries=0)
    writer = openai.AsyncOpenAI(base_url=server.openai_url, api_key=WRITER_KEY, max_retries=0)
    claude = anthropic.AsyncAnthropic(base_url=server.base_url, api_key=SERVER_KEY, max_retries=0,
                                      default_headers={"X-Client-Id": f"{run}-claude"})

    async def one(i: int) -> None:
        headers = {"X-Request-Id": f"{run}-{i}", "X-Client-Id": f"{run}-sdk"}
        if i % 3 == 2:
            async with claude.messages.stream(model="anth:claude-fake-sonnet", max_tokens=50, messages=HELLO,
                                              extra_headers={"X-Request-Id": f"{run}-{i}"}) as stream:
                await stream.get_final_message()
        elif i % 2:
            stream = await plain.chat.completions.create(model="fake:gpt-fake", messages=HELLO, stream=True,
                                                         stream_options={"include_usage": True},
                                                         extra_headers=headers)
            async for _ in stream:
                pass
        else:
            client = writer if i % 4 == 0 else plain
            await client.chat.completions.create(model="fake:gpt-fake", messages=HELLO, extra_headers=headers)

    await asyncio.gather(*(one(i) for i in range(count)))


def test_concurrent_requests_give_exactly_one_record_each(server):
    asyncio.run(burst(server, "burst", 60))
    time.sleep(1)  # anything extra would have been written by now
    found = [r for r in records(server) if r["request_id"].startswith("burst-")]
    assert sorted(r["request_id"] for r in found) == sorted(f"burst-{i}" for i in range(60))
    for record in found:
        i = int(record["request_id"].split("-")[1])
        assert record["status"] == 200 and record["error"] is None and record["latency_ms"] > 0
        assert record["stream"] == (i % 3 == 2 or i % 2 == 1)
        assert record["total_tokens"] == record["input_tokens"] + record["output_tokens"]
        assert record["output_tokens"] == 3 and not record["tokens_estimated"]
        assert record["request_bytes"] > 0 and record["response_bytes"] > 0
        if i % 3 == 2:
            assert (record["client"], record["dialect_in"], record["model"]) == \
                ("burst-claude", "anthropic", "anth:claude-fake-sonnet")
            assert record["ttfb_ms"] is not None and record["key_id"] == fingerprint(SERVER_KEY.encode())
        elif i % 4 == 0:
            assert (record["client"], record["key_id"]) == ("writer", fingerprint(WRITER_KEY.encode()))
        else:
            assert (record["client"], record["dialect_out"], record["provider"]) == ("burst-sdk", "openai", "fake")
            assert record["key_id"] == fingerprint(SERVER_KEY.encode())


def test_streams_without_reported_usage_are_estimated_and_marked(server):
    client = openai.OpenAI(base_url=server.openai_url, api_key=SERVER_KEY, max_retries=0)
    for _ in client.chat.completions.create(model="fake:gpt-fake", messages=HELLO, stream=True,
                                            extra_body={"fake": {"chunks": 7}},
                                            extra_headers={"X-Request-Id": "estimated-1"}):
        pass
    record = record_of(server, "estimated-1")
    assert record["tokens_estimated"] and record["output_tokens"] == 7


def test_translated_answers_without_reported_usage_record_what_the_client_was_told(server):
    """An OpenAI-type provider that reports no usage: the Anthropic client gets the translation's
    estimate, whole or streamed, and the record has the same figures, marked estimated (they were
    0 and 0, or null)."""
    claude = anthropic.Anthropic(base_url=server.base_url, api_key=SERVER_KEY, max_retries=0)
    no_usage = {"fake": {"chunks": 5, "no_usage": True}}
    with claude.messages.stream(model="fake:gpt-fake", max_tokens=50, messages=HELLO, extra_body=no_usage,
                                extra_headers={"X-Request-Id": "estimated-stream"}) as stream:
        streamed = stream.get_final_message().usage
    whole = claude.messages.create(model="fake:gpt-fake", max_tokens=50, messages=HELLO, extra_body=no_usage,
                                   extra_headers={"X-Request-Id": "estimated-whole"}).usage
    assert streamed.output_tokens == 5 and whole.output_tokens > 0
    assert streamed.input_tokens == whole.input_tokens > 0
    for request_id, told in (("estimated-stream", streamed), ("estimated-whole", whole)):
        record = record_of(server, request_id)
        assert (record["input_tokens"], record["output_tokens"]) == (told.input_tokens, told.output_tokens)
        assert record["tokens_estimated"]


def test_a_large_answers_usage_is_recorded(server):
    client = openai.OpenAI(base_url=server.openai_url, api_key=SERVER_KEY, max_retries=0)
    words = [f"word {i} and more" for i in range(3000)]
    answer = client.embeddings.with_raw_response.create(model="fake:text-embedding-fake", input=words,
                                                        extra_headers={"X-Request-Id": "large-1"})
    assert len(answer.content) > 100_000
    record = record_of(server, "large-1")
    assert record["input_tokens"] == answer.parse().usage.prompt_tokens == 4 * 3000
    assert record["response_bytes"] == len(answer.content)


def test_errors_are_recorded_with_their_message(server):
    client = openai.OpenAI(base_url=server.openai_url, api_key=SERVER_KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="fake:nope", messages=HELLO, extra_headers={"X-Client-Id": "oops"})
    httpx.get(f"{server.openai_url}/models", headers={"X-API-Key": "wrong-key-1234"})
    failed = wait_for_records(server, 1, client="oops")
    assert failed[0]["status"] == 404 and "does not exist" in failed[0]["error"]
    rejected = wait_for_records(server, 1, status=401)[0]
    assert rejected["key_id"].startswith("k-") and rejected["error"].startswith("Incorrect API key")


def test_filters_and_paging(server):
    asyncio.run(burst(server, "paging", 12))
    everything = wait_for_records(server, 6, client="paging-sdk")  # i = 1, 3, 6, 7, 9, 10 of 12
    first = records(server, client="paging-sdk", limit=2)
    response = httpx.get(f"{server.base_url}/admin/activity", headers=ADMIN,
                         params={"client": "paging-sdk", "limit": 2, "before_id": first[-1]["id"]})
    assert first + response.json()["data"] == everything[:4]
    assert all(r["model"] == "anth:claude-fake-sonnet" for r in records(server, model="anth:claude-fake-sonnet"))
    assert records(server, status="error") and all(r["status"] >= 400 or r["error"]
                                                   for r in records(server, status="error"))
    newest = everything[0]["id"]
    assert records(server, since_id=newest - 1)[-1]["id"] == newest


def test_the_live_tail_delivers_records_of_both_workers(server):
    seen, ready = {}, threading.Event()

    def tail() -> None:
        with httpx.stream("GET", f"{server.base_url}/admin/activity/stream", headers=ADMIN, timeout=30) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                ready.set()
                if line.startswith("data: "):
                    record = json.loads(line[6:])
                    seen[record["request_id"]] = record["worker"]

    threading.Thread(target=tail, daemon=True).start()
    assert ready.wait(10)
    sent, deadline = [], time.monotonic() + 20

    async def fresh_connections(batch: int) -> None:  # new connections spread over both workers
        async def one(i: int) -> None:
            async with httpx.AsyncClient() as fresh:
                await fresh.get(f"{server.openai_url}/models", headers={**ADMIN, "X-Request-Id": f"tail-{i}"})
        await asyncio.gather(*(one(i) for i in range(batch, batch + 10)))
        sent.extend(f"tail-{i}" for i in range(batch, batch + 10))

    while len({seen.get(request_id) for request_id in sent} - {None}) < 2 and time.monotonic() < deadline:
        asyncio.run(fresh_connections(len(sent)))
        time.sleep(0.5)
    wait_until(lambda: all(request_id in seen for request_id in sent), 5, "every record in the tail")
    assert len({seen[request_id] for request_id in sent}) == 2


def test_time_windows_take_epoch_seconds_or_iso_times(server):
    asyncio.run(burst(server, "window", 4))
    newest = wait_for_records(server, 1, client="window-sdk")[0]
    moment = datetime.fromtimestamp(newest["ts"], timezone.utc)
    for since in (newest["ts"] - 0.001, (moment - timedelta(milliseconds=1)).isoformat().replace("+00:00", "Z")):
        assert newest in records(server, client="window-sdk", since=since)
    assert newest not in records(server, client="window-sdk", until=newest["ts"] - 60)
    for path in ("/admin/activity", "/admin/usage"):
        for bad in ("yesterday", "nan", "inf", "2026-13-01"):
            response = httpx.get(f"{server.base_url}{path}", params={"since": bad}, headers=ADMIN)
            assert response.status_code == 400 and response.json()["error"]["param"] == "since", (path, bad)


def test_a_stream_broken_off_after_its_200_counts_as_an_error(server):
    claude = anthropic.Anthropic(base_url=server.base_url, api_key=SERVER_KEY, max_retries=0,
                                 default_headers={"X-Client-Id": "broken-off"})
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        with claude.messages.stream(model="anth:claude-fake-sonnet", max_tokens=50, messages=HELLO,
                                    extra_body={"fake": {"chunks": 4, "error_event_after_chunks": 2}}) as stream:
            stream.get_final_message()
    [record] = wait_for_records(server, 1, client="broken-off")
    assert (record["status"], record["error"]) == (200, "Overloaded")
    assert records(server, client="broken-off", status="error") == [record]
    assert records(server, client="broken-off", status="ok") == []
    report = httpx.get(f"{server.base_url}/admin/usage", headers=ADMIN).json()
    assert next(r for r in report["by_client"] if r["client"] == "broken-off")["errors"] == 1


def test_usage_per_client_and_model(server):
    asyncio.run(burst(server, "usage", 6))
    wait_for_records(server, 2, client="usage-sdk")  # requests 1 and 3 of the burst (0 and 4 use the writer key)
    report = httpx.get(f"{server.base_url}/admin/usage", headers=ADMIN).json()
    row = next(r for r in report["by_client_and_model"] if r["client"] == "usage-sdk")
    sdk = records(server, client="usage-sdk")
    assert row["requests"] == len(sdk) and row["total_tokens"] == sum(r["total_tokens"] for r in sdk)
    assert report["total"]["requests"] >= row["requests"]


def test_client_settings_and_config_are_shown_without_secrets(server):
    writer = httpx.get(f"{server.base_url}/admin/clients/writer", headers=ADMIN).json()
    assert writer["model"] == {"id": "fake:gpt-fake-mini", "provider": "fake", "upstream_id": "gpt-fake-mini",
                               "error": None}
    assert writer["prompt"] == {"name": "poet", "text": "You are a poet."} and writer["temperature"] == 0.3
    assert writer["own_api_key"] is True
    stranger = httpx.get(f"{server.base_url}/admin/clients/stranger", headers=ADMIN).json()
    assert stranger["settings_from"] == "server" and not stranger["configured"]
    names = [c["name"] for c in httpx.get(f"{server.base_url}/admin/clients", headers=ADMIN).json()["data"]]
    assert names[0] == "server" and "writer" in names
    config = httpx.get(f"{server.base_url}/admin/config", headers=ADMIN).json()
    assert config["providers"]["fake"]["api_key"] == "<redacted>" and config["server"]["port"]


def test_no_admin_response_or_record_holds_a_secret(server):
    asyncio.run(burst(server, "secrets", 6))
    wait_for_records(server, 2, client="secrets-sdk")
    raw = b""
    for path in ("/admin/status", "/admin/config", "/admin/clients", "/admin/clients/writer", "/admin/activity",
                 "/admin/usage", "/admin/providers", "/admin/providers/fake?refresh=true", "/metrics",
                 "/admin/limits", "/admin/prices"):
        raw += httpx.get(f"{server.base_url}{path}", headers=ADMIN).content
    database = server.config_path.parent / "data" / "activity.sqlite3"
    for file in database.parent.rglob("*"):  # the ledger and the metrics' files too
        if file.is_file():
            raw += file.read_bytes()
    for secret in (SERVER_KEY, WRITER_KEY, UPSTREAM_KEY):
        assert secret.encode() not in raw


def test_a_provider_with_configured_models_is_unreachable_while_its_requests_cannot_connect(tmp_path):
    """Its models are never asked for, so its requests tell whether it answers: /admin/status and
    /admin/providers say so after a request fails to connect, and again once one connects."""
    port = free_port()
    config = SERVER_SECTION + f'''
[providers.later]
type = "openai"
base_url = "http://127.0.0.1:{port}/v1"
models = ["gpt-fake"]
'''
    gateway = start_gateway(config, tmp_path)
    client = openai.OpenAI(base_url=gateway.openai_url, api_key=SERVER_KEY, max_retries=0)

    def seen() -> tuple[dict, dict]:
        status = httpx.get(f"{gateway.base_url}/admin/status", headers=ADMIN).json()["providers"][0]
        return status, httpx.get(f"{gateway.base_url}/admin/providers/later", headers=ADMIN).json()

    try:
        assert all(view["reachable"] for view in seen())  # nothing says otherwise yet
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model="later:gpt-fake", messages=HELLO)
        for view in seen():
            assert view["reachable"] is False and "provider 'later' is unreachable" in view["error"]
        upstream, _ = start_fake_openai(port=port)
        try:
            client.chat.completions.create(model="later:gpt-fake", messages=HELLO)
            assert all(view["reachable"] and view["error"] is None for view in seen())
        finally:
            stop_fake_openai(upstream)
    finally:
        gateway.stop()


def test_client_keys_cannot_use_the_admin_api(server):
    for path in ("/admin/status", "/admin/config", "/admin/clients", "/admin/activity", "/admin/usage",
                 "/admin/activity/stream", "/admin/providers", "/admin/providers/fake"):
        response = httpx.get(f"{server.base_url}{path}", headers={"X-API-Key": WRITER_KEY})
        assert response.status_code == 403, path


def test_providers_view_lists_each_providers_models_and_reachability(server):
    response = httpx.get(f"{server.base_url}/admin/providers", headers=ADMIN)
    providers = {entry["id"]: entry for entry in response.json()["data"]}
    assert list(providers) == ["fake", "fixed", "ollama", "anth", "down"]
    assert providers["fake"]["reachable"] and "fake:gpt-fake-mini" in providers["fake"]["models"]
    assert providers["fixed"]["models"] == ["fixed:gpt-fake", "fixed:gpt-fake-fixed"]
    assert providers["fixed"]["models_configured"] and providers["anth"]["type"] == "anthropic"
    down = providers["down"]
    assert not down["reachable"] and "unreachable" in down["error"] and down["models"] == []

    tested = httpx.get(f"{server.base_url}/admin/providers/fake", params={"refresh": "true"}, headers=ADMIN)
    assert tested.status_code == 200 and tested.json()["models"] == providers["fake"]["models"]
    assert "check" not in tested.json()  # its list was asked for: that was the test
    missing = httpx.get(f"{server.base_url}/admin/providers/nope", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "provider_not_found"


def test_testing_a_provider_with_configured_models_asks_it_all_the_same(server, gateway):
    def tested(gateway) -> dict:
        return httpx.get(f"{gateway.base_url}/admin/providers/fixed", params={"refresh": "true"},
                         headers=ADMIN).json()

    # Its key comes from $TEST_FIXED_KEY, which only the session's gateway has.
    answered = tested(gateway)
    assert answered["models"] == ["fixed:gpt-fake", "fixed:gpt-fake-fixed"]  # still the configured list
    assert answered["check"] == {"answered": True, "error": None, "not_listed": ["gpt-fake-fixed"]}
    refused = tested(server)["check"]
    assert not refused["answered"] and "answered 401" in refused["error"] and refused["not_listed"] is None
    assert "check" not in httpx.get(f"{gateway.base_url}/admin/providers/fixed", headers=ADMIN).json()


def test_retention_by_rows_and_age(upstreams, tmp_path):
    limited = start_gateway(gateway_config(upstreams) + "\n[activity]\nmax_rows = 5\nretention_days = 0.00005\n",
                            tmp_path)
    try:
        client = openai.OpenAI(base_url=limited.openai_url, api_key=SERVER_KEY, max_retries=0)
        for _ in range(12):
            client.models.list()
        wait_until(lambda: len(records(limited)) == 5, 6, "pruning to 5 rows")
        wait_until(lambda: len(records(limited)) == 0, 12, "pruning by age (about 4 s)")
    finally:
        limited.stop()


def test_a_graceful_stop_loses_no_record(upstreams, tmp_path):
    stopping = start_gateway(gateway_config(upstreams, workers=2), tmp_path)
    asyncio.run(burst(stopping, "stop", 40))
    stopping.stop()  # right away: records may still be buffered
    database = sqlite3.connect(tmp_path / "data" / "activity.sqlite3")
    ids = {row[0] for row in database.execute("SELECT request_id FROM activity WHERE request_id LIKE 'stop-%'")}
    assert ids == {f"stop-{i}" for i in range(40)}


def test_a_live_tail_does_not_hold_up_a_stop(upstreams, tmp_path):
    tailing = start_gateway(gateway_config(upstreams), tmp_path)
    ended = threading.Event()

    def tail() -> None:
        with httpx.stream("GET", f"{tailing.base_url}/admin/activity/stream", headers=ADMIN, timeout=30) as response:
            for _ in response.iter_lines():
                pass
        ended.set()

    threading.Thread(target=tail, daemon=True).start()
    time.sleep(0.5)
    started = time.monotonic()
    output = tailing.stop()
    assert ended.wait(5) and time.monotonic() - started < 5
    assert "Killing worker" not in output


def _open_when_released(path, barrier, problems) -> None:
    barrier.wait()
    try:
        ActivityStore(path)
    except sqlite3.Error as exc:
        problems.put(repr(exc))


def test_processes_that_open_a_new_activity_file_at_once_all_succeed(tmp_path):
    """Workers and their writers open the file together; SQLite refuses a simultaneous switch to
    WAL at once instead of waiting (this once failed a 2-worker server start in CI)."""
    context = multiprocessing.get_context("fork")
    problems = context.Queue()
    for attempt in range(100):
        barrier = context.Barrier(4)
        path = tmp_path / f"{attempt}.sqlite3"
        processes = [context.Process(target=_open_when_released, args=(path, barrier, problems)) for _ in range(4)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(30)
        assert problems.empty(), f"attempt {attempt}: {problems.get()}"
        assert [process.exitcode for process in processes] == [0] * 4
        mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"

