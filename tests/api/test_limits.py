"""Client limits and budgets (`[clients.NAME]` rpm, tpm, max_concurrent, budget) on a real two-worker gateway:
exact across workers, kept across restarts, refused in each dialect with the headers the SDKs read."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from api.config.settings import MAX_LIMITED_CLIENTS, ConfigError, load_config
from api.govern._gate import PERIOD, SPENT
from api.govern.ledger import Ledger, LedgerFull, prepare
from api.govern.limits import ledger_key, period_start
from tests.api.test_worker_lifecycle import workers
from tests.conftest import gateway_config
from tests.gateway import SERVER_KEY, start_gateway, wait_until, write_config

KEYS = {name: f"key-of-{name}-0123456789" for name in ("metered", "slow", "tokens", "thrifty", "open", "spender",
                                                        "dollars")}
CLIENTS = f"""
[clients.metered]
api_key = "{KEYS['metered']}"
rpm = 10

[clients.slow]
api_key = "{KEYS['slow']}"
max_concurrent = 2

[clients.tokens]
api_key = "{KEYS['tokens']}"
tpm = 40

[clients.thrifty]
api_key = "{KEYS['thrifty']}"
budget = {{ amount = 45, currency = "tokens", period = "day" }}

[clients.open]
api_key = "{KEYS['open']}"
"""


@pytest.fixture(scope="module")
def limited(upstreams, tmp_path_factory):
    directory = tmp_path_factory.mktemp("limits")
    server = start_gateway(gateway_config(upstreams, workers=2) + CLIENTS, directory)
    yield server
    server.stop()


def ask(server, client: str, **fake) -> httpx.Response:
    """One chat request of `client` over a connection of its own (so that either worker may take it)."""
    body = {"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]}
    if fake:
        body["fake"] = fake
    return httpx.post(f"{server.openai_url}/chat/completions", json=body, timeout=30,
                      headers={"authorization": f"Bearer {KEYS[client]}"})


def activity(server, client: str) -> list[dict]:
    def records():
        return httpx.get(f"{server.base_url}/admin/activity", params={"client": client, "limit": 500},
                         headers={"x-api-key": SERVER_KEY}).json()["data"]
    time.sleep(0.6)  # records reach the file within FLUSH_S
    return records()


def test_rpm_lets_exactly_its_number_through_across_two_workers(limited):
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: ask(limited, "metered"), range(60)))  # enough for both workers
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(200) == 10 and statuses.count(429) == 50
    refused = next(answer for answer in answers if answer.status_code == 429)
    error = refused.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests"
    assert "10 requests per minute" in error["message"]
    assert refused.headers["x-ratelimit-limit-requests"] == "10"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert 1 <= int(refused.headers["retry-after"]) <= 6  # one request back every 6 s
    records = activity(limited, "metered")
    assert len({record["worker"] for record in records}) == 2  # both workers counted into one limit
    assert sorted(record["limited"] or "" for record in records).count("rpm") == 50


def test_a_refusal_reaches_the_official_sdks_as_their_rate_limit_errors(limited, upstreams):
    spent = openai.OpenAI(base_url=limited.openai_url, api_key=KEYS["metered"], max_retries=0)
    for _ in range(12):  # whatever the test before left
        try:
            spent.chat.completions.create(model="fake:gpt-fake", messages=[{"role": "user", "content": "hi"}])
        except openai.RateLimitError as exc:
            assert exc.response.headers["x-ratelimit-limit-requests"] == "10"
            break
    else:
        pytest.fail("never refused")
    claude = anthropic.Anthropic(base_url=limited.base_url, api_key=KEYS["metered"], max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as refused:
        claude.messages.create(model="anth:claude-fake", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert refused.value.body["error"]["type"] == "rate_limit_error"
    headers = refused.value.response.headers
    assert headers["anthropic-ratelimit-requests-limit"] == "10"
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert headers["anthropic-ratelimit-requests-reset"].endswith("Z") and int(headers["retry-after"]) >= 1


def test_admin_limits_says_what_is_left_after_an_answer(limited):
    answer = ask(limited, "tokens")
    assert answer.status_code == 200
    used = answer.json()["usage"]["total_tokens"]
    state = httpx.get(f"{limited.base_url}/admin/limits", headers={"x-api-key": SERVER_KEY}).json()["data"]
    tpm = next(entry for entry in state if entry["client"] == "tokens")["tpm"]
    assert tpm["limit"] == 40 and tpm["remaining"] == 40 - used and 0 < tpm["reset_s"] <= 60
    assert "open" not in [entry["client"] for entry in state]  # a client without limits


def test_max_concurrent_counts_requests_in_flight_on_both_workers_and_gives_them_back(limited):
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def slow() -> None:
        answer = ask(limited, "slow", delay_ms=1500)
        with lock:
            results.append(answer)

    threads = [threading.Thread(target=slow) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.7)  # both in flight
    third = ask(limited, "slow")
    for thread in threads:
        thread.join()
    assert third.status_code == 429 and "2 requests at once" in third.json()["error"]["message"]
    assert [answer.status_code for answer in results] == [200, 200]
    stream = httpx.post(f"{limited.openai_url}/chat/completions", timeout=30,
                        headers={"authorization": f"Bearer {KEYS['slow']}"},
                        json={"model": "fake:gpt-fake", "stream": True, "messages": [{"role": "user", "content": "x"}]})
    assert stream.status_code == 200 and "[DONE]" in stream.text
    assert [ask(limited, "slow").status_code for _ in range(3)] == [200, 200, 200]  # every place was given back
    state = httpx.get(f"{limited.base_url}/admin/limits", headers={"x-api-key": SERVER_KEY}).json()["data"]
    assert next(entry for entry in state if entry["client"] == "slow")["max_concurrent"] == {"limit": 2,
                                                                                            "in_flight": 0}


def test_tpm_counts_the_tokens_of_answers_and_refuses_once_they_are_spent(limited):
    used = 0
    for _ in range(10):
        answer = ask(limited, "tokens", chunks=10)
        if answer.status_code == 429:
            break
        used += answer.json()["usage"]["total_tokens"]
    else:
        pytest.fail("never refused")
    assert used >= 40  # let in while tokens were left, refused after
    error = answer.json()["error"]
    assert error["type"] == "tokens" and "40 tokens per minute" in error["message"]
    assert answer.headers["x-ratelimit-remaining-tokens"] == "0"


def test_a_spent_budget_stops_the_client_for_the_period_and_says_not_to_retry(limited):
    spent = 0
    for _ in range(10):
        answer = ask(limited, "thrifty", chunks=10)
        if answer.status_code != 200:
            break
        spent += answer.json()["usage"]["total_tokens"]
    else:
        pytest.fail("never refused")
    assert answer.status_code == 429 and spent >= 45
    error = answer.json()["error"]
    assert error["code"] == "insufficient_quota" and "45 tokens for this day" in error["message"]
    assert answer.headers["x-should-retry"] == "false"
    assert int(answer.headers["retry-after"]) <= 86400
    state = httpx.get(f"{limited.base_url}/admin/limits", headers={"x-api-key": SERVER_KEY}).json()["data"]
    budget = next(entry for entry in state if entry["client"] == "thrifty")["budget"]
    assert budget["spent"] == spent and budget["remaining"] == 0 and budget["period"] == "day"


def test_limits_hold_across_a_restart_of_the_server(upstreams, tmp_path):
    config = gateway_config(upstreams) + CLIENTS.replace("rpm = 10", "rpm = 3")
    server = start_gateway(config, tmp_path)
    try:
        assert [ask(server, "metered").status_code for _ in range(3)] == [200, 200, 200]
    finally:
        server.stop()
    again = start_gateway(config, tmp_path)
    try:
        assert ask(again, "metered").status_code == 429
    finally:
        again.stop()


def _limits_of(server, client: str) -> dict:
    state = httpx.get(f"{server.base_url}/admin/limits", headers={"x-api-key": SERVER_KEY}).json()["data"]
    return next(entry for entry in state if entry["client"] == client)


def test_a_budget_spent_in_an_earlier_period_counts_nothing_in_this_one(upstreams, tmp_path):
    """What a client spent is kept across restarts by period: yesterday's spend stops nothing today; today's does."""
    spender = '\n[clients.spender]\napi_key = "key-of-spender-0123456789"\n' \
              'budget = { amount = 45, currency = "tokens", period = "day" }\n'
    today = period_start("day", time.time())
    ledger = Ledger(tmp_path / "data")  # as an earlier run left it
    try:
        with ledger.locked():
            for client, period in (("thrifty", today - 86400), ("spender", today)):
                entry = ledger.entry(ledger_key(client))
                ledger.numbers[entry + PERIOD], ledger.numbers[entry + SPENT] = period, 45.0
    finally:
        ledger.close()
    server = start_gateway(gateway_config(upstreams, workers=1) + CLIENTS + spender, tmp_path)
    try:
        answer = ask(server, "thrifty")
        assert answer.status_code == 200
        assert ask(server, "spender").status_code == 429
        budget = _limits_of(server, "thrifty")["budget"]
        assert budget["spent"] == answer.json()["usage"]["total_tokens"]
        assert budget["period_start"].startswith(time.strftime("%Y-%m-%d", time.gmtime(today)))
        assert _limits_of(server, "spender")["budget"]["spent"] == 45
    finally:
        server.stop()


def test_a_dollar_budget_counts_the_answers_of_a_model_without_a_price_and_says_so_once(upstreams, tmp_path):
    dollars = '\n[clients.dollars]\napi_key = "key-of-dollars-0123456789"\n' \
              'budget = { amount = 1, currency = "usd", period = "month" }\n'
    server = start_gateway(gateway_config(upstreams, workers=1) + dollars, tmp_path)
    try:
        assert [ask(server, "dollars").status_code for _ in range(3)] == [200, 200, 200]  # fake:gpt-fake: no price
        budget = _limits_of(server, "dollars")["budget"]
    finally:
        output = server.stop()
    assert (budget["spent"], budget["unpriced_requests"], budget["remaining"]) == (0, 3, 1)
    assert output.count("client 'dollars' has a budget in USD, but fake:gpt-fake has no price") == 1


def test_a_clients_gate_raises_once_its_ledger_is_closed_and_refuses_an_entry_outside_the_file(tmp_path):
    """The gate works on the file's memory in C: used after the ledger let go of it, or pointed outside it, it
    raises rather than crashing the process (run apart: a crash would be the test process's)."""
    script = """
import sys, time
from pathlib import Path
from api.govern.ledger import Ledger, SIZE
ledger = Ledger(Path(sys.argv[1]))
with ledger.locked():
    entry = ledger.entry("client:someone")
gate = ledger.gate(entry, 5, 0, 1, None, False)
print(gate.admit(time.time()), gate.values()[-1])
for wrong in (SIZE // 8, -1):
    try:
        ledger.gate(wrong, 5, 0, 1, None, False)
    except ValueError as exc:
        print("refused:", exc)
ledger.close()
try:
    gate.admit(time.time())
except ValueError as exc:
    print("closed:", exc)
"""
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "data")], cwd=Path(__file__).parents[2],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["0 1.0", "refused: the entry or its seat lies outside the memory",
                                        "refused: the entry or its seat lies outside the memory",
                                        "closed: the lock's file is closed"]


