"""Translation between the OpenAI Chat Completions and Anthropic Messages dialects.

- `requests`: request bodies, both ways.
- `responses`: non-streaming answers, finish/stop reasons, usage and error bodies.
- `streams`: incremental SSE stream translators, both ways.

The rules and their lossy cases are listed in docs/translation.md.
"""

from __future__ import annotations


class TranslationError(ValueError):
    """A request that cannot be expressed in the other dialect; `param` names the offending field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param
