"""Sampling a server worker with py-spy while a benchmark runs (`bench/run --profile FILE`)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from bench.harness import PYTHON, BenchError

FORMATS = {".svg": "flamegraph", ".txt": "raw", ".json": "speedscope"}


def _py_spy() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(PYTHON).parent))
    if not found:
        raise BenchError(f"py-spy is missing: {PYTHON} -m pip install py-spy")
    return found


@contextmanager
def py_spy(pid: int, output: Path):
    """Record `pid` (100 samples/s, without pausing it) into `output` until the block ends.

    The format follows the suffix: .svg flame graph, .txt collapsed stacks (one line per
    stack with its sample count, easy to grep), .json speedscope.
    """
    fmt = FORMATS.get(output.suffix)
    if fmt is None:
        raise BenchError(f"--profile: use a .svg, .txt or .json file, not {output.name}")
    command = [_py_spy(), "record", "--pid", str(pid), "--nonblocking", "--format", fmt, "--output", str(output)]
    recorder = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        yield recorder
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            recorder.wait(30)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait()
        print(f"profile of pid {pid} written to {output}", file=sys.stderr)
