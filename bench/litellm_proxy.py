"""LiteLLM's proxy as a benchmark target: found if installed, started in front of the fake upstream.

LiteLLM is not a Gatehouse dependency. `bench/run --only litellm` looks for its proxy in the bench's
own Python (.venv/bin/python), then in the Python named by $LITELLM_PYTHON, then in a separate venv
at .venv/litellm-venv (installing it there keeps LiteLLM's pins, such as an older `openai` and
`rich`, out of the project's test environment):

    python3 -m venv .venv/litellm-venv && .venv/litellm-venv/bin/pip install 'litellm[proxy]'

When none has it, the scenario is skipped with a note; it never fails the run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bench.harness import HOST, PYTHON, REPO, Server, free_port

MODEL = "gpt-fake"
"""The model name LiteLLM serves (its `model_name`), mapped to `openai/gpt-fake` on the fake upstream."""
MASTER_KEY = "sk-bench-0123456789"
"""LiteLLM's master key (it wants an `sk-` prefix): every request is authenticated, as with Gatehouse."""
SEPARATE_VENV = REPO / ".venv" / "litellm-venv"
INSTALL_HINT = "python3 -m venv .venv/litellm-venv && .venv/litellm-venv/bin/pip install 'litellm[proxy]'"
SKIPPED = f"litellm: skipped, not installed ({INSTALL_HINT})"

_PROXY_CHECK = """\
import importlib.util, sys
# litellm itself, and modules only its [proxy] extra installs; find_spec of top-level names
# does not import litellm (seconds of start-up)
needed = ["litellm", "fastapi", "uvicorn", "backoff", "apscheduler", "multipart", "yaml"]
sys.exit(0 if all(importlib.util.find_spec(name) for name in needed) else 1)
"""

CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/gpt-fake
      api_base: {upstream}
      api_key: fake-upstream-key

litellm_settings:
  telemetry: false
  set_verbose: false
  json_logs: false
  turn_off_message_logging: true

general_settings:
  master_key: {master_key}
  disable_spend_logs: true
  store_model_in_db: false
"""

QUIET_ENV = {
    "LITELLM_LOG": "ERROR",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the model price list at start-up: 127.0.0.1 only
    "LITELLM_MODE": "PRODUCTION",  # no .env file loaded from the working directory
    "NO_DOCS": "True",  # no Swagger UI
}


def _has_proxy(python: str) -> bool:
    if not Path(python).is_file() or not (Path(python).parent / "litellm").is_file():
        return False
    try:
        done = subprocess.run([python, "-c", _PROXY_CHECK], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def find_python() -> str | None:
    """The first Python with LiteLLM's proxy installed (the `litellm` CLI next to it), or None."""
    candidates = [PYTHON, os.environ.get("LITELLM_PYTHON", ""), str(SEPARATE_VENV / "bin" / "python")]
    return next((python for python in candidates if python and _has_proxy(python)), None)


def litellm_proxy(python: str, upstream: str, work_dir: Path) -> tuple[Server, str]:
    """LiteLLM's proxy (1 worker) on a free port of 127.0.0.1, relaying `MODEL` to the fake upstream at
    `upstream` (ending in /v1), and its base URL (ending in /v1). Not started: enter the Server."""
    port = free_port()
    config = work_dir / "litellm.yaml"
    config.write_text(CONFIG.format(model=MODEL, upstream=upstream, master_key=MASTER_KEY))
    command = ["env", *(f"{name}={value}" for name, value in QUIET_ENV.items()),
               str(Path(python).parent / "litellm"), "--config", str(config), "--host", HOST, "--port", str(port),
               "--num_workers", "1"]
    return Server("litellm", command, f"http://{HOST}:{port}/health/liveliness", work_dir), f"http://{HOST}:{port}/v1"
