"""`gatehouse --no-tui`: the supervisor in the foreground, the server's log on stdout."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

from api.config.settings import Config
from tui.supervisor import START_TIMEOUT_S, Supervisor, exit_reason


def say(line: str) -> None:
    print(f"gatehouse: {line}", flush=True)


def run_headless(config_path: Path, config: Config) -> int:
    supervisor = Supervisor(config_path, config, on_event=lambda event: say(event.text), log_requests=True)

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        say(f"{signal.Signals(signum).name} received, stopping the server")
        supervisor.stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not supervisor.start():
            if supervisor.stopping.is_set():
                return 0
            if supervisor.problem:
                return 2  # said by the supervisor's event
            code = supervisor.server.exit_code() if supervisor.server is not None else None
            if code == 2:
                return 2  # a problem the server explained (python -m api's usage status)
            reason = exit_reason(code) if code is not None else f"was not healthy after {START_TIMEOUT_S}s"
            print(f"gatehouse: the server {reason}; see its messages above", file=sys.stderr, flush=True)
            return 1
        say(f"serving at {supervisor.base_url} (OpenAI base URL {supervisor.base_url}/v1); "
            f"API key: [server].api_key in {config_path}")
        supervisor.run()
        return 0
    finally:
        supervisor.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
