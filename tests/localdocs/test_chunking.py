"""api/localdocs/chunking.py: chunks within size, on headings, paragraphs and sentences, overlapping by about
`overlap` characters of whole sentences, with offsets into the document's text."""

from __future__ import annotations

import itertools
import random

import pytest

from api.localdocs.chunking import SEPARATOR, Chunk, chunk
from api.localdocs.extract import Document, Section, extract

SENTENCE = "Sentence {} says something about gliders and wings."  # 52-54 characters


def paragraph(first: int, sentences: int = 10) -> str:
    return " ".join(SENTENCE.format(first + s) for s in range(sentences))


def joined(document: Document) -> str:
    return SEPARATOR.join(section.text for section in document.sections)


def check(document: Document, chunks: list[Chunk], chunk_chars: int) -> None:
    """Every chunk within size, not empty, exactly the document's text at its offsets; no text left out."""
    text = joined(document)
    for piece in chunks:
        assert 0 < len(piece.text) <= chunk_chars and piece.text == piece.text.strip()
        assert text[piece.start:piece.end] == piece.text
        assert piece.title == document.title
    covered = {i for piece in chunks for i in range(piece.start, piece.end)}
    assert all(i in covered for i, character in enumerate(text) if not character.isspace())
    assert all(b.start > a.start and b.end > a.end for a, b in itertools.pairwise(chunks))


def test_sections_keep_their_heading_and_page_and_the_heading_is_not_in_the_text():
    document = Document("Manual", [Section("Short intro.", heading="Intro"), Section(paragraph(0), page=2),
                                   Section(paragraph(100), heading="Wings")])
    chunks = chunk(document, chunk_chars=300, overlap=60)
    check(document, chunks, 300)
    assert chunks[0] == Chunk("Short intro.", "Manual", "Intro", None, 0, 12)
    assert {(c.heading, c.page) for c in chunks} == {("Intro", None), (None, 2), ("Wings", None)}
    assert not any("Wings" in c.text or "Intro" in c.text for c in chunks)
    # a chunk never spans two sections
    assert all(len({(c.heading, c.page)}) == 1 for c in chunks)


def test_small_sections_are_one_chunk_each():
    document = Document("T", [Section("One.", heading="A"), Section("Two.", heading="B")])
    assert [(c.text, c.start, c.end) for c in chunk(document)] == [("One.", 0, 4), ("Two.", 6, 10)]


def test_neighbours_overlap_by_whole_sentences_of_about_overlap_characters():
    document = Document("T", [Section(paragraph(0, 40))])
    text = joined(document)
    chunks = chunk(document, chunk_chars=400, overlap=120)
    check(document, chunks, 400)
    assert len(chunks) > 5
    sentence_starts = {i for i in range(len(text)) if text.startswith("Sentence", i)}
    for a, b in itertools.pairwise(chunks):
        shared = a.end - b.start
        assert 50 <= shared <= 120  # two whole sentences fit in 120, one at least
        assert b.start in sentence_starts and a.end == text.index(".", a.end - 1) + 1


def test_chunks_end_at_a_paragraph_when_one_ends_in_their_second_half():
    paragraphs = [paragraph(0, 5), paragraph(10, 5), paragraph(20, 5)]  # about 270 characters each
    document = Document("T", [Section("\n\n".join(paragraphs))])
    chunks = chunk(document, chunk_chars=400, overlap=0)
    check(document, chunks, 400)
    assert [c.text for c in chunks] == paragraphs  # not 400 characters cut mid-paragraph


def test_no_overlap_when_asked_for_none():
    document = Document("T", [Section(paragraph(0, 30))])
    chunks = chunk(document, chunk_chars=300, overlap=0)
    check(document, chunks, 300)
    assert all(b.start >= a.end for a, b in itertools.pairwise(chunks))


def test_a_long_sentence_is_cut_at_spaces_and_overlaps_from_a_word_boundary():
    words = " ".join(f"word{i}" for i in range(400))  # no sentence ends at all
    document = Document("T", [Section(words)])
    chunks = chunk(document, chunk_chars=200, overlap=50)
    check(document, chunks, 200)
    for a, b in itertools.pairwise(chunks):
        assert 0 < a.end - b.start <= 50
        assert words[b.start - 1] == " " and b.text.startswith("word")
        assert a.text.split()[-1] == words[:a.end].split()[-1]  # whole words


def test_long_lines_without_sentences_are_cut_at_lines():
    code = "\n".join(f"value_{i} = compute({i}, {i + 1})" for i in range(100))
    document = Document("T", [Section(code)])
    chunks = chunk(document, chunk_chars=250, overlap=0)
    check(document, chunks, 250)
    assert all(c.text.startswith("value_") and c.text.endswith(")") for c in chunks)


def test_an_unbreakable_run_is_cut_hard():
    chunks = chunk(Document("T", [Section("x" * 2500)]), chunk_chars=1000)
    assert [(len(c.text), c.start) for c in chunks] == [(1000, 0), (1000, 1000), (500, 2000)]


def test_sentences_without_spaces_after_full_stops():
    text = "これは文です。" * 40
    document = Document("T", [Section(text)])
    chunks = chunk(document, chunk_chars=50, overlap=10)
    check(document, chunks, 50)
    assert all(c.text.endswith("。") for c in chunks)


def test_empty_documents_and_bad_sizes():
    assert chunk(Document("T", [])) == []
    assert chunk(Document("T", [Section("   \n\n  ")])) == []
    with pytest.raises(ValueError):
        chunk(Document("T", [Section("x")]), chunk_chars=0)


def test_offsets_point_into_an_extracted_file(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("# Notes\n\n" + "\n\n".join(paragraph(i * 10, 6) for i in range(8))
                    + "\n\n## Later\n\n" + paragraph(500, 3) + "\n")
    document = extract(path)
    chunks = chunk(document, chunk_chars=500, overlap=100)
    check(document, chunks, 500)
    assert chunks[-1].heading == "Later" and chunks[0].heading == "Notes" and chunks[0].title == "Notes"


def test_random_documents_keep_every_rule():
    rng = random.Random(7)
    vocabulary = ["alpha", "beta.", "gamma!", "delta?", "x" * 40, "y" * 300, "\n", "\n\n", "。", "end.)", "é"]
    for _ in range(150):
        sections = [Section(" ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 120))).strip() or "z",
                            page=rng.choice([None, 3])) for _ in range(rng.randint(1, 3))]
        document = Document("R", sections)
        limit = rng.choice([20, 80, 200, 1000])
        check(document, chunk(document, chunk_chars=limit, overlap=rng.choice([0, 10, 60, 500])), limit)
