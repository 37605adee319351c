"""Keeps the server process (`python -m api`) alive, moves it to a new socket when the config
asks for one, and never leaves an orphan.

The server hot-reloads every other config change itself; the supervisor acts only on
`server.host`, `server.port`, `server.workers` and `server.data_dir`, which need a new process.
What it does on its own (a restart, a move, a stop) it reports as a typed `SupervisorEvent`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from watchfiles import watch

from api.__main__ import port_problem
from api.config.locations import LOG_REQUESTS_ENV
from api.config.settings import RESTART_KEYS, Config, ConfigError, changed_keys, load_config
from api.core.reload import WATCH_OPTIONS, ChangeDetector, only
from api.core.stopping import WORKERS_KILL_TIMEOUT_S, exit_reason

STOP_GRACE_S = WORKERS_KILL_TIMEOUT_S + 5
"""How long a stopping server may take before it is killed."""
START_TIMEOUT_S = 30
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 30.0
"""A server that stayed up this long resets the restart backoff."""

ServerState = Literal["starting", "running", "restarting", "stopping", "stopped"]
"""What a supervised server is doing (the supervisor reports running, restarting and stopped; the
TUI also says starting and stopping while it waits for an action of its own)."""


@dataclass(frozen=True, slots=True)
class SupervisorEvent:
    """Something the supervisor did to the server on its own or when asked: the state it left the
    server in, for a UI, and the same as a line, for a person."""

    state: ServerState
    url: str
    """Where the server serves (or was to serve)."""
    pid: int | None
    """The serving process's id, while one serves."""
    text: str
    """What happened, in words (headless mode prints it as it is)."""


