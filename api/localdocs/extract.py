"""Files to text for LocalDocs: txt, md, rst, html, pdf (pypdf), docx (python-docx) and source code as text.

A document is its title and its sections, each with the heading it sits under and (PDFs) its page. A file
that cannot be read (too large, binary, corrupt, encrypted, of an unknown type) raises ExtractError with the
reason shown per file in /admin/collections; nothing else escapes, whatever the file holds.

Titles: PDF and DOCX title metadata or HTML `<title>` where the file has one, else the first heading (Markdown
front matter `title:` counts as one), else the file name without its suffix.
"""

from __future__ import annotations

import logging
import re
import stat
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

ENCRYPTED = "encrypted PDF (it needs a password)"


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
        status = path.stat()
    except OSError as exc:
        raise ExtractError(f"cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(status.st_mode):
        raise ExtractError("not a regular file")  # a FIFO or device would block or never end
    if status.st_size > MAX_FILE_BYTES:
        raise ExtractError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB ({status.st_size:,} bytes)")
    try:
        if suffix == ".pdf":
            return _pdf(path)
        if suffix == ".docx":
            return _docx(path)
        text = _text(path)
        if suffix in MARKDOWN_SUFFIXES:
            return _markdown(path, text)
        if suffix == ".rst":
            return _headed(path, _rst_sections(text))
        if suffix in (".html", ".htm"):
            return _html(path, text)
        return _headed(path, [Section(text.strip())])
    except ExtractError:
        raise
    except OSError as exc:
        raise ExtractError(f"cannot read: {exc.strerror or exc}") from None
    except Exception as exc:  # a parser's own failure on a malformed file
        raise ExtractError(f"cannot be read as {suffix[1:].upper()}: {type(exc).__name__}: {exc}"[:300]) from None


def _read(path: Path) -> bytes:
    """The file's bytes, never more than MAX_FILE_BYTES (it may have grown since it was measured)."""
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ExtractError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return data


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _text(path: Path) -> str:
    """UTF-8 (a BOM is dropped), UTF-16 with its BOM, else Windows-1252; NUL bytes mean binary, not text."""
    data = _read(path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").replace("\r\n", "\n")
        except UnicodeDecodeError:
            raise ExtractError("not valid UTF-16 text") from None
    if b"\x00" in data:
        raise ExtractError("binary content, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", "replace")  # old Windows text: readable rather than refused
        if len(_CONTROL.findall(text[:65536])) > len(text[:65536]) // 100:
            raise ExtractError("binary content, not text (not UTF-8 either)") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _headed(path: Path, sections: list[Section], title: str | None = None) -> Document:
    """The document without empty sections; titled `title`, else by its first heading, else by its name."""
    kept = [section for section in sections if section.text.strip()]
    title = title or next((section.heading for section in sections if section.heading), None) or path.stem
    return Document(title, kept)


_ATX = re.compile(r"^ {0,3}(#{1,6})(?:\s+(.*?))?\s*?(?:\s#+)?\s*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-{2,})\s*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.M)


def _markdown(path: Path, text: str) -> Document:
    """Front matter (`---` YAML at the top) is left out of the text; its `title:` titles the document."""
    title = None
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FRONT_TITLE.search(front.group(1))
        title = found.group(1).strip("'\"") if found else None
        text = text[front.end():]
    return _headed(path, _markdown_sections(text), title)


def _markdown_sections(text: str) -> list[Section]:
    """Sections under `#` headings and setext (underlined) ones; fenced code is never a heading."""
    raw = text.split("\n")
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    fence = ""
    for line in raw:
        opening = _FENCE.match(line)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence) \
                    and not line.strip()[len(opening.group(1)):].strip():
                fence = ""
            lines.append(line)
            continue
        if opening:
            fence = opening.group(1)
            lines.append(line)
            continue
        atx = _ATX.match(line)
        if atx and atx.group(2):
            sections.append(Section("\n".join(lines).strip(), heading=heading))
            heading, lines = atx.group(2).strip(), []
            continue
        if _SETEXT.match(line) and lines and lines[-1].strip() and not _FENCE.match(lines[-1]) \
                and (len(lines) == 1 or not lines[-2].strip()):
            # a one-line paragraph underlined with === or ---: a heading (a longer paragraph stays text)
            title_line = lines.pop().strip()
            sections.append(Section("\n".join(lines).strip(), heading=heading))
            heading, lines = title_line, []
            continue
        lines.append(line)
    sections.append(Section("\n".join(lines).strip(), heading=heading))
    return sections


_RST_UNDERLINE = re.compile(r"^([=\-`:'\"~^_*+#<>.])\1{2,}\s*$")


def _rst_sections(text: str) -> list[Section]:
    """Sections under reStructuredText titles: a line underlined (and maybe overlined) with punctuation."""
    raw = text.split("\n")
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    skip = -1
    for i, line in enumerate(raw):
        if i == skip:
            continue
        if line.strip() and not line.startswith((" ", "\t")) and i + 1 < len(raw) \
                and _RST_UNDERLINE.match(raw[i + 1]) and len(raw[i + 1].rstrip()) >= len(line.rstrip()) \
                and not _RST_UNDERLINE.match(line):
            if lines and _RST_UNDERLINE.match(lines[-1]):
                lines.pop()  # an overline
            sections.append(Section("\n".join(lines).strip(), heading=heading))
            heading, lines = line.strip(), []
            skip = i + 1
            continue
        lines.append(line)
    sections.append(Section("\n".join(lines).strip(), heading=heading))
    return sections


class _HtmlText(HTMLParser):
    """The text of an HTML page by heading (h1-h6), without scripts and styles; `<title>` kept apart."""

    HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
    HIDDEN = frozenset({"script", "style", "noscript", "template", "svg"})
    BLOCKS = frozenset({"p", "div", "li", "tr", "section", "article", "pre", "blockquote", "table", "ul", "ol",
                        "dd", "dt", "hr", "header", "footer", "nav", "aside", "main", "figure", "figcaption",
                        "form", "dl", "details", "summary", "address"})
    CELLS = frozenset({"td", "th"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.sections: list[Section] = []
        self._heading: str | None = None
        self._text: list[str] = []
        self._capture: list[str] | None = None
        self._hidden = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self._hidden += 1
        elif tag == "title":
            self._in_title = True
        elif tag in self.HEADINGS:
            self._flush()
            self._capture = []
        elif tag in self.BLOCKS:
            self._text.append("\n\n")
        elif tag == "br":
            self._text.append("\n")
        elif tag in self.CELLS:
            self._text.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.HIDDEN:  # <svg/> opens nothing
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in self.HEADINGS and self._capture is not None:
            self._heading = " ".join("".join(self._capture).split()) or None
            self._capture = None
        elif tag in self.BLOCKS:
            self._text.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._in_title:
            self.title += data
        elif self._capture is not None:
            self._capture.append(data)
        else:
            self._text.append(data)

    def _flush(self) -> None:
        text = re.sub(r"[ \t\r\f\v]+", " ", "".join(self._text))
        text = re.sub(r" ?\n ?", "\n", text)
        text = re.sub(r"\n{2,}", "\n\n", text).strip()
        self.sections.append(Section(text, heading=self._heading))
        self._text = []

    def close(self) -> None:
        super().close()
        if self._capture is not None:  # a heading never closed
            self._heading = " ".join("".join(self._capture).split()) or None
        self._flush()


def _html(path: Path, text: str) -> Document:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    return _headed(path, parser.sections, " ".join(parser.title.split()))


def _pdf(path: Path) -> Document:
    import pypdf
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # its complaints about a broken file: the reason says it
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted:
            try:  # an owner password alone (no user password) still lets anyone read the text
                if not reader.decrypt(""):
                    raise ExtractError(ENCRYPTED)
            except (FileNotDecryptedError, NotImplementedError, DependencyError):
                raise ExtractError(ENCRYPTED) from None
        sections = []
        for number, page in enumerate(reader.pages, 1):
            try:
                text = page.extract_text() or ""
            except (FileNotDecryptedError, DependencyError):
                raise ExtractError(ENCRYPTED) from None
            except Exception:  # one broken page costs that page, not the document
                continue
            if text.strip():
                sections.append(Section(text.strip(), page=number))
        pages = len(reader.pages)
        title = str(reader.metadata.title or "") if reader.metadata else ""
    except FileNotDecryptedError:
        raise ExtractError(ENCRYPTED) from None
    except PdfReadError as exc:
        raise ExtractError(f"corrupt PDF: {exc}"[:300]) from None
    if pages and not sections:
        raise ExtractError("PDF without a text layer (scanned pages need OCR)")
    title = title.removeprefix("Microsoft Word - ").strip()
    return Document(title or path.stem, sections)


def _docx(path: Path) -> Document:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ExtractError(f"corrupt DOCX: {exc or type(exc).__name__}"[:300]) from None
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    for block in document.iter_inner_content():  # paragraphs and tables in the order they appear
        if isinstance(block, Table):
            rows = (" | ".join(cell.text.strip() for cell in row.cells) for row in block.rows)
            lines.extend(row for row in rows if row.strip(" |"))
            continue
        style = ((block.style.name if block.style is not None else "") or "").lower()
        text = block.text.strip()
        if (style.startswith("heading") or style == "title") and text:
            sections.append(Section("\n\n".join(lines), heading=heading))
            heading, lines = text, []
        elif text:
            lines.append(text)
    sections.append(Section("\n\n".join(lines), heading=heading))
    return _headed(path, sections, (document.core_properties.title or "").strip())
