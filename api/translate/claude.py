"""What current Claude models take, read from their ids (the API offers no way to ask).

Claude 4.6 and later think adaptively, at an `output_config.effort`; Opus 4.7 and later take nothing
else (a thinking budget gets 400 "thinking.type.enabled is not supported for this model"), brought the
`xhigh` effort, and refuse `temperature`, `top_p` and `top_k` (400 "`temperature` is deprecated for this
model."). A model id the gateway cannot read as Claude's is taken for an older model.
"""

from __future__ import annotations

import re

ADAPTIVE_FROM = (4, 6)
LATEST_FROM = (4, 7)
"""Adaptive thinking only, the `xhigh` effort, no sampling parameters."""
SAMPLING = ("temperature", "top_p", "top_k")

_VERSION = re.compile(r"(?:opus|sonnet|haiku)-(\d)(?:[-.](\d{1,2}))?(?!\d)")
"""The version in a current Claude model id: claude-opus-4-7, claude-sonnet-4-5-20250929, anthropic.claude-opus-4-6-v1,
claude-opus-4.7 (not the 3.x ids, claude-3-7-sonnet-...)."""


def version(model: str) -> tuple[int, int] | None:
    match = _VERSION.search(model)
    return (int(match[1]), int(match[2] or 0)) if match else None


def thinks_adaptively(model: str) -> bool:
    return (found := version(model)) is not None and found >= ADAPTIVE_FROM


def is_latest(model: str) -> bool:
    """Opus 4.7 or later: adaptive thinking only, `xhigh`, no sampling parameters."""
    return (found := version(model)) is not None and found >= LATEST_FROM