def test_the_places_in_flight_of_a_killed_worker_are_given_back(upstreams, tmp_path):
    server = start_gateway(gateway_config(upstreams, workers=1) + CLIENTS.replace("max_concurrent = 2",
                                                                                 "max_concurrent = 1"), tmp_path)
    try:
        main = server.process.pid
        wait_until(lambda: len(workers(main)) == 1, 20, "the worker")
        [worker] = workers(main)
        hanging = threading.Thread(target=lambda: _swallow(lambda: ask(server, "slow", hang=True)), daemon=True)
        hanging.start()
        wait_until(lambda: _in_flight(server) == 1, 10, "the request in flight")
        assert ask(server, "slow").status_code == 429
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: workers(main) not in ([], [worker]) and _in_flight(server) == 0, 20, "a new worker")
        assert ask(server, "slow").status_code == 200
    finally:
        server.stop()


def test_a_process_that_died_holding_the_ledgers_lock_does_not_stop_limited_requests(upstreams, tmp_path):
    server = start_gateway(gateway_config(upstreams, workers=1) + CLIENTS, tmp_path)
    try:
        assert ask(server, "metered").status_code == 200
        holder = "import os, sys\nfrom pathlib import Path\nfrom api.govern.ledger import Ledger\n" \
                 "with Ledger(Path(sys.argv[1])).locked():\n    os._exit(0)"  # dies holding the lock
        subprocess.run([sys.executable, "-c", holder, str(tmp_path / "data")], check=True, timeout=60,
                       cwd=Path(__file__).parents[2])
        statuses = [ask(server, "metered").status_code for _ in range(3)]
    finally:
        output = server.stop()
    assert statuses == [200, 200, 200]
    assert "a process died holding the lock of the limits ledger" in output


