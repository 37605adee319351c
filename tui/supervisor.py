"""Runs the server process (`python -m api`) and stops it without leaving an orphan."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from api.__main__ import WORKERS_KILL_TIMEOUT_S
from api.config import Config

STOP_GRACE_S = WORKERS_KILL_TIMEOUT_S + 5
"""How long a stopping server may take before it is killed."""


def local_url(config: Config) -> str:
    """The base URL this machine reaches the server on (wildcard hosts become loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(config.server.host, config.server.host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{config.server.port}"


class Supervisor:
    def __init__(self, config_path: Path, config: Config) -> None:
        self.config_path = config_path
        self.base_url = local_url(config)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        # Own session: a terminal's Ctrl-C reaches the supervisor only, which then stops the server cleanly.
        self.process = subprocess.Popen([sys.executable, "-m", "api", "--config", str(self.config_path)],
                                        start_new_session=True)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/health", timeout=1) as response:
                return response.status == 200 and json.load(response).get("status") == "ok"
        except (OSError, ValueError):
            return False

    def wait_healthy(self, timeout: float) -> bool:
        """True once /health answers; False if the process died or time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if self.healthy():
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> int | None:
        """Stop the server gracefully (SIGTERM), killing it after STOP_GRACE_S; its exit code."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return process.returncode if process else None
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            return process.wait()
