"""The transcript fallback (a base model without a chat template) ends the answer where the model writes another
speaker's line: `speaker_at` and the held-back text of a stream, on texts."""

from __future__ import annotations

import pytest

from api.local.generation import TRANSCRIPT_STOPS, _held_back, _speaker_held, speaker_at


@pytest.mark.parametrize("text, cut", [
    ("Paris is the capital.\nStudent: and Lyon?", "Paris is the capital."),
    ("Paris.\n\nSystem: The user is happy.", "Paris.\n"),
    ("It rains.\nTeacher A: Good. Next question", "It rains."),
    ("Sure.\nDr Watson:\nIndeed.", "Sure."),
    ("Sure.\nMary:", "Sure."),  # at the end of the text (the model ended there)
    ("Three steps:\nStudent's Mother: what?", "Three steps:"),
])
def test_a_speaker_line_ends_the_answer(text, cut):
    at = speaker_at(text)
    assert at is not None and text[:at] == cut


@pytest.mark.parametrize("text", [
    "Note: water boils at 100 degrees.",
    "Rain forms in clouds.\nNote: this is simplified.",
    "Do this:\nStep 1: boil water.\nStep Two: add tea.",
    "Ingredients:\n- flour\n\nInstructions: mix.",
    "The time is 10:30.\nAt 11:00 we leave.",
    "Here is the list:\nThe first item: an apple.",  # a sentence, not a name
    "Ratio\nA Very Long Speaker Name Here: no",
    "Answer: 4\nExplanation: 2 + 2 = 4.",
    "Use it like this:\n    Foo: bar",  # indented
    "Q:\nHello: world",
])
def test_ordinary_lines_with_a_colon_are_not_speakers(text):
    assert speaker_at(text) is None


def test_an_echoed_tool_response_line_ends_the_answer():
    assert "\n<tool_response>" in TRANSCRIPT_STOPS


@pytest.mark.parametrize("text, held", [
    ("Paris.\n", "\n"),
    ("Paris.\nStu", "\nStu"),
    ("Paris.\nTeacher ", "\nTeacher "),
    ("Paris.\nTeacher A", "\nTeacher A"),
    ("Paris.\nNote:", "\nNote:"),  # released with the next character
    ("Paris.\nThe cat", ""),
    ("Paris.\nthe", ""),
    ("Paris.\n- item", ""),
    ("Paris. Student", ""),
])
def test_what_may_start_a_speaker_line_is_held_back(text, held):
    size = _speaker_held(text)
    assert (text[len(text) - size:] if size else "") == held


def test_held_back_text_of_fixed_stops_is_unchanged():
    assert _held_back("Paris.\n<tool_", TRANSCRIPT_STOPS) == len("\n<tool_")
