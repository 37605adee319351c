"""Files to text for LocalDocs: txt, md, rst, html, pdf (pypdf), docx (python-docx) and source code as text.

A document is its title and its sections, each with the heading it sits under and (PDFs) its page. A file
that cannot be read (too large, binary, corrupt, encrypted, of an unknown type) raises ExtractError with the
reason shown per file in /admin/collections; nothing else escapes, whatever the file holds.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

MAX_FILE_BYTES = 50 * 1024 * 1024
"""Larger files are skipped: a document this size is rarely meant for a prompt, and reading it costs memory."""

TEXT_SUFFIXES = frozenset({".txt", ".text", ".log"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
CODE_SUFFIXES = frozenset({
    ".py", ".pyi", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".go", ".rs", ".java", ".kt", ".c", ".h", ".cc", ".cpp",
    ".hpp", ".cs", ".rb", ".php", ".swift", ".scala", ".sh", ".bash", ".zsh", ".ps1", ".sql", ".r", ".lua", ".pl",
    ".toml", ".yaml", ".yml", ".json", ".csv", ".tsv", ".ini", ".cfg", ".conf", ".xml", ".css", ".tex", ".org",
})
SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | CODE_SUFFIXES | {".rst", ".html", ".htm", ".pdf", ".docx"}
"""The file types indexed when a collection names no `include` globs."""


class ExtractError(Exception):
    """A file that cannot be read; the message is the reason shown for it."""


@dataclass(frozen=True, slots=True)
class Section:
    text: str
    page: int | None = None
    """1-based, for PDFs."""
    heading: str | None = None
    """The heading the text sits under."""


@dataclass(frozen=True, slots=True)
class Document:
    title: str
    sections: list[Section]


def extract(path: Path) -> Document:
    """The document in the file at `path`; ExtractError when it cannot be read."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ExtractError(f"unsupported file type {suffix or '(no suffix)'}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ExtractError(f"cannot read: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise ExtractError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB ({size:,} bytes)")
    try:
        if suffix == ".pdf":
            return _pdf(path)
        if suffix == ".docx":
            return _docx(path)
        text = _text(path)
        if suffix in MARKDOWN_SUFFIXES:
            return _headed(path, _markdown_sections(text))
        if suffix == ".rst":
            return _headed(path, _rst_sections(text))
        if suffix in (".html", ".htm"):
            return _html(path, text)
        return _headed(path, [Section(text)])
    except ExtractError:
        raise
    except OSError as exc:
        raise ExtractError(f"cannot read: {exc.strerror or exc}") from None
    except Exception as exc:  # a parser's own failure on a malformed file
        raise ExtractError(f"cannot be read as {suffix[1:].upper()}: {type(exc).__name__}: {exc}"[:300]) from None


def _text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise ExtractError("binary content, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")  # old Windows text: readable rather than refused


def _headed(path: Path, sections: list[Section]) -> Document:
    """The document with its sections stripped of empty ones; its title is its first heading, else its name."""
    kept = [section for section in sections if section.text.strip()]
    title = next((section.heading for section in sections if section.heading), None) or path.stem
    return Document(title, kept)


