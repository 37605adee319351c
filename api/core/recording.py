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
from api.wire.usage import StreamUsage


class Recording(Record):
    """A request's activity `Record` that fills itself in: for the edge (who asked, how it was answered), the
    routes (where it went) and the relay, whose observer it is. A subclass rather than a wrapper: the record is
    written to on every request, and a wrapper would add a call to each write."""

    __slots__ = ()
    wants_usage = True

    # --- the edge and the routes (`routed` is the Record's own) ------------------------------------------

    def identified(self, client: str, key_id: str) -> None:
        self.client, self.key_id = client, key_id

    def refused_key(self, key: bytes) -> None:
        """A request whose key was not accepted is named by that key's fingerprint (never the key)."""
        if self.key_id is None:
            self.key_id = fingerprint(key)

    def answered(self, status: int, body_bytes: int) -> None:
        """The response is handed over; a stream finishes its record when it ends (`stream_ended`)."""
        self.status = status
        if not self.pending:
            self.finish(body_bytes)

    # --- the relay's observer (`tokens` is the Record's own) ---------------------------------------------

    def streaming(self) -> None:
        self.stream = self.pending = True

    def first_byte(self) -> None:
        self.ttfb_ms = (time.perf_counter() - self.started) * 1000

    def failed(self, message: str | None) -> None:
        self.error = self.error or message

    def reported(self, usage: object) -> None:
        """Keeps the provider's usage object as it reported it (cache and reasoning tokens included)."""
        if isinstance(usage, dict):
            self.usage = usage

    def stream_usage(self, usage: StreamUsage | None, translator: StreamTranslator | None) -> None:
        """The usage the stream reported; else the estimate a translator gave the client; else about 4 bytes
        a token in and one event a token out."""
        if translator is not None:
            (inputs, outputs), estimate = translator.usage, translator.estimated_usage
            self.reported(translator.reported)
        elif usage is not None:
            inputs, outputs = usage.input_tokens, usage.output_tokens
            self.reported(usage.reported)
            estimate = (-(-self.request_bytes // 4), usage.estimated_output())
        else:
            return
        if outputs is not None:
            self.tokens(inputs, outputs)
        elif estimate is not None:
            self.tokens(*estimate, estimated=True)

    def stream_ended(self, sent: int, usage: StreamUsage | None, translator: StreamTranslator | None) -> None:
        # an error event that ended the stream makes it a failure too
        self.failed(translator.failure if translator is not None else usage.error if usage is not None else None)
        self.stream_usage(usage, translator)
        self.finish(sent)


class NotRecorded(NotObserved):
    """Activity recording is off: nothing is kept."""

    def identified(self, client: str, key_id: str) -> None:
        pass

    def refused_key(self, key: bytes) -> None:
        pass

    def routed(self, provider: str, model: str, dialect_out: str, stream: bool) -> None:
        pass

    def searched(self, collections: list[str], snippets: int, chars: int) -> None:
        pass

    def called(self, tool: str) -> None:
        pass

    def answered(self, status: int, body_bytes: int) -> None:
        pass


NOT_RECORDED = NotRecorded()
