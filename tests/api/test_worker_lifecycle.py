"""A server's workers under abuse: one killed outright, signal storms at stop (issue 21 items 4 and 7)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from api.core.stopping import WORKERS_KILL_TIMEOUT_S
from tests.conftest import gateway_config
from tests.gateway import SERVER_KEY, processes_using, start_gateway, wait_until


def children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


HELPERS = (b"api.localdocs.indexer", b"api.local.hosts")
"""The main process's children that are not Granian workers: the LocalDocs indexer, the model hosts' supervisor."""


def workers(main: int) -> list[int]:
    """The main process's Granian workers."""
    return [pid for pid in children(main) if not any(helper in _command(pid) for helper in HELPERS)]


def test_a_killed_worker_is_respawned_by_the_same_main_process(upstreams, tmp_path):
    server = start_gateway(gateway_config(upstreams, workers=1), tmp_path)
    try:
        headers = {"X-API-Key": SERVER_KEY}
        main = server.process.pid
        wait_until(lambda: len(workers(main)) == 1 and children(workers(main)[0]), 20, "the worker and its writer")
        [worker] = workers(main)
        [writer] = children(worker)
        os.kill(worker, signal.SIGKILL)

        def answers_again() -> bool:
            try:
                return httpx.get(f"{server.base_url}/health", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(lambda: workers(main) not in ([], [worker]) and answers_again(), 10, "a new worker", server.process)
        assert server.process.poll() is None
        status = httpx.get(f"{server.base_url}/admin/status", headers=headers).json()
        assert status["pid"] == workers(main)[0]
        [died] = status["workers_restarted"]  # item 21
        assert (died["pid"], died["exit_code"], died["signal"]) == (worker, None, "SIGKILL") and died["at"]
        wait_until(lambda: not Path(f"/proc/{writer}").exists(), 5, "the dead worker's activity writer to end")
        wait_until(lambda: children(workers(main)[0]) != [], 10, "the new worker's own activity writer")
    finally:
        output = server.stop()
    assert f"gatehouse: worker-1 (pid {worker}) died (SIGKILL); respawning it" in output  # item 21
    assert processes_using(tmp_path) == []


def test_a_signal_storm_stops_every_server_within_the_grace_period(upstreams, tmp_path):
    for round_ in range(20):
        directory = tmp_path / f"round-{round_}"
        directory.mkdir()
        server = start_gateway(gateway_config(upstreams), directory)
        main = server.process.pid
        wait_until(lambda: children(main) != [], 10, "the worker")
        targets = [main, *children(main)]
        started = time.monotonic()
        for repeat in range(5):
            for pid in targets:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
            if repeat == 0:
                time.sleep(0.01)
        output = server.stop(timeout=WORKERS_KILL_TIMEOUT_S + 2)
        assert time.monotonic() - started < WORKERS_KILL_TIMEOUT_S, f"round {round_}: {output}"
        assert server.process.returncode is not None
        wait_until(lambda: processes_using(directory) == [], 5, f"round {round_}: nothing left")