_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(```|~~~)")


def _markdown_sections(text: str) -> list[Section]:
    """Sections under `#` headings and setext (underlined) ones; fenced code is never a heading."""
    raw = text.splitlines()
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    fenced = False
    underline = -1
    for i, line in enumerate(raw):
        if i == underline:
            continue
        if _FENCE.match(line):
            fenced = not fenced
        atx = None if fenced else _ATX.match(line)
        setext = (not fenced and not atx and line.strip() and i + 1 < len(raw)
                  and re.fullmatch(r"={3,}|-{3,}", raw[i + 1].strip()) is not None)
        if atx or setext:
            sections.append(Section("\n".join(lines).strip(), heading=heading))
            heading, lines = (atx.group(2) if atx else line.strip()), []
            underline = i + 1 if setext else -1
            continue
        lines.append(line)
    sections.append(Section("\n".join(lines).strip(), heading=heading))
    return sections


_RST_UNDERLINE = re.compile(r"^([=\-`:'\"~^_*+#<>])\1{2,}\s*$")


def _rst_sections(text: str) -> list[Section]:
    raw = text.splitlines()
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    skip = set()
    for i, line in enumerate(raw):
        if i in skip:
            continue
        if line.strip() and i + 1 < len(raw) and _RST_UNDERLINE.match(raw[i + 1]) \
                and len(raw[i + 1].rstrip()) >= len(line.rstrip()) and not _RST_UNDERLINE.match(line):
            if lines and _RST_UNDERLINE.match(lines[-1]):
                lines.pop()  # an overline
            sections.append(Section("\n".join(lines).strip(), heading=heading))
            heading, lines = line.strip(), []
            skip.add(i + 1)
            continue
        lines.append(line)
    sections.append(Section("\n".join(lines).strip(), heading=heading))
    return sections


class _HtmlText(HTMLParser):
    """The text of an HTML page by heading (h1-h6), without scripts and styles; `<title>` kept apart."""

    HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "section", "article", "pre", "blockquote", "table", "ul",
                        "ol", "dd", "dt", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.sections: list[Section] = []
        self._heading: str | None = None
        self._text: list[str] = []
        self._capture: list[str] | None = None
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style", "noscript", "template"):
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in self.HEADINGS:
            self._flush()
            self._capture = []
        elif tag in self.BLOCKS:
            self._text.append("\n\n" if tag != "br" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "noscript", "template"):
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in self.HEADINGS and self._capture is not None:
            self._heading = " ".join("".join(self._capture).split()) or None
            self._capture = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title += data
        elif self._capture is not None:
            self._capture.append(data)
        else:
            self._text.append(data)

    def _flush(self) -> None:
        text = re.sub(r"[ \t]+", " ", "".join(self._text))
        text = re.sub(r"\n\s*\n\s*", "\n\n", text).strip()
        self.sections.append(Section(text, heading=self._heading))
        self._text = []

    def close(self) -> None:
        super().close()
        self._flush()


def _html(path: Path, text: str) -> Document:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    document = _headed(path, parser.sections)
    title = " ".join(parser.title.split())
    return Document(title or document.title, document.sections)


def _pdf(path: Path) -> Document:
    import pypdf
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise ExtractError("encrypted PDF (it needs a password)")
            except (FileNotDecryptedError, NotImplementedError):
                raise ExtractError("encrypted PDF (it needs a password)") from None
        sections = [Section(page.extract_text() or "", page=number) for number, page in enumerate(reader.pages, 1)]
        metadata_title = (reader.metadata.title if reader.metadata else None) or None
    except FileNotDecryptedError:
        raise ExtractError("encrypted PDF (it needs a password)") from None
    except PdfReadError as exc:
        raise ExtractError(f"corrupt PDF: {exc}"[:300]) from None
    kept = [Section(section.text.strip(), page=section.page) for section in sections if section.text.strip()]
    if sections and not kept:
        raise ExtractError("PDF without a text layer (scanned pages need OCR)")
    return Document(str(metadata_title).strip() if metadata_title else path.stem, kept)


def _docx(path: Path) -> Document:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError) as exc:
        raise ExtractError(f"corrupt DOCX: {exc}"[:300]) from None
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    for paragraph in document.paragraphs:
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        text = paragraph.text.strip()
        if style.startswith("Heading") or style == "Title":
            sections.append(Section("\n\n".join(lines), heading=heading))
            heading, lines = text or heading, []
        elif text:
            lines.append(text)
    for table in document.tables:
        lines.extend(" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows)
    sections.append(Section("\n\n".join(lines), heading=heading))
    title = (document.core_properties.title or "").strip()
    headed = _headed(path, sections)
    return Document(title or headed.title, headed.sections)
