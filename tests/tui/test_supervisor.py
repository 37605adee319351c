"""The supervisor over a real server process: what the TUI's start, stop and restart do while it
waits to bring a dead server back, and the events it reports."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from api.config.settings import load_config
from tests.conftest import gateway_config
from tests.gateway import free_port, processes_using, wait_until, write_config
from tui.supervisor import Supervisor, SupervisorEvent


@pytest.fixture
def supervisor(upstreams, tmp_path):
    config_path = write_config(gateway_config(upstreams), tmp_path, free_port())
    events: list[SupervisorEvent] = []
    supervisor = Supervisor(config_path, load_config(config_path), on_event=events.append,
                            output=open(tmp_path / "server.log", "ab"))
    supervisor.events = events
    assert supervisor.start()
    threading.Thread(target=supervisor.run, daemon=True).start()
    yield supervisor
    supervisor.stop()
    supervisor.output.close()
    for pid in processes_using(config_path):  # what a failed test left behind
        os.kill(pid, signal.SIGKILL)


def said(supervisor: Supervisor, words: str) -> bool:
    """Whether the text of one of the supervisor's events has `words` in it."""
    return any(words in event.text for event in supervisor.events)


def process_group(pgid: int) -> list[int]:
    """The live processes of a process group (a server's own pid is its group's id)."""
    members = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def kill_and_wait_for_backoff(supervisor: Supervisor, backoff_s: float) -> int:
    """SIGKILL the server's main process alone (as the OOM killer would) with a long backoff ahead;
    return its pid once the supervisor waits to restart it."""
    supervisor._backoff = backoff_s
    dead = supervisor.server.pid
    assert len(process_group(dead)) >= 3  # Granian's main process, a worker, its activity writer
    os.kill(dead, signal.SIGKILL)
    wait_until(lambda: said(supervisor, "restarting it in"), 10, "the backoff")
    return dead


def test_a_server_that_dies_alone_leaves_no_worker_holding_its_port(supervisor):
    dead = kill_and_wait_for_backoff(supervisor, 0.5)
    wait_until(lambda: process_group(dead) == [], 20, "the dead server's workers to stop")
    wait_until(lambda: said(supervisor, "the server is back"), 30, "the new server")
    assert supervisor.server.pid != dead and supervisor.server.healthy()
    assert supervisor.server.exit_code() is None


def in_thread(action) -> threading.Thread:
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


def test_a_stop_during_the_restart_backoff_acts_at_once_and_keeps_the_server_stopped(supervisor):
    dead = kill_and_wait_for_backoff(supervisor, 20)
    holding = in_thread(supervisor.hold)
    holding.join(5)
    assert not holding.is_alive(), "stop waited for the 20 s backoff"
    assert supervisor.held and supervisor.server.pid == dead

    assert supervisor.release() and supervisor.server.pid != dead
    assert supervisor.server.healthy()


def test_a_restart_during_the_restart_backoff_starts_one_server_at_once(supervisor):
    dead = kill_and_wait_for_backoff(supervisor, 3)
    restarting = in_thread(supervisor.restart)
    restarting.join(20)
    assert not restarting.is_alive() and supervisor.server.healthy()
    restarted = supervisor.server.pid
    assert restarted != dead

    time.sleep(4)  # past the backoff's end, which finds a new server in place and leaves it alone
    assert supervisor.server.pid == restarted and supervisor.server.healthy()
    assert not said(supervisor, "is back")


def test_a_start_after_a_stop_starts_no_server_to_outlive_the_app(upstreams, tmp_path):
    """The UI quitting (`stop`) before the supervisor thread got to `start`: no server may start then,
    with nothing left to stop it."""
    config_path = write_config(gateway_config(upstreams), tmp_path, free_port())
    supervisor = Supervisor(config_path, load_config(config_path), on_event=print)
    supervisor.stop()
    try:
        assert not supervisor.start()
        assert supervisor.server is None and processes_using(config_path) == []
    finally:
        for pid in processes_using(config_path):  # what the failure left behind
            os.kill(pid, signal.SIGKILL)


def test_each_event_says_the_servers_state_url_and_pid(supervisor):
    """What a UI shows comes from the event's fields, never from its words."""
    url = supervisor.base_url
    dead = kill_and_wait_for_backoff(supervisor, 0.5)
    wait_until(lambda: supervisor.events[-1].state == "running", 30, "the new server")
    back = supervisor.server.pid
    assert supervisor.events == [
        SupervisorEvent("restarting", url, None, "the server died (SIGKILL); restarting it in 0.5s"),
        SupervisorEvent("running", url, back, f"the server is back (pid {back}) at {url}"),
    ]
    assert back != dead

    supervisor.hold()
    assert supervisor.events[-1] == SupervisorEvent("stopped", url, None,
                                                    "the server was stopped; start it again with 'start'")
    assert supervisor.restart()
    restarted = supervisor.server.pid
    assert supervisor.events[-1] == SupervisorEvent("running", url, restarted,
                                                    f"the server was restarted (pid {restarted})")

    new_port = free_port()
    new_url = f"http://127.0.0.1:{new_port}"
    config_path = supervisor.config_path
    config_path.write_text(config_path.read_text().replace(f"port = {url.rsplit(':', 1)[1]}", f"port = {new_port}"))
    wait_until(lambda: supervisor.events[-1].url == new_url, 30, "the move to the new port")
    moved = supervisor.server.pid
    assert supervisor.events[-2:] == [
        SupervisorEvent("restarting", url, None, "server.port changed: restarting the server"),
        SupervisorEvent("running", new_url, moved, f"the server now serves at {new_url} (pid {moved})"),
    ]
