"""Files to documents (api/localdocs/extract.py) and documents to chunks (api/localdocs/chunking.py), on real files
the tests write: md, rst, html, txt, source code, docx, pdf (two pages, encrypted, corrupt), and bad ones."""

from __future__ import annotations

import os
from pathlib import Path

import docx
import pypdf
import pytest

from api.localdocs.chunking import SEPARATOR, chunk
from api.localdocs.extract import MAX_FILE_BYTES, Document, ExtractError, Section, extract


def write_pdf(path: Path, pages: list[str], title: str | None = None) -> None:
    """A real PDF, written by hand: one Helvetica text line per page (pypdf cannot lay out text)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(len(pages)))
               + b"] /Count %d >>" % len(pages),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, text in enumerate(pages):
        stream = b"BT /F1 12 Tf 72 720 Td (" + text.encode() + b") Tj ET"
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * i))
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info = len(objects) + 1
    objects.append(b"<< /Title (" + (title or "").encode() + b") >>")
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    path.write_bytes(bytes(out))


def test_markdown_sections_follow_headings_and_not_code(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text("# Guide\n\nIntro text.\n\n## Install\n\n```\n# not a heading\n```\nRun it.\n\nUsage\n-----\n\n"
                    "Use it.\n")
    document = extract(path)
    assert document.title == "Guide"
    assert [(s.heading, s.text) for s in document.sections] == [
        ("Guide", "Intro text."), ("Install", "```\n# not a heading\n```\nRun it."), ("Usage", "Use it.")]


def test_rst_html_text_and_code(tmp_path):
    (tmp_path / "a.rst").write_text("Title\n=====\n\nFirst.\n\nPart two\n--------\n\nSecond.\n")
    assert [(s.heading, s.text) for s in extract(tmp_path / "a.rst").sections] == [("Title", "First."),
                                                                                  ("Part two", "Second.")]
    (tmp_path / "p.html").write_text("<html><head><title>Page</title><style>p{}</style></head><body><p>Lead</p>"
                                     "<h2>Part</h2><p>Body &amp; more</p><script>var x;</script></body></html>")
    page = extract(tmp_path / "p.html")
    assert page.title == "Page" and [(s.heading, s.text) for s in page.sections] == [(None, "Lead"),
                                                                                     ("Part", "Body & more")]
    (tmp_path / "notes.txt").write_bytes("\ufeffcafé".encode())
    assert extract(tmp_path / "notes.txt") == Document("notes", [Section("café")])
    (tmp_path / "tool.py").write_text("def f():\n    return 1\n")
    assert extract(tmp_path / "tool.py").sections[0].text.startswith("def f()")


def test_docx_headings_paragraphs_and_title(tmp_path):
    document = docx.Document()
    document.core_properties.title = "Handbook"
    document.add_heading("Holidays", level=1)
    document.add_paragraph("Twenty-five days a year.")
    document.add_heading("Travel", level=2)
    document.add_paragraph("Book trains early.")
    document.save(str(tmp_path / "h.docx"))
    found = extract(tmp_path / "h.docx")
    assert found.title == "Handbook"
    assert [(s.heading, s.text) for s in found.sections] == [("Holidays", "Twenty-five days a year."),
                                                             ("Travel", "Book trains early.")]


def test_pdf_text_by_page(tmp_path):
    write_pdf(tmp_path / "r.pdf", ["Hello page one", "Second page here"], title="Report")
    found = extract(tmp_path / "r.pdf")
    assert found.title == "Report"
    assert [(s.page, s.text) for s in found.sections] == [(1, "Hello page one"), (2, "Second page here")]


def test_bad_files_give_a_reason_not_a_crash(tmp_path):
    write_pdf(tmp_path / "plain.pdf", ["Secret"])
    writer = pypdf.PdfWriter(clone_from=str(tmp_path / "plain.pdf"))
    writer.encrypt("a password")
    writer.write(str(tmp_path / "locked.pdf"))
    (tmp_path / "corrupt.pdf").write_bytes((tmp_path / "plain.pdf").read_bytes()[:60])
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not a zip at all")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    with (tmp_path / "huge.txt").open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk used
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    reasons = {}
    for name in ("locked.pdf", "corrupt.pdf", "broken.docx", "binary.txt", "huge.txt", "image.png"):
        with pytest.raises(ExtractError) as caught:
            extract(tmp_path / name)
        reasons[name] = str(caught.value)
    assert "encrypted" in reasons["locked.pdf"]
    assert "PDF" in reasons["corrupt.pdf"] and "DOCX" in reasons["broken.docx"]
    assert "binary" in reasons["binary.txt"] and "larger than 50 MB" in reasons["huge.txt"]
    assert reasons["image.png"] == "unsupported file type .png"
    os.remove(tmp_path / "huge.txt")


def test_chunks_stay_in_size_overlap_and_point_into_the_text():
    sentence = "Sentence number {} talks about gliders and their wings."
    paragraphs = [" ".join(sentence.format(p * 10 + s) for s in range(10)) for p in range(6)]
    document = Document("T", [Section("\n\n".join(paragraphs[:3]), heading="A"), Section(paragraphs[3], page=2),
                              Section("\n\n".join(paragraphs[4:]), heading="B")])
    chunks = chunk(document, chunk_chars=300, overlap=80)
    text = SEPARATOR.join(section.text for section in document.sections)
    assert all(0 < len(c.text) <= 300 and text[c.start:c.end] == c.text for c in chunks)
    assert {c.heading for c in chunks} == {"A", None, "B"} and {c.page for c in chunks} == {None, 2}
    same_section = [(a, b) for a, b in zip(chunks, chunks[1:], strict=False) if a.heading == b.heading
                    and a.page == b.page]
    assert same_section and all(b.start < a.end for a, b in same_section)  # neighbours overlap
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())  # nothing is lost


def test_an_unbreakable_run_is_cut_hard():
    chunks = chunk(Document("T", [Section("x" * 2500)]), chunk_chars=1000)
    assert [len(c.text) for c in chunks] == [1000, 1000, 500]
