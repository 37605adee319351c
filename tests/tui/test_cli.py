"""`gatehouse` as a person runs it: the command, its terminal UI in a real terminal (a pty), its exit code."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading

from tests.conftest import gateway_config
from tests.gateway import ROOT, free_port, processes_using, wait_until, write_config


def test_gatehouse_exits_1_when_its_ui_crashed_and_leaves_no_server(upstreams, tmp_path):
    config_path = write_config(gateway_config(upstreams), tmp_path, free_port())
    terminal, its_end = pty.openpty()
    fcntl.ioctl(its_end, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
           "TEXTUAL_DRIVER": "tests.fixtures.failing_terminal:FailingTerminal"}  # fails once the server runs
    gatehouse = subprocess.Popen([sys.executable, "-m", "tui", "--config", str(config_path)], cwd=ROOT, env=env,
                                 stdin=its_end, stdout=its_end, stderr=its_end, start_new_session=True)
    os.close(its_end)
    shown: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(terminal, 65536)
            except OSError:  # the terminal's other end is closed: gatehouse is gone
                return
            if not data:
                return
            shown.append(data)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        code = gatehouse.wait(60)
    finally:
        if gatehouse.poll() is None:
            gatehouse.kill()
        reader.join(5)
        os.close(terminal)
    output = b"".join(shown).decode("utf-8", "replace")
    assert code == 1, output[-2000:]
    assert "the terminal failed" in output and "gatehouse: stopped" in output  # why, then where the log is
    wait_until(lambda: processes_using(config_path) == [], 10, "the server to be gone")
