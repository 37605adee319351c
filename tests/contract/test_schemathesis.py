"""schemathesis against a real server over its own `/api-docs.json`: every operation with a bounded number of
generated requests, all checks (statuses and bodies as documented, bad input refused, ...). The never-ending
activity stream is left out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.gateway import SERVER_KEY

EXAMPLES = 10
"""Generated requests per operation and phase: enough to catch a disagreement, bounded for `make test`."""

OPEN = {
    "positive_data_acceptance": "documented-valid input refused: `since`/`until` any string (Moment), unknown "
                                "`after_id`/`before_id` cursors, `top_k: 5.0` on translated Messages, messages "
                                "the upstream refuses (first not `user`, item without `role`)",
    "negative_data_rejection": "an empty `providerType=` is ignored, not refused",
}
"""Checks left out until what they find (issue 21) is fixed: remove each entry with its fix."""


def test_server_keeps_its_document(gateway, tmp_path):
    # One worker: CPython 3.11's `ast` is not thread-safe ("AST constructor recursion depth mismatch",
    # cpython#106905), and Hypothesis parses lambda sources while two schemathesis threads generate.
    st = Path(sys.executable).with_name("st")
    run = subprocess.run(
        [str(st), "run", f"{gateway.base_url}/api-docs.json", "--url", gateway.base_url, "--checks", "all",
         "--exclude-checks", ",".join(OPEN),
         "--max-examples", str(EXAMPLES), "--header", f"Authorization: Bearer {SERVER_KEY}", "--workers", "1",
         "--exclude-path", "/admin/activity/stream", "--request-timeout", "30", "--seed", "21",
         "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    (tmp_path / "schemathesis.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, f"{tmp_path / 'schemathesis.txt'}: {run.stdout[-20000:]}{run.stderr[-5000:]}"
