"""Documents into chunks for LocalDocs.

Each section (the text under one heading, or one PDF page) is cut on its own: into paragraphs (blank lines),
paragraphs into sentences, a sentence too long for a chunk into lines, then at spaces, and a run with no space
at all hard at `chunk_chars`. The sentences are packed into chunks of at most `chunk_chars`, ending at a
paragraph's end where one falls in a chunk's second half. Each chunk after the first of a section starts with
the last whole sentences of the one before, about `overlap` characters (or, when its last sentence is longer,
that many characters from a word boundary), so a passage cut at a boundary is still found whole in one of them.

Offsets index the document's text: its sections' texts joined with a blank line (`SEPARATOR`, "\\n\\n"), so that
`SEPARATOR.join(s.text for s in document.sections)[chunk.start:chunk.end] == chunk.text`. The heading is in
`Chunk.heading`, not repeated in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from api.localdocs.extract import Document

SEPARATOR = "\n\n"
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE = re.compile(r"(?<=[.!?][\"'”’)\]])\s+|(?<=[.!?])\s+|(?<=[。！？])\s*")
_LINE = re.compile(r"\n\s*")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    title: str
    heading: str | None
    page: int | None
    start: int
    end: int


class _Unit(NamedTuple):
    """A sentence (or a piece of one too long for a chunk) as a span of the section's text."""

    start: int
    end: int
    paragraph: bool
    """The first unit of a paragraph: a chunk may end before it."""


def chunk(document: Document, chunk_chars: int = 1000, overlap: int = 150) -> list[Chunk]:
    """The document's chunks, in order; none empty, none longer than `chunk_chars`."""
    if chunk_chars < 1:
        raise ValueError("chunk_chars must be at least 1")
    overlap = max(0, min(overlap, chunk_chars // 2))
    chunks: list[Chunk] = []
    offset = 0
    for section in document.sections:
        for start, end in _windows(section.text, chunk_chars, overlap):
            chunks.append(Chunk(section.text[start:end], document.title, section.heading, section.page,
                                offset + start, offset + end))
        offset += len(section.text) + len(SEPARATOR)
    return chunks


def _spans(text: str, start: int, end: int, boundary: re.Pattern[str]) -> list[tuple[int, int]]:
    """The spans between `boundary` matches within text[start:end], without surrounding space, none empty."""
    spans = []
    position = start
    for match in boundary.finditer(text, start, end):
        if match.end() > match.start() or match.start() > position:
            spans.append((position, match.start()))
            position = match.end()
    spans.append((position, end))
    out = []
    for a, b in spans:
        piece = text[a:b]
        stripped = piece.strip()
        if stripped:
            a += len(piece) - len(piece.lstrip())
            out.append((a, a + len(stripped)))
    return out


def _units(text: str, limit: int, overlap: int) -> list[_Unit]:
    units: list[_Unit] = []
    for p_start, p_end in _spans(text, 0, len(text), _PARAGRAPH):
        first = True
        for s_start, s_end in _spans(text, p_start, p_end, _SENTENCE):
            if s_end - s_start <= limit:
                units.append(_Unit(s_start, s_end, first))
            else:
                for l_start, l_end in _spans(text, s_start, s_end, _LINE):
                    pieces = [(l_start, l_end)] if l_end - l_start <= limit else \
                        _words(text, l_start, l_end, limit, max(1, limit - overlap))
                    units.extend(_Unit(a, b, first and a == s_start) for a, b in pieces)
            first = False
    return units


def _words(text: str, start: int, end: int, limit: int, room: int) -> list[tuple[int, int]]:
    """text[start:end] cut at the last space within `room` (so that an overlap fits beside each piece), else
    within `limit`, else hard at `limit`."""
    spans = []
    while end - start > room:
        cut = -1
        for reach in (room, limit):
            bound = min(start + reach + 1, end)
            cut = max(text.rfind(" ", start + 1, bound), text.rfind("\t", start + 1, bound))
            if cut > start:
                break
        if cut <= start:
            if end - start <= limit:
                break
            cut = start + limit
        piece_end = cut
        while piece_end > start and text[piece_end - 1].isspace():
            piece_end -= 1
        spans.append((start, piece_end))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        spans.append((start, end))
    return spans


def _windows(text: str, limit: int, overlap: int) -> list[tuple[int, int]]:
    """The chunks of one section's text, as spans."""
    units = _units(text, limit, overlap)
    windows: list[tuple[int, int]] = []
    i, start, first = 0, units[0].start if units else 0, 0
    while i < len(units):
        j = i
        while j + 1 < len(units) and units[j + 1].end - start <= limit:
            j += 1
        if j + 1 < len(units) and not units[j + 1].paragraph:
            paragraph = next((k for k in range(j, i, -1) if units[k].paragraph), None)
            if paragraph is not None and units[paragraph - 1].end - start >= limit // 2:
                j = paragraph - 1  # end with a paragraph rather than in the middle of the next one
        windows.append((start, units[j].end))
        i = j + 1
        if i < len(units):
            start = _overlap_start(text, units, first, j, i, start, limit, overlap)
            first = next(k for k in range(first, i + 1) if units[k].start >= start)
    return windows


def _overlap_start(text: str, units: list[_Unit], first: int, last: int, following: int, window_start: int,
                   limit: int, overlap: int) -> int:
    """Where the chunk after the window of units first..last starts: its last whole sentences within `overlap`,
    else the tail of its last one from a word boundary, else (no room) the next unit itself."""
    end = units[last].end
    ceiling = units[following].end
    best = None
    for b in range(last, first, -1):
        if end - units[b].start > overlap or ceiling - units[b].start > limit:
            break
        best = units[b].start
    if best is not None:
        return best
    if overlap:
        space = _SPACE.search(text, max(end - overlap, window_start + 1), end)
        if space is not None and space.end() < end and ceiling - space.end() <= limit:
            return space.end()
    return units[following].start
