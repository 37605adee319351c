"""The terminal UI in a real terminal: tests/e2e/tui_in_tmux.sh drives it through tmux."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from api.config.settings import example_config_text
from tests.gateway import answers, free_port, wait_until
from tests.tui.test_headless import processes_using
from tui.supervisor import STOP_GRACE_S

SCRIPT = Path(__file__).with_name("tui_in_tmux.sh")


def write_example_config(directory: Path, port: int) -> Path:
    """The shipped example config on `port`, its state kept in `directory`."""
    text = example_config_text().replace("change-me-please", "e2e-server-key-123")
    text = text.replace("port = 8642", f"port = {port}").replace('data_dir = ""', f'data_dir = "{directory}/data"')
    path = directory / "config.toml"
    path.write_text(text)
    return path


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")
def test_gatehouse_in_tmux_switches_tabs_edits_a_value_and_quits(tmp_path):
    port = free_port()
    write_example_config(tmp_path, port)
    result = subprocess.run([str(SCRIPT), sys.executable, str(tmp_path), str(port)],
                            capture_output=True, text=True, timeout=180)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert processes_using(tmp_path / "config.toml") == []


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")
def test_closing_the_terminal_stops_the_server_it_started(tmp_path):
    """An SSH session that drops (SIGHUP) must not leave the server behind."""
    port = free_port()
    config_path = write_example_config(tmp_path, port)
    session = f"gatehouse-hup-{port}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                    f"{sys.executable} -m tui --config {config_path}"], check=True,
                   env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/health"), 30, "the server started by the TUI")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session])
    # A graceful stop may take the server's kill timeout and the supervisor's grace (STOP_GRACE_S).
    wait_until(lambda: processes_using(config_path) == [], STOP_GRACE_S + 15, "no process left after the terminal closed")
    assert not answers(f"http://127.0.0.1:{port}/health")
