"""`gatehouse --no-tui`: a real supervisor process starting a real server, stopped by signals."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import gateway_config
from tests.gateway import ROOT, SERVER_KEY, answers, free_port, processes_using, wait_until, write_config


class Headless:
    started: list[Headless] = []

    def __init__(self, config_path: Path, env: dict | None = None) -> None:
        Headless.started.append(self)
        self.config_path = config_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tui", "--no-tui", "--config", str(config_path)], cwd=ROOT,
            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        wait_until(lambda: text in self.output or self.process.poll() is not None, timeout, f"'{text}'")
        assert text in self.output, self.output


@pytest.fixture(autouse=True)
def no_leftovers():
    """Whatever a test leaves running (a failed test included) is stopped, then checked for orphans."""
    Headless.started.clear()
    yield
    for headless in Headless.started:
        if headless.process.poll() is None:
            headless.process.kill()
            headless.process.wait()
        for pid in processes_using(headless.config_path):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def config_path(upstreams, tmp_path):
    return write_config(gateway_config(upstreams), tmp_path, free_port())


def base_url_of(path: Path) -> str:
    port = next(line for line in path.read_text().splitlines() if line.startswith("port")).split("=")[1].strip()
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serves_until_signalled_then_leaves_nothing_behind(config_path, stop_signal):
    headless = Headless(config_path)
    base_url = base_url_of(config_path)
    headless.wait_for(f"serving at {base_url} (OpenAI base URL {base_url}/v1)")
    assert f"API key: [server].api_key in {config_path}" in headless.output
    assert SERVER_KEY not in headless.output  # says where the key is, never the key
    models = httpx.get(f"{base_url}/v1/models", headers={"X-API-Key": SERVER_KEY})
    assert models.status_code == 200
    headless.wait_for(" server /v1/models 200 ")  # one line per request: time, client, model, status, ...
    chat = httpx.post(f"{base_url}/v1/chat/completions", headers={"X-API-Key": SERVER_KEY, "X-Client-Id": "cli"},
                      json={"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 200
    headless.wait_for(" cli fake:gpt-fake 200 ")
    line = next(line for line in headless.lines if " cli fake:gpt-fake 200 " in line)
    assert line.rstrip().endswith("+3 tokens") and " ms " in line

    headless.process.send_signal(stop_signal)
    assert headless.process.wait(30) == 0
    assert not answers(f"{base_url}/health")
    assert processes_using(config_path) == []
    assert "Granian shutdown completed" in headless.output  # the server's own log is forwarded


def test_an_open_stream_finishes_during_a_graceful_stop(config_path):
    headless = Headless(config_path)
    base_url = base_url_of(config_path)
    headless.wait_for("serving at")
    body = {"model": "fake:gpt-fake", "stream": True, "messages": [{"role": "user", "content": "one two"}],
            "fake": {"chunks": 6, "delay_ms": 300}}
    with httpx.stream("POST", f"{base_url}/v1/chat/completions", json=body, timeout=30,
                      headers={"X-API-Key": SERVER_KEY}) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data:")
        headless.process.send_signal(signal.SIGTERM)
        rest = list(lines)
    assert "data: [DONE]" in rest
    assert headless.process.wait(30) == 0
    assert processes_using(config_path) == []


def test_a_missing_config_is_created_with_a_new_key(tmp_path):
    path = tmp_path / "fresh" / "config.toml"
    headless = Headless(path, env={"XDG_DATA_HOME": str(tmp_path / "xdg-data")})
    headless.wait_for(f"created {path} with a new server key")
    assert path.exists() and "api_key" in path.read_text()
    headless.process.send_signal(signal.SIGTERM)
    headless.process.wait(30)
    assert processes_using(path) == []


def test_a_bad_config_is_refused_with_one_clear_message(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[server]\napi_key = "0123456789"\nworkers = "many"\n')
    result = subprocess.run([sys.executable, "-m", "tui", "--no-tui", "--config", str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "server.workers: must be an integer, not a string" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_killed_server_is_brought_back(config_path):
    headless = Headless(config_path)
    base_url = base_url_of(config_path)
    headless.wait_for("serving at")
    first = server_pid(base_url)
    for pid in processes_using(config_path):
        if pid != headless.process.pid:
            os.kill(pid, signal.SIGKILL)
    headless.wait_for("the server died (SIGKILL); restarting it in")
    headless.wait_for("the server is back")
    assert server_pid(base_url) != first
    headless.process.send_signal(signal.SIGTERM)
    assert headless.process.wait(30) == 0
    assert processes_using(config_path) == []


def server_pid(base_url: str) -> int:
    return httpx.get(f"{base_url}/admin/status", headers={"X-API-Key": SERVER_KEY}).json()["pid"]


def test_a_port_change_moves_the_server_to_the_new_socket(config_path):
    headless = Headless(config_path)
    old_url = base_url_of(config_path)
    headless.wait_for("serving at")
    new_port = free_port()
    config_path.write_text(config_path.read_text().replace(f"port = {old_url.rsplit(':', 1)[1]}", f"port = {new_port}"))
    new_url = f"http://127.0.0.1:{new_port}"
    headless.wait_for(f"the server now serves at {new_url}")
    assert "server.port changed: restarting the server" in headless.output
    assert answers(f"{new_url}/health")
    assert not answers(f"{old_url}/health")
    headless.process.send_signal(signal.SIGTERM)
    assert headless.process.wait(30) == 0
    assert processes_using(config_path) == []


def test_a_workers_change_restarts_the_server(config_path):
    headless = Headless(config_path)
    base_url = base_url_of(config_path)
    headless.wait_for("serving at")
    config_path.write_text(config_path.read_text().replace("[server]\n", "[server]\nworkers = 2\n", 1))
    headless.wait_for(f"the server now serves at {base_url}")
    status = httpx.get(f"{base_url}/admin/status", headers={"X-API-Key": SERVER_KEY}).json()
    assert status["workers"] == 2
    headless.process.send_signal(signal.SIGTERM)
    assert headless.process.wait(30) == 0
    assert processes_using(config_path) == []


def test_attach_needs_the_server_key(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tui", "--attach", "http://127.0.0.1:1"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30, env={**os.environ, "GATEHOUSE_KEY": ""})
    assert result.returncode == 2
    assert "--attach needs the server key: --key KEY or $GATEHOUSE_KEY" in result.stderr


def test_a_taken_port_at_start_is_one_clear_error(config_path):
    """Issue 21 item 20: another server holds the port (its /health answers ok): one message, exit status 2,
    and that server is not taken for ours (no 'serving at', no restart loop)."""
    port = int(base_url_of(config_path).rsplit(":", 1)[1])

    class Healthy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, *args) -> None:
            pass

    holder = http.server.ThreadingHTTPServer(("127.0.0.1", port), Healthy)
    threading.Thread(target=holder.serve_forever, daemon=True).start()
    try:
        result = subprocess.run([sys.executable, "-m", "tui", "--no-tui", "--config", str(config_path)], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
    finally:
        holder.shutdown()
        holder.server_close()
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert output.count(f"port {port} on 127.0.0.1 is already in use") == 1, output
    assert "serving at" not in output and "restarting" not in output and "is back" not in output
    assert processes_using(config_path) == []
