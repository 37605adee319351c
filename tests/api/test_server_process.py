"""`python -m api` as a process: what it checks before it serves, and what is left when it dies."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import openai

from tests.conftest import gateway_config
from tests.gateway import ROOT, SERVER_KEY, SERVER_SECTION, free_port, processes_using, start_gateway, wait_until


def test_a_data_dir_that_cannot_hold_the_activity_file_stops_the_server_with_one_message(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = tmp_path / "config.toml"
    path.write_text(SERVER_SECTION.replace("{port}", str(free_port())).replace("{data_dir}", str(blocker / "data")))
    result = subprocess.run([sys.executable, "-m", "api", "--config", str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"cannot keep the activity database in {blocker / 'data'}" in result.stderr
    assert "[server].data_dir" in result.stderr and "Traceback" not in result.stderr


def test_a_server_killed_abruptly_takes_its_workers_along_and_loses_no_record(upstreams, tmp_path):
    """SIGKILL (or the OOM killer) on the main process: its workers stop gracefully instead of
    serving on, orphaned, on a port no new server can then bind."""
    port = free_port()
    killed = start_gateway(gateway_config(upstreams, workers=2), tmp_path, port)
    sdk = openai.OpenAI(base_url=killed.openai_url, api_key=SERVER_KEY, max_retries=0)
    for i in range(10):
        sdk.chat.completions.create(model="fake:gpt-fake", messages=[{"role": "user", "content": "hi"}],
                                    extra_headers={"X-Request-Id": f"killed-{i}"})
    # main, two workers, two activity writers (a worker /health did not reach may still be starting its writer)
    wait_until(lambda: len(processes_using(tmp_path)) >= 5, 20, "both workers and their activity writers")
    tail_ended = threading.Event()

    def tail() -> None:  # a live tail never ends by itself: it must not hold its worker up
        with httpx.stream("GET", f"{killed.base_url}/admin/activity/stream", headers={"X-API-Key": SERVER_KEY},
                          timeout=60) as response:
            for _ in response.iter_lines():
                pass
        tail_ended.set()

    threading.Thread(target=tail, daemon=True).start()
    time.sleep(0.5)
    os.kill(killed.process.pid, signal.SIGKILL)
    killed.process.wait()
    wait_until(lambda: processes_using(tmp_path) == [], 20, "the workers and writers to stop")
    assert tail_ended.wait(5)

    database = sqlite3.connect(tmp_path / "data" / "activity.sqlite3")
    ids = {row[0] for row in database.execute("SELECT request_id FROM activity WHERE request_id LIKE 'killed-%'")}
    assert ids == {f"killed-{i}" for i in range(10)}
    start_gateway(gateway_config(upstreams), tmp_path, port).stop()  # the port is free again
