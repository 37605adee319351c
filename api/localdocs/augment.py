"""LocalDocs in a chat request: the question searched for, the snippets put into the prompt the provider gets,
and the sources given back to the caller.

The snippets go before the last user turn's own content, as numbered source blocks the model is told to cite
(`[1]`) in an OpenAI-type request (chat completions, a native Responses request, local models), and as
Anthropic's own `search_result` blocks, citations on, towards an Anthropic-type provider. Snippets are added
best first while they fit PROMPT_BUDGET_CHARS.

The caller gets the sources as a top-level `localdocs` object of a whole answer, or as one extra event before
a stream's end: a `data:` chunk of object `localdocs.sources` before chat's `[DONE]`, an
`event: localdocs.sources` before Messages' `message_stop` and before the Responses API's final event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import orjson

from api.localdocs.index import Hit

PROMPT_BUDGET_CHARS = 8_000
"""At most this much snippet text goes into one request (about 2,000 tokens)."""
INSTRUCTION = ("Answer using the numbered sources below where they are relevant, and cite them by number like [1]. "
               "If they do not hold the answer, say so and answer from what you know.")


def question(body: dict, endpoint: str) -> str:
    """The text of the request's last user turn (what is searched for); "" when it has none."""
    if endpoint == "responses":
        items = body.get("input")
        if isinstance(items, str):
            return items
        turns: list = items if isinstance(items, list) else []
    else:
        messages = body.get("messages")
        turns = messages if isinstance(messages, list) else []
    for turn in reversed(turns):
        if isinstance(turn, dict) and turn.get("role") == "user":
            return _text(turn.get("content"))
    return ""


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part["text"] for part in content
                         if isinstance(part, dict) and part.get("type") in ("text", "input_text")
                         and isinstance(part.get("text"), str))
    return ""


def fitted(hits: list[Hit]) -> list[Hit]:
    """The best hits that fit the prompt budget (the first one always)."""
    kept: list[Hit] = []
    used = 0
    for hit in hits:
        if kept and used + len(hit.text) > PROMPT_BUDGET_CHARS:
            break
        kept.append(hit)
        used += len(hit.text)
    return kept


def _place(hit: Hit) -> str:
    return hit.path + (f", page {hit.page}" if hit.page else "")


def sources_text(hits: list[Hit]) -> str:
    blocks = [f"[{number}] {hit.title} ({_place(hit)})\n{hit.text}" for number, hit in enumerate(hits, 1)]
    return INSTRUCTION + "\n\n" + "\n\n".join(blocks)


def augment(body: dict, path: str, hits: list[Hit]) -> None:
    """Put the snippets into `body`, the request as it goes to the provider's `path`."""
    if not hits:
        return
    if path == "/messages":
        blocks = [{"type": "search_result", "source": _place(hit), "title": hit.title,
                   "content": [{"type": "text", "text": hit.text}], "citations": {"enabled": True}} for hit in hits]
        _before_last_user_turn(body.get("messages"), blocks, "text")
    elif path == "/responses":
        text = sources_text(hits)
        if isinstance(body.get("input"), str):
            body["input"] = [{"role": "user", "content": [{"type": "input_text", "text": text},
                                                          {"type": "input_text", "text": body["input"]}]}]
        else:
            _before_last_user_turn(body.get("input"), [{"type": "input_text", "text": text}], "input_text")
    else:
        _before_last_user_turn(body.get("messages"), [{"type": "text", "text": sources_text(hits)}], "text")


def _before_last_user_turn(turns: object, parts: list[dict], text_type: str) -> None:
    if not isinstance(turns, list):
        return
    for turn in reversed(turns):
        if isinstance(turn, dict) and turn.get("role") == "user":
            content = turn.get("content")
            if isinstance(content, str):
                if len(parts) == 1 and parts[0]["type"] == text_type:  # text stays text: any server takes it
                    turn["content"] = parts[0]["text"] + "\n\n" + content
                else:
                    turn["content"] = [*parts, {"type": text_type, "text": content}]
            elif isinstance(content, list):
                turn["content"] = [*parts, *content]
            return


def sources(hits: list[Hit]) -> dict:
    """The `localdocs` object given back: the sources in the order they were numbered."""
    return {"sources": [{"id": number, "collection": hit.collection, "path": hit.path, "title": hit.title,
                         "page": hit.page, "text": hit.text, "score": round(hit.score, 6), "chunk_id": hit.chunk_id}
                        for number, hit in enumerate(hits, 1)]}


def with_sources_body(body: bytes, found: dict) -> bytes:
    """A whole JSON answer with the top-level `localdocs` object added (spliced in, not parsed again)."""
    end = body.rstrip().rfind(b"}")
    if end < 0:
        return body
    inner = body[:end].rstrip()
    comma = b"" if inner.endswith(b"{") else b","
    return inner + comma + b'"localdocs":' + orjson.dumps(found) + body[end:]


_ENDS = {"openai": (b"data: [DONE]",), "anthropic": (b"event: message_stop",),
         "responses": (b"event: response.completed", b"event: response.incomplete", b"event: response.failed")}


def sources_event(found: dict, dialect: str) -> bytes:
    if dialect == "openai":  # a chat chunk with no choices, as the usage chunk is: the SDK's loop reads it
        chunk = {"id": "localdocs", "object": "localdocs.sources", "choices": [], **found}
        return b"data: " + orjson.dumps(chunk) + b"\n\n"
    return b"event: localdocs.sources\ndata: " + orjson.dumps({"type": "localdocs.sources", **found}) + b"\n\n"


def with_sources_stream(stream: Callable[[], AsyncIterator[bytes]], found: dict,
                        dialect: str) -> Callable[[], AsyncIterator[bytes]]:
    """The stream with the sources event put before its final event (at its end if none is seen)."""
    ends, event = _ENDS[dialect], sources_event(found, dialect)

    async def chunks() -> AsyncIterator[bytes]:
        sent = False
        async for chunk in stream():
            if not sent:
                at = min((found_at for end in ends if (found_at := chunk.find(end)) >= 0), default=-1)
                if at >= 0:
                    chunk, sent = chunk[:at] + event + chunk[at:], True
            yield chunk
        if not sent:
            yield event

    return chunks