def local_url(config: Config) -> str:
    """The base URL this machine reaches the server on (wildcard hosts become loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(config.server.host, config.server.host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{config.server.port}"


class ServerProcess:
    """One `python -m api` process: started in its own session, so a terminal's Ctrl-C reaches
    the supervisor only, which then stops the server cleanly."""

    def __init__(self, config_path: Path, config: Config, log_requests: bool,
                 output: IO[bytes] | None = None) -> None:
        self.config = config
        self.base_url = local_url(config)
        self.started = time.monotonic()
        env = {**os.environ, LOG_REQUESTS_ENV: "1"} if log_requests else None
        self.process = subprocess.Popen([sys.executable, "-m", "api", "--config", str(config_path)],
                                        start_new_session=True, env=env, stdout=output, stderr=output)

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int | None:
        return self.process.poll()

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/health", timeout=1) as response:
                return response.status == 200 and json.load(response).get("status") == "ok"
        except (OSError, ValueError):
            return False

    def wait_healthy(self, timeout: float, stopping: threading.Event) -> bool:
        """True once /health answers; False if the process died, time ran out or we are stopping."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not stopping.is_set():
            if self.exit_code() is not None:
                return False
            if self.healthy():
                return True
            stopping.wait(0.1)
        return False

    def stop_leftovers(self) -> None:
        """After the server process died on its own: stop what it left running (its workers and
        their activity writers, which keep its port), gracefully, then with SIGKILL after STOP_GRACE_S."""
        try:
            os.killpg(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S
            while time.monotonic() < deadline:
                time.sleep(0.1)
                os.killpg(self.pid, 0)
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # none left

    def stop(self) -> int:
        """Stop gracefully (SIGTERM: open requests get WORKERS_KILL_TIMEOUT_S), kill after STOP_GRACE_S."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()


class Supervisor:
    """Runs the server until told to stop. `on_event` receives each supervision event (from the
    supervisor's thread)."""

    def __init__(self, config_path: Path, config: Config, on_event: Callable[[SupervisorEvent], None],
                 log_requests: bool = False, output: IO[bytes] | None = None) -> None:
        self.config_path = config_path
        self.config = config
        self.on_event = on_event
        self.log_requests = log_requests
        """Have the server print one line per API request (headless mode)."""
        self.output = output
        """Where the server's own output goes (a file under the TUI; by default ours)."""
        self.server: ServerProcess | None = None
        self.stopping = threading.Event()
        self._config_changed = threading.Event()
        self._watcher: threading.Thread | None = None
        self._backoff = BACKOFF_START_S
        self.held = False
        """Stopped on purpose (`hold`): not restarted until `release`."""
        self.problem: str | None = None
        """Why the last `start` could not even try (the port is taken): nothing to restart then."""
        self._lock = threading.RLock()
        """Held while the server process is being replaced, so two replacements never overlap."""

    @property
    def base_url(self) -> str:
        return local_url(self.config)

    def start(self) -> bool:
        """Start the server and wait until it is healthy (watching the config from the first start on);
        False at once once `stop` was called, which a server started after it would outlive, and when
        the port is taken (`problem`): another process answering /health there is not our server."""
        self.problem = port_problem(self.config.server.host, self.config.server.port)
        if self.problem:
            self.server = None
            self._report("stopped", f"{self.problem}; change [server].port in {self.config_path}")
            return False
        return self._start() is not None

    def run(self) -> None:
        """Supervise until `stopping` is set: restart a dead server, follow socket changes."""
        while not self.stopping.wait(0.2):
            with self._lock:
                dead = self._dead()
                if dead is None and self._config_changed.is_set():
                    self._config_changed.clear()
                    self._follow_config()
            if dead is not None:
                self._restart_dead(*dead)

    def hold(self) -> None:
        """Stop the server and keep it stopped (config changes are still followed)."""
        with self._lock:
            self.held = True
            if self.server is not None:
                self.server.stop()
            self._report("stopped", "the server was stopped; start it again with 'start'")

    def release(self) -> bool:
        """Start a held server again; True once it is healthy."""
        with self._lock:
            if not self.held and self.server is not None and self.server.exit_code() is None:
                return True
            if self.server is not None:
                self.server.stop_leftovers()  # one that had died: its workers may still hold the port (as `restart`)
            self.held = False
            self._backoff = BACKOFF_START_S
            return self.start()

    def restart(self) -> bool:
        """Stop the server and start a new one; True once it is healthy."""
        with self._lock:
            if self.server is not None:
                self.server.stop()
                self.server.stop_leftovers()  # one that had died: its workers may still answer on the port
            self.held = False
            server = self._start()
        if server is None:
            self._report("stopped", "the restarted server did not become healthy")
        else:
            self._report("running", f"the server was restarted (pid {server.pid})", pid=server.pid)
        return server is not None

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:  # a start under way has its process by now, and no other start follows
            server = self.server
        if server is not None:
            server.stop()

    def _report(self, state: ServerState, text: str, url: str | None = None, pid: int | None = None) -> None:
        self.on_event(SupervisorEvent(state, url or self.base_url, pid, text))

    def _start(self) -> ServerProcess | None:
        """`start`: the new server once it is healthy, else None."""
        with self._lock:
            if self.stopping.is_set():
                return None
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch_config, name="config-watcher", daemon=True)
                self._watcher.start()
            self.server = server = ServerProcess(self.config_path, self.config, self.log_requests, self.output)
        return server if server.wait_healthy(START_TIMEOUT_S, self.stopping) else None

    def _dead(self) -> tuple[ServerProcess, int] | None:
        """The server and its exit code if it died on its own (one stopped on purpose is not dead)."""
        if self.server is None or self.held:
            return None
        code = self.server.exit_code()
        return None if code is None else (self.server, code)

    def _watch_config(self) -> None:
        detector = ChangeDetector(self.config_path, self.config.stamp)
        for events in watch(self.config_path.parent, watch_filter=only(self.config_path), stop_event=self.stopping,
                            raise_interrupt=False, **WATCH_OPTIONS):
            if detector.changed(events):
                self._config_changed.set()

    def _restart_dead(self, dead: ServerProcess, code: int) -> None:
        """Start a new server after the backoff, unless a stop, start or restart came first.

        The backoff is waited without the lock, so `hold`, `release` and `restart` act at once."""
        if time.monotonic() - dead.started > STABLE_AFTER_S:
            self._backoff = BACKOFF_START_S
        self._report("restarting", f"the server {exit_reason(code)}; restarting it in {self._backoff:g}s")
        dead.stop_leftovers()
        deadline = time.monotonic() + self._backoff
        while time.monotonic() < deadline:
            if self.stopping.wait(0.1) or self.held or self.server is not dead:
                return
        with self._lock:
            if self.held or self.server is not dead or self.stopping.is_set():
                return
            self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)
            server = self._start()
        if server is not None:
            self._report("running", f"the server is back (pid {server.pid}) at {self.base_url}", pid=server.pid)

    def _follow_config(self) -> None:
        try:
            config = load_config(self.config_path)
        except ConfigError:
            return  # the server keeps its last good config and reports the problem itself
        moved = [key for key in changed_keys(self.config, config) if key in RESTART_KEYS]
        old, old_url = self.server, self.base_url
        if not moved or self.held or old is None:
            self.config = config
            return
        self._report("restarting", f"{', '.join(moved)} changed: restarting the server")
        if config.server.port != self.config.server.port:
            # A new port is free while the old server drains: start the new one first, no gap.
            self.config = config
            server = self._start()
            if server is None:
                self._report("running", f"the server could not start at {self.base_url}; keeping it at {old_url}",
                              url=old_url, pid=old.pid)
                if self.server is not None:
                    self.server.stop()
                self.server, self.config = old, old.config
                return
            old.stop()
        else:
            old.stop()
            self.config = config
            server = self._start()
            if server is None:
                self._report("stopped", f"the server did not become healthy at {self.base_url}")
                return
        self._report("running", f"the server now serves at {self.base_url} (pid {server.pid})", pid=server.pid)
