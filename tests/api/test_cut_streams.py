"""Streams longer than the grace period when the server stops (issue 21 item 3): each gets a last error event in
its dialect, and its activity record is written, marked as cut."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time

import httpx
import pytest

from api.core.stopping import WORKERS_KILL_TIMEOUT_S
from tests.conftest import gateway_config
from tests.gateway import SERVER_KEY, start_gateway

LONG = {"chunks": 200, "delay_ms": 300}  # 60 s: longer than the grace period


@pytest.mark.parametrize(("path", "body", "error_line"), [
    ("/v1/chat/completions", {"model": "fake:gpt-fake", "stream": True,
                              "messages": [{"role": "user", "content": "hi"}]}, 'data: {"error"'),
    ("/v1/messages", {"model": "fake:gpt-fake", "stream": True, "max_tokens": 50,
                      "messages": [{"role": "user", "content": "hi"}]}, "event: error"),
    ("/v1/responses", {"model": "fake:gpt-fake", "stream": True, "input": "hi"}, "event: response.failed"),
])
def test_streams_cut_by_a_stop_end_with_an_error_event_and_a_record(upstreams, tmp_path, path, body, error_line):
    server = start_gateway(gateway_config(upstreams), tmp_path)
    lines: list[str] = []
    first = threading.Event()

    def stream() -> None:
        with httpx.stream("POST", f"{server.base_url}{path}", json={**body, "fake": LONG}, timeout=60,
                          headers={"X-API-Key": SERVER_KEY, "X-Request-Id": "cut-1"}) as response:
            for line in response.iter_lines():
                lines.append(line)
                first.set()

    reader = threading.Thread(target=stream, daemon=True)
    reader.start()
    assert first.wait(10)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    reader.join(WORKERS_KILL_TIMEOUT_S + 5)
    output = server.stop(timeout=WORKERS_KILL_TIMEOUT_S + 5)
    assert time.monotonic() - started < WORKERS_KILL_TIMEOUT_S + 1, output
    text = "\n".join(lines)
    assert error_line in text and "server shutting down" in text, text[-500:]
    database = sqlite3.connect(tmp_path / "data" / "activity.sqlite3")
    rows = database.execute("SELECT error FROM activity WHERE request_id = 'cut-1'").fetchall()
    assert rows == [("cut: server shutting down",)], output