NEWCOMER = """
[clients.newcomer]
api_key = "key-of-newcomer-0123456789"
rpm = 1
"""


def test_a_full_ledger_is_said_at_a_reload_and_a_restart_lets_go_of_clients_no_longer_limited(upstreams, tmp_path):
    config = gateway_config(upstreams, workers=1) + CLIENTS
    server = start_gateway(config, tmp_path)
    try:
        ledger = Ledger(tmp_path / "data")  # the entries of clients that configs long gone had limited
        try:
            with ledger.locked(), contextlib.suppress(LedgerFull):
                for number in range(MAX_LIMITED_CLIENTS):
                    ledger.entry(f"client:gone-{number}")
        finally:
            ledger.close()
        write_config(config + NEWCOMER, tmp_path, int(server.base_url.rsplit(":", 1)[1]))
        wait_until(lambda: "limits ledger" in (_status(server)["last_reload_error"] or ""), 10, "the reload's error")
        assert ask(server, "metered").status_code == 200  # the config before it is served still
        assert _newcomer(server) == 401
    finally:
        server.stop()
    again = start_gateway(config + NEWCOMER, tmp_path)
    try:
        assert [_newcomer(again), _newcomer(again)] == [200, 429]
        assert ask(again, "metered").status_code == 200
    finally:
        output = again.stop()
    assert f"let go of the counters of {MAX_LIMITED_CLIENTS - 4} clients the config no longer limits" in output


