"""schemathesis against a real server over its own `/api-docs.json`: every operation with a bounded number of
generated requests, all checks (statuses and bodies as documented, bad input refused, valid input taken). The
never-ending activity stream is left out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.gateway import SERVER_KEY

EXAMPLES = 10
"""Generated requests per operation and phase: enough to catch a disagreement, bounded for `make test`."""

MODEL_REQUESTS = "^(/[^/]+)?/v1/(chat/completions|completions|embeddings|responses|messages(/count_tokens)?)$"
"""The model endpoints' bodies go to a provider, which judges the fields Gatehouse does not read itself
(sampling, tools, formats: checked by `tests/api` where Gatehouse does read them) and rules no JSON Schema
states (roles that alternate, a tool result right after its call, tool names unique, a bare model id two
providers serve). So the two checks of what is valid are left to the tests of those rules; every other check
(no 5xx, documented statuses, headers and answers) runs on them too."""

CONFIG = f"""
[[operations]]
include-path-regex = '{MODEL_REQUESTS}'
include-method = "POST"
checks.positive_data_acceptance.enabled = false
checks.negative_data_rejection.enabled = false

[[operations]]
include-path = "/v1/localdocs/search"
checks.positive_data_acceptance.enabled = false
"""
"""... and a search naming collections: their names are the config's (any other is a 400, as documented)."""


def run_schemathesis(gateway, directory: Path, seed: int, examples: int = EXAMPLES) -> subprocess.CompletedProcess:
    (directory / "schemathesis.toml").write_text(CONFIG)  # every check is on unless the config says otherwise
    # One worker: CPython 3.11's `ast` is not thread-safe ("AST constructor recursion depth mismatch",
    # cpython#106905), and Hypothesis parses lambda sources while two schemathesis threads generate.
    return subprocess.run(
        [str(Path(sys.executable).with_name("st")), "--config-file", str(directory / "schemathesis.toml"), "run",
         f"{gateway.base_url}/api-docs.json", "--url", gateway.base_url,
         "--max-examples", str(examples), "--header", f"Authorization: Bearer {SERVER_KEY}", "--workers", "1",
         "--exclude-path", "/admin/activity/stream", "--request-timeout", "30", "--seed", str(seed),
         "--report-dir", str(directory)],
        capture_output=True, text=True, timeout=600, cwd=directory)


def test_server_keeps_its_document(gateway, tmp_path):
    run = run_schemathesis(gateway, tmp_path, seed=21)
    (tmp_path / "schemathesis.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, f"{tmp_path / 'schemathesis.txt'}: {run.stdout[-20000:]}{run.stderr[-5000:]}"
