"""Translation between the OpenAI Chat Completions and Anthropic Messages dialects.

- `requests`: request bodies, both ways.
- `answers`: non-streaming answers, finish/stop reasons, usage and error bodies.
- `responses_api`, `responses_api_stream`: OpenAI's Responses API over Chat Completions, whole and streamed.
- `translation`: what a crossing of dialects hands the relay (`Translation`, `StreamTranslator`).
- `claude`: what current Claude models take, read from their ids.
- `streams`: incremental SSE stream translators, both ways.
- `shapes`: the fields a translation reads, of requests and of answers, checked first.

The rules and their lossy cases are listed in docs/translation.md.
"""

from __future__ import annotations


class TranslationError(ValueError):
    """A request that cannot be expressed in the other dialect, or is malformed; `param` names the
    offending field and `code` is OpenAI's error code for it."""

    def __init__(self, message: str, param: str | None = None, code: str = "unsupported_parameter") -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class UntranslatableAnswer(ValueError):
    """A provider's answer that the translation cannot read; the message says what is wrong with it, in
    plain words ("it has no 'choices[0]'")."""
