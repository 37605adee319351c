"""The activity record of one request, filled in as it is served: by the edge (who asked, how it was
answered), by the routes (where it went) and by the relay, whose observer it is.

`NOT_RECORDED` stands in when activity recording is off, so no layer asks whether it is on.
"""

from __future__ import annotations

import time

from api.core.auth import fingerprint
from api.core.relay import NotObserved
from api.store.activity import Record
from api.translate.translation import StreamTranslator
from api.wire.errors import Dialect
from api.wire.usage import StreamUsage, body_usage


class Recording:
    """A request's activity `Record`, as the relay's observer and the edge's account of the request."""

    __slots__ = ("record",)
    follows_streams = True

    def __init__(self, record: Record) -> None:
        self.record = record

    # --- the edge and the routes ---------------------------------------------------------------------

    def identified(self, client: str, key_id: str) -> None:
        self.record.client, self.record.key_id = client, key_id

    def refused_key(self, key: bytes) -> None:
        """A request whose key was not accepted is named by that key's fingerprint (never the key)."""
        if self.record.key_id is None:
            self.record.key_id = fingerprint(key)

    def routed(self, provider: str, model: str, dialect_out: str, stream: bool) -> None:
        self.record.routed(provider, model, dialect_out, stream)

    def answered(self, status: int, body_bytes: int) -> None:
        """The response is handed over; a stream finishes its record when it ends (`stream_ended`)."""
        record = self.record
        record.status = status
        if not record.pending:
            record.finish(body_bytes)

    # --- the relay's observer ------------------------------------------------------------------------

    def streaming(self) -> None:
        self.record.stream = self.record.pending = True

    def first_byte(self) -> None:
        record = self.record
        record.ttfb_ms = (time.perf_counter() - record.started) * 1000

    def whole_answer(self, dialect: Dialect, body: bytes) -> None:
        self.record.tokens(*body_usage(dialect, body))

    def tokens(self, input_tokens: int | None, output_tokens: int | None, estimated: bool = False) -> None:
        self.record.tokens(input_tokens, output_tokens, estimated)

    def failed(self, message: str | None) -> None:
        record = self.record
        record.error = record.error or message

    def stream_usage(self, usage: StreamUsage | None, translator: StreamTranslator | None) -> None:
        """The usage the stream reported; else the estimate a translator gave the client; else about 4 bytes
        a token in and one event a token out."""
        record = self.record
        if translator is not None:
            (inputs, outputs), estimate = translator.usage, translator.estimated_usage
        elif usage is not None:
            inputs, outputs = usage.input_tokens, usage.output_tokens
            estimate = (-(-record.request_bytes // 4), usage.estimated_output())
        else:
            return
        if outputs is not None:
            record.tokens(inputs, outputs)
        elif estimate is not None:
            record.tokens(*estimate, estimated=True)

    def stream_ended(self, sent: int, usage: StreamUsage | None, translator: StreamTranslator | None) -> None:
        # an error event that ended the stream makes it a failure too
        self.failed(translator.failure if translator is not None else usage.error if usage is not None else None)
        self.stream_usage(usage, translator)
        self.record.finish(sent)


class NotRecorded(NotObserved):
    """Activity recording is off: nothing is kept."""

    def identified(self, client: str, key_id: str) -> None:
        pass

    def refused_key(self, key: bytes) -> None:
        pass

    def routed(self, provider: str, model: str, dialect_out: str, stream: bool) -> None:
        pass

    def answered(self, status: int, body_bytes: int) -> None:
        pass


NOT_RECORDED = NotRecorded()