def test_entries_are_not_let_go_while_another_server_uses_the_ledger(tmp_path):
    data = tmp_path / "data"
    other = Ledger(data)  # a worker of another server on the same data dir, alive
    try:
        with other.locked():
            entries = [other.entry(f"client:gone-{number}") for number in range(MAX_LIMITED_CLIENTS // 2 + 1)]
            other.numbers[entries[0]] = 42.0
        prepare(data, [])
        assert other.numbers[entries[0]] == 42.0
    finally:
        other.close()
    prepare(data, [])  # no one else: let go
    ledger = Ledger(data)
    try:
        with ledger.locked():
            assert ledger.numbers[ledger.entry("client:gone-0")] == 0.0
    finally:
        ledger.close()


def test_a_config_with_more_limited_clients_than_the_ledger_holds_is_refused(upstreams, tmp_path):
    many = "".join(f"[clients.c{number}]\nrpm = 5\n" for number in range(MAX_LIMITED_CLIENTS + 1))
    with pytest.raises(ConfigError, match=f"clients: {MAX_LIMITED_CLIENTS + 1} clients have limits or a budget"):
        load_config(write_config(gateway_config(upstreams) + many, tmp_path, 8642))


def _status(server) -> dict:
    return httpx.get(f"{server.base_url}/admin/status", headers={"x-api-key": SERVER_KEY}).json()


def _newcomer(server) -> int:
    return httpx.post(f"{server.openai_url}/chat/completions", timeout=30,
                      headers={"authorization": "Bearer key-of-newcomer-0123456789"},
                      json={"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]}).status_code


def _in_flight(server) -> int | None:
    try:
        state = httpx.get(f"{server.base_url}/admin/limits", headers={"x-api-key": SERVER_KEY}).json()["data"]
    except httpx.HTTPError:
        return None
    return next(entry for entry in state if entry["client"] == "slow")["max_concurrent"]["in_flight"]


def _swallow(call) -> None:
    with contextlib.suppress(httpx.HTTPError):
        call()


def test_a_checkout_whose_c_part_is_not_compiled_says_how_to_compile_it(tmp_path):
    shutil.copytree(Path(__file__).parents[2] / "api", tmp_path / "api",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    done = subprocess.run([sys.executable, "-c", "import api.govern.limits"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "Gatehouse's C part (api/govern/_gate.c) is not compiled here (or was, for another Python); install" \
        in done.stderr
