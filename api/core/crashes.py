"""Workers that died and were replaced: the main process notes each in a small file in the data dir, so any
worker's `/admin/status` can say what died and why (`workers_restarted`)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from api.core.stopping import signal_name

FILE = "workers-restarted.json"
KEPT = 20
"""The most recent deaths kept."""


def reset(data_dir: Path) -> None:
    """In the main process, at start: a new server has had no deaths."""
    (data_dir / FILE).unlink(missing_ok=True)


def note(data_dir: Path, pid: int, exit_code: int) -> None:
    """In the main process: worker `pid` ended with `exit_code` (negative: the signal that killed it)."""
    died = {"pid": pid, "exit_code": None if exit_code < 0 else exit_code, "signal": signal_name(exit_code),
            "at": datetime.now(UTC).isoformat(timespec="seconds")}
    entries = [*recent(data_dir), died][-KEPT:]
    staging = data_dir / f".{FILE}.{os.getpid()}"
    staging.write_text(json.dumps(entries))
    staging.replace(data_dir / FILE)


def recent(data_dir: Path) -> list[dict]:
    """The deaths noted since the server started, oldest first."""
    try:
        return json.loads((data_dir / FILE).read_text())
    except (OSError, ValueError):
        return []
