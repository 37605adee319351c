"""`gatehouse --no-tui`: the supervisor in the foreground, the server's log on stdout."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from api.config import Config
from tui.supervisor import Supervisor

START_TIMEOUT_S = 30


def run_headless(config_path: Path, config: Config) -> int:
    supervisor = Supervisor(config_path, config)
    stopping = threading.Event()

    def request_stop(signum, _frame):
        print(f"gatehouse: {signal.Signals(signum).name} received, stopping the server", flush=True)
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        supervisor.start()
        if not supervisor.wait_healthy(START_TIMEOUT_S):
            code = supervisor.process.poll()
            reason = f"exited with code {code}" if code is not None else f"not healthy after {START_TIMEOUT_S}s"
            print(f"gatehouse: the server {reason}; see its messages above", file=sys.stderr, flush=True)
            return 1
        print(f"gatehouse: serving at {supervisor.base_url} (OpenAI base URL {supervisor.base_url}/v1); "
              f"API key: [server].api_key in {config_path}", flush=True)
        while not stopping.wait(0.5):
            code = supervisor.process.poll()
            if code is not None:
                print(f"gatehouse: the server exited unexpectedly with code {code}", file=sys.stderr, flush=True)
                return 1
        return 0
    finally:
        supervisor.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
