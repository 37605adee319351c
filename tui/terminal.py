"""`gatehouse` with the terminal UI: the supervisor in a thread, the server's log in a file."""

from __future__ import annotations

from pathlib import Path

from api.config.settings import Config
from tui.app import GatehouseApp
from tui.messages import SupervisorReported
from tui.supervisor import Supervisor, SupervisorEvent, local_url

SERVER_LOG = "server.log"


def run_tui(config_path: Path, config: Config) -> int:
    log_path = config.server.data_dir / SERVER_LOG
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as server_log:
        app: GatehouseApp | None = None

        def reported(event: SupervisorEvent) -> None:
            if app is not None and app.is_running:
                app.post_message(SupervisorReported(event))

        supervisor = Supervisor(config_path, config, on_event=reported, output=server_log)
        app = GatehouseApp(local_url(config), config.server.api_key, supervisor)
        app.run()
    print(f"gatehouse: stopped; the server's log is in {log_path}")
    return app.return_code or 0  # 1 when the app failed (Textual has printed why)
