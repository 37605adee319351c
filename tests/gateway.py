"""Starting a real Gatehouse server process (`python -m api`) on a free port for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_KEY = "test-server-key-0123456789"
SERVER_SECTION = f'[server]\napi_key = "{SERVER_KEY}"\nport = {{port}}\ndata_dir = "{{data_dir}}"\n'
"""The [server] table of a test config, for `write_config` to fill in."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes_using(config_path: Path) -> list[int]:
    """Pids of processes whose command line mentions the config file (a server's, its workers' and the supervisor's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(config_path).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_until(check, timeout: float, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise RuntimeError(f"{what}: process exited with {process.returncode}\n{output}")
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what}: not ready after {timeout}s")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Gateway:
    process: subprocess.Popen
    base_url: str
    config_path: Path

    @property
    def openai_url(self) -> str:
        return f"{self.base_url}/v1"

    def stop(self, timeout: float = 15) -> str:
        """Stop gracefully; return everything the server printed."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return out or ""


def write_config(config_text: str, directory: Path, port: int) -> Path:
    """directory/config.toml from `config_text`, with `{port}` and `{data_dir}` (directory/data) filled in."""
    config_path = directory / "config.toml"
    config_path.write_text(config_text.replace("{port}", str(port)).replace("{data_dir}", str(directory / "data")))
    return config_path


def start_gateway(config_text: str, directory: Path, port: int | None = None, env: dict | None = None) -> Gateway:
    """Serve `config_text` (see `write_config`) from a real server process."""
    port = port or free_port()
    config_path = write_config(config_text, directory, port)
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "--config", str(config_path)],
        cwd=ROOT, env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    wait_until(lambda: answers(f"{base_url}/health"), 20, "gatehouse server", process)
    return Gateway(process, base_url, config_path)
