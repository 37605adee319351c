"""Documents into chunks for LocalDocs: within each section (a heading's text, a PDF page), paragraphs packed up to
`chunk_chars`, a paragraph too long for one chunk split at sentences, a sentence too long at spaces (else
anywhere). Consecutive chunks of a section overlap by about `overlap` characters of whole sentences, so a
passage cut at a boundary is still found whole in one of them.

Offsets index the document's text: its sections' texts joined with a blank line ("\\n\\n"), so that
`text[chunk.start:chunk.end] == chunk.text`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from api.localdocs.extract import Document

SEPARATOR = "\n\n"
_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    title: str
    heading: str | None
    page: int | None
    start: int
    end: int


def chunk(document: Document, chunk_chars: int = 1000, overlap: int = 150) -> list[Chunk]:
    """The document's chunks, in order; none empty, none longer than `chunk_chars`."""
    chunks: list[Chunk] = []
    offset = 0
    for section in document.sections:
        for start, end in _windows(section.text, chunk_chars, min(overlap, chunk_chars // 3)):
            text = section.text[start:end]
            if text.strip():
                chunks.append(Chunk(text, document.title, section.heading, section.page, offset + start, offset + end))
        offset += len(section.text) + len(SEPARATOR)
    return chunks


def _pieces(text: str, limit: int) -> list[tuple[int, int]]:
    """Spans of `text` no longer than `limit`: paragraphs, else sentences, else words, else characters."""
    spans: list[tuple[int, int]] = []
    for start, end in _split(text, 0, len(text), _PARAGRAPH):
        if end - start <= limit:
            spans.append((start, end))
            continue
        for s_start, s_end in _split(text, start, end, _SENTENCE_END):
            if s_end - s_start <= limit:
                spans.append((s_start, s_end))
                continue
            spans.extend(_words(text, s_start, s_end, limit))
    return spans


def _split(text: str, start: int, end: int, boundary: re.Pattern[str]) -> list[tuple[int, int]]:
    """The spans between `boundary` matches within text[start:end], leading and trailing space left out."""
    spans = []
    position = start
    for match in boundary.finditer(text, start, end):
        spans.append((position, match.start()))
        position = match.end()
    spans.append((position, end))
    return [(a + len(text[a:b]) - len(text[a:b].lstrip()), b - (len(text[a:b]) - len(text[a:b].rstrip())))
            for a, b in spans if text[a:b].strip()]


def _words(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """text[start:end] cut at the last space before each `limit`, or at `limit` where there is none."""
    spans = []
    while end - start > limit:
        cut = text.rfind(" ", start + 1, start + limit + 1)
        cut = cut if cut > start else start + limit
        spans.append((start, cut))
        start = cut
        while start < end and text[start] == " ":
            start += 1
    if start < end:
        spans.append((start, end))
    return spans


def _windows(text: str, limit: int, overlap: int) -> list[tuple[int, int]]:
    """Chunks of text as spans: pieces packed up to `limit`, each chunk after the first starting with the
    last pieces of the one before that fit in `overlap`."""
    pieces = _pieces(text, limit)
    windows: list[tuple[int, int]] = []
    first = 0
    while first < len(pieces):
        last = first
        while last + 1 < len(pieces) and pieces[last + 1][1] - pieces[first][0] <= limit:
            last += 1
        windows.append((pieces[first][0], pieces[last][1]))
        if last + 1 >= len(pieces):
            break
        following = last + 1
        back = following
        while back - 1 > first and pieces[following][1] - pieces[back - 1][0] <= limit \
                and pieces[last][1] - pieces[back - 1][0] <= overlap:
            back -= 1
        first = back
    return windows
