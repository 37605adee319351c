"""api/localdocs/extract.py on real files the tests write: every format it reads, and bad files of each kind,
which must give ExtractError with a readable reason and never anything else."""

from __future__ import annotations

import os
import random
import zipfile
from pathlib import Path

import docx
import pypdf
import pytest

from api.localdocs.extract import MAX_FILE_BYTES, SUFFIXES, Document, ExtractError, Section, extract


def write_pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    """A real PDF written by hand (pypdf cannot lay out text): one Helvetica line per page; "" is a blank page."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(len(pages)))
               + b"] /Count %d >>" % len(pages),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, text in enumerate(pages):
        stream = b"BT /F1 12 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET" if text else b""
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * i))
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    trailer = b"/Root 1 0 R"
    if title is not None:
        objects.append(b"<< /Title (" + title.encode("latin-1") + b") >>")
        trailer += b" /Info %d 0 R" % len(objects)
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d " % (len(objects) + 1) + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    path.write_bytes(bytes(out))
    return path


def write_docx(path: Path, title: str = "") -> Path:
    document = docx.Document()
    document.core_properties.title = title
    document.add_heading("Holidays", level=1)
    document.add_paragraph("Twenty-five days a year.")
    document.add_paragraph("Ask your manager first.")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([("Grade", "Days"), ("A", "25")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_heading("Travel", level=2)
    document.add_paragraph("Book trains early.")
    document.save(str(path))
    return path


def reason(path: Path) -> str:
    with pytest.raises(ExtractError) as caught:
        extract(path)
    return str(caught.value)


def headed(document: Document) -> list[tuple[str | None, str]]:
    return [(section.heading, section.text) for section in document.sections]


# -- formats ---------------------------------------------------------------------------------------------------------

def test_markdown_atx_and_setext_headings_not_in_code(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text("Before any heading.\n\n# Guide #\n\nIntro text.\n\n## Install\n\n```sh\n# not a heading\n"
                    "Not one\n---\n```\nRun it.\n\nUsage\n-----\n\nUse it.\n\n#hashtag is text\n\nA long\n"
                    "paragraph\n---\n\n###### Deep\n\nLast.\n")
    document = extract(path)
    assert document.title == "Guide"
    assert headed(document) == [
        (None, "Before any heading."), ("Guide", "Intro text."),
        ("Install", "```sh\n# not a heading\nNot one\n---\n```\nRun it."),
        ("Usage", "Use it.\n\n#hashtag is text\n\nA long\nparagraph\n---"), ("Deep", "Last.")]


def test_markdown_front_matter_titles_and_is_left_out(tmp_path):
    path = tmp_path / "post.md"
    path.write_text("---\ntitle: 'Release notes'\ndate: 2026-01-01\n---\nSome text.\n\n## Fixes\n\nMany.\n")
    document = extract(path)
    assert document.title == "Release notes"
    assert headed(document) == [(None, "Some text."), ("Fixes", "Many.")]


def test_rst_underlined_and_overlined_titles(tmp_path):
    path = tmp_path / "manual.rst"
    path.write_text("=======\nManual\n=======\n\nFirst.\n\nPart two\n--------\n\nSecond.\n\n  indented\n  ---\n\n"
                    "Part three\n~~~~~~~~~~\n\nThird.\n")
    document = extract(path)
    assert document.title == "Manual"
    assert headed(document) == [("Manual", "First."), ("Part two", "Second.\n\n  indented\n  ---"),
                                ("Part three", "Third.")]


def test_html_headings_title_and_no_scripts(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<!doctype html><html><head><title> The  Page </title><style>p { color: red }</style>"
                    "<script>var hidden = 1;</script></head><body><nav>Lead</nav><h1>Main <em>part</em></h1>"
                    "<p>Body &amp; more</p><p>Second<br>line</p><table><tr><td>a</td><td>b</td></tr></table>"
                    "<h2>Other</h2><div>Tail text</div><noscript>enable js</noscript></body></html>")
    document = extract(path)
    assert document.title == "The Page"
    assert headed(document) == [(None, "Lead"), ("Main part", "Body & more\n\nSecond\nline\n\na b"),
                                ("Other", "Tail text")]
    bare = tmp_path / "bare.HTM"
    bare.write_text("<h3>Only heading</h3><p>x</p>")
    assert extract(bare).title == "Only heading"


def test_plain_text_encodings_and_title_from_the_name(tmp_path):
    (tmp_path / "bom.txt").write_bytes("\ufeffcafé\r\nnext".encode())
    assert extract(tmp_path / "bom.txt") == Document("bom", [Section("café\nnext")])
    (tmp_path / "wide.txt").write_bytes("\ufeffUTF-16 text é".encode("utf-16-le"))
    assert extract(tmp_path / "wide.txt").sections == [Section("UTF-16 text é")]
    (tmp_path / "old.txt").write_bytes("naïve – 5 €".encode("cp1252"))
    assert extract(tmp_path / "old.txt").sections == [Section("naïve – 5 €")]
    (tmp_path / "empty.txt").write_text("  \n\n")
    assert extract(tmp_path / "empty.txt") == Document("empty", [])


@pytest.mark.parametrize("name", ["tool.py", "main.go", "lib.rs", "App.java", "x.c", "x.h", "run.sh", "conf.toml",
                                  "c.yaml", "c.yml", "d.json", "t.csv", "s.ini", "s.cfg", "q.sql", "UPPER.PY", "a.ts"])
def test_source_code_and_data_files_are_text(tmp_path, name):
    body = "# comment\ndef f():\n    return 1\n"
    (tmp_path / name).write_text(body)
    document = extract(tmp_path / name)
    assert document.title == Path(name).stem and document.sections == [Section(body.strip())]
    assert Path(name).suffix.lower() in SUFFIXES


def test_docx_headings_paragraphs_tables_and_title(tmp_path):
    found = extract(write_docx(tmp_path / "handbook.docx", title="Staff handbook"))
    assert found.title == "Staff handbook"
    assert headed(found) == [("Holidays", "Twenty-five days a year.\n\nAsk your manager first.\n\nGrade | Days\n\n"
                                          "A | 25"), ("Travel", "Book trains early.")]
    assert extract(write_docx(tmp_path / "untitled.docx")).title == "Holidays"  # no metadata: the first heading


def test_pdf_text_by_page_and_title(tmp_path):
    found = extract(write_pdf(tmp_path / "report.pdf", ["Hello page one", "", "Third page here"], title="Report"))
    assert found.title == "Report"
    assert [(s.page, s.heading, s.text) for s in found.sections] == [(1, None, "Hello page one"),
                                                                     (3, None, "Third page here")]
    assert extract(write_pdf(tmp_path / "no-info.pdf", ["x"])).title == "no-info"


def test_pdf_with_only_an_owner_password_is_read(tmp_path):
    writer = pypdf.PdfWriter(clone_from=str(write_pdf(tmp_path / "plain.pdf", ["Open to all"])))
    writer.encrypt("", owner_password="owner")
    writer.write(str(tmp_path / "restricted.pdf"))
    assert extract(tmp_path / "restricted.pdf").sections == [Section("Open to all", page=1)]


# -- bad files -------------------------------------------------------------------------------------------------------

def test_encrypted_pdf(tmp_path):
    writer = pypdf.PdfWriter(clone_from=str(write_pdf(tmp_path / "plain.pdf", ["Secret"])))
    writer.encrypt("a password")
    writer.write(str(tmp_path / "locked.pdf"))
    assert reason(tmp_path / "locked.pdf").startswith("encrypted PDF")


def test_corrupt_and_empty_pdfs_say_so(tmp_path):
    data = write_pdf(tmp_path / "plain.pdf", ["Some text"]).read_bytes()
    (tmp_path / "truncated.pdf").write_bytes(data[:60])
    (tmp_path / "empty.pdf").write_bytes(b"")
    (tmp_path / "html.pdf").write_bytes(b"<html>not a pdf</html>")
    for name in ("truncated.pdf", "empty.pdf", "html.pdf"):
        assert reason(tmp_path / name).startswith(("corrupt PDF: ", "cannot be read as PDF: ")), name
    assert "text layer" in reason(write_pdf(tmp_path / "scan.pdf", ["", ""]))


def test_damaged_pdfs_and_docx_never_raise_anything_else(tmp_path):
    """Bytes flipped and files cut at random: each either reads or gives ExtractError."""
    rng = random.Random(22)
    originals = {".pdf": write_pdf(tmp_path / "a.pdf", ["One", "Two"], title="T").read_bytes(),
                 ".docx": write_docx(tmp_path / "a.docx").read_bytes()}
    for suffix, data in originals.items():
        for trial in range(60):
            damaged = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            path = tmp_path / f"damaged{trial}{suffix}"
            path.write_bytes(bytes(damaged[:rng.randint(1, len(damaged))] if trial % 3 == 0 else damaged))
            try:
                extract(path)
            except ExtractError as exc:
                assert str(exc)


def test_broken_docx(tmp_path):
    (tmp_path / "junk.docx").write_bytes(b"PK\x03\x04 not a zip at all")
    with zipfile.ZipFile(tmp_path / "other.docx", "w") as archive:
        archive.writestr("hello.txt", "a zip, but not a Word document")
    assert reason(tmp_path / "junk.docx").startswith("corrupt DOCX")
    assert "DOCX" in reason(tmp_path / "other.docx")


def test_binary_content_is_not_text(tmp_path):
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "late.md").write_bytes(b"# Title\n" + b"a" * 20000 + b"\x00")
    (tmp_path / "noise.py").write_bytes(bytes(range(1, 32)) * 20 + b"\xff\xfe\xfd" * 10)
    for name in ("binary.txt", "late.md", "noise.py"):
        assert reason(tmp_path / name).startswith("binary content"), name


def test_huge_file_refused_before_it_is_read(tmp_path, monkeypatch):
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk used
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read"))
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: pytest.fail("opened"))
    assert reason(huge).startswith("larger than 50 MB")
    assert MAX_FILE_BYTES == 50 * 1024 * 1024


def test_unsupported_missing_and_special_files(tmp_path):
    (tmp_path / "image.PNG").write_bytes(b"\x89PNG")
    (tmp_path / "Makefile").write_text("all:\n")
    (tmp_path / "folder.md").mkdir()
    os.mkfifo(tmp_path / "pipe.txt")  # reading it would block forever
    assert reason(tmp_path / "image.PNG") == "unsupported file type .png"
    assert reason(tmp_path / "Makefile") == "unsupported file type (no suffix)"
    assert reason(tmp_path / "gone.txt").startswith("cannot read: ")
    assert reason(tmp_path / "folder.md") == "not a regular file"
    assert reason(tmp_path / "pipe.txt") == "not a regular file"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "private.txt"
    path.write_text("secret")
    path.chmod(0)
    assert reason(path) == "cannot read: Permission denied"
