"""What the model hosts, their supervisor and the workers say to each other (api/local/host.py, hosts.py,
host_client.py), over Unix sockets in a directory only this user can enter.

- A worker asks the supervisor (one JSON line each way, one exchange per connection): `ensure` a model's host is
  running (its `Spec`), list them (`loaded`), `unload` one, set its `keep_alive`, read the `crashes`.
- A worker asks a model's host for one job per connection: a JSON line (`op`: `generate` | `embed` | `count` |
  `stats` | `keep_alive`), then reads frames — a kind byte, a 4-byte length, the payload — until `END` or `ERROR`.
  Closing the connection cancels the job: the generation stops before its next token, or its prompt's evaluation
  before its next batch (PROGRESS frames say how far that got).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from api.wire.errors import ApiError

STARTED = b"S"
"""The prompt was accepted (formatted, tokenized, within the context); the answer follows."""
DATA = b"D"
"""Bytes of the answer, as an OpenAI upstream would send them."""
PROGRESS = b"P"
"""How far the prompt's evaluation got, as JSON (`processed`, `total` tokens); sent after each batch of a prompt
that needs more than its last token evaluated."""
REPLY = b"R"
"""A JSON reply (counts, stats)."""
ERROR = b"E"
"""An ApiError as JSON (`status`, `message`, `code`, `param`); the last frame."""
END = b"Z"
"""The answer is complete; the last frame."""

_HEADER = struct.Struct(">cI")
LINE_LIMIT = 64 * 1024 * 1024
"""The longest request line (a prompt with its history)."""
SUPERVISOR_ENV = "GATEHOUSE_MODEL_HOSTS"
"""The supervisor's socket, handed by `python -m api` to its workers."""


@dataclass(frozen=True, slots=True)
class Spec:
    """A model as its host loads it: the same spec is the same host, whichever worker asks."""

    provider: str
    name: str
    path: str
    n_ctx: int
    n_threads: int
    n_gpu_layers: int
    chat_template: str | None
    embedding: bool
    parallel: int
    max_queue: int
    keep_alive: float
    """Seconds idle before the host exits (negative: never)."""
    size_bytes: int
    max_loaded: int
    """The provider's budget, shared by its hosts (the supervisor unloads the least recently used idle one)."""
    max_memory_mb: int

    @property
    def key(self) -> str:
        """What tells one host from another: everything but the budgets and the keep_alive."""
        identity = (self.provider, self.name, self.path, self.n_ctx, self.n_threads, self.n_gpu_layers,
                    self.chat_template, self.embedding, self.parallel, self.max_queue)
        return hashlib.sha256(orjson.dumps(identity)).hexdigest()[:16]

    @property
    def label(self) -> str:
        return f"{self.provider}:{self.name}" + (" (embeddings)" if self.embedding else "")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Spec:
        return cls(**data)


def runtime_dir(instance: str) -> Path:
    """A short directory for this server's sockets (a Unix socket path has ~100 bytes), private to this user."""
    root = Path(tempfile.gettempdir()) / f"gatehouse-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    os.chmod(root, 0o700)
    folder = root / instance[:16]
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return _HEADER.pack(kind, len(payload)) + payload


def error_frame(error: ApiError) -> bytes:
    return frame(ERROR, orjson.dumps({"status": error.status, "message": error.message, "type": error.type,
                                      "code": error.code, "param": error.param}))


def error_of(payload: bytes) -> ApiError:
    data = orjson.loads(payload)
    return ApiError(data["status"], data["message"], type=data.get("type"), code=data.get("code"),
                    param=data.get("param"))


async def read_frame(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """The next frame, or None when the other side is gone."""
    try:
        kind, size = _HEADER.unpack(await reader.readexactly(_HEADER.size))
        return kind, await reader.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


async def ask(path: str, request: dict, timeout_s: float | None = None) -> dict:
    """One JSON-line exchange with the supervisor or a host."""
    reader, writer = await asyncio.open_unix_connection(path, limit=LINE_LIMIT)
    try:
        writer.write(orjson.dumps(request) + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout_s)
    finally:
        writer.close()
    if not line:
        raise ConnectionResetError(f"{path} closed the connection")
    return orjson.loads(line)
