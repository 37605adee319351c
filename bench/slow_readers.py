"""Streams read slowly by many clients at once: what the gateway keeps in memory for them (the `slow-readers`
scenario of bench/overhead.py; issue 21 item 6).

Each reader is a raw socket with a small receive buffer that sends one streamed chat request and then reads
a few bytes now and then, so the gateway's sends to it back up.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

RECEIVE_BUFFER = 4096
READ_BYTES = 64
"""Read per reader and round, every READ_EVERY_S."""
READ_EVERY_S = 0.5


def _request(url: str, body: bytes, auth: str | None) -> bytes:
    parts = urlsplit(url)
    headers = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}", "Content-Type: application/json",
               f"Content-Length: {len(body)}", *([f"Authorization: Bearer {auth}"] if auth else [])]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def slow_readers(url: str, body: bytes, auth: str | None, count: int, hold_s: float) -> None:
    """Open `count` slow readers of the stream `body` asks for, read them slowly for `hold_s`, then close them all."""
    parts = urlsplit(url)
    request = _request(url, body, auth)
    readers = []
    try:
        for _ in range(count):
            reader = socket.socket()
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            reader.connect((parts.hostname, parts.port))
            reader.sendall(request)
            reader.setblocking(False)
            readers.append(reader)
        deadline = time.monotonic() + hold_s
        while time.monotonic() < deadline:
            for reader in readers:
                try:
                    reader.recv(READ_BYTES)
                except BlockingIOError:
                    pass
            time.sleep(READ_EVERY_S)
    finally:
        for reader in readers:
            reader.close()
