"""Cutting streamed LLM text into speakable chunks."""

from __future__ import annotations

import pytest

from assistant.speak.chunker import Chunker


def chunks_of(text: str, step: int = 3) -> list[str]:
    c = Chunker()
    out: list[str] = []
    for i in range(0, len(text), step):  # arrive in small, arbitrary pieces like LLM tokens
        out += c.push(text[i : i + step])
    return out + list(c.flush())


def test_first_chunk_is_short_then_sentences() -> None:
    out = chunks_of("Sure, I can help. It costs 3.5 dollars. Dr. Smith agrees! And that is all")
    assert out == ["Sure, I can help.", "It costs 3.5 dollars.", "Dr. Smith agrees!", "And that is all"]


def test_first_chunk_is_cut_early_without_punctuation() -> None:
    out = chunks_of("Paris is the capital city of France and the largest city in the country.")
    assert len(out[0].split()) <= 6 and out[0] == "Paris is the capital"
    assert " ".join(out) == "Paris is the capital city of France and the largest city in the country."


@pytest.mark.parametrize(
    "text, whole",
    [
        ("I set a timer for 7:30 pm and it will ring then.", "7:30 pm"),
        ("The distance is about 42 km from here to there.", "42 km"),
        ("Yes, 1,000.50 is e.g. a number. Done.", "1,000.50"),
        ("In the U.S. the rate is 3.5% today. Fine.", "3.5%"),
        ("Go to example.com/a.b for more. Thanks.", "example.com/a.b"),
        ("Dr. Who and Mr. Smith went out. Then home.", "Dr. Who"),
    ],
)
def test_never_cuts_inside_numbers_times_urls_or_abbreviations(text: str, whole: str) -> None:
    out = chunks_of(text)
    assert any(whole in c for c in out), out
    assert " ".join(out) == text


def test_long_sentences_are_cut_at_a_clause() -> None:
    long = "This is " + "a very long sentence that goes on, " * 8 + "until it finally stops here."
    out = chunks_of("Hi there. " + long)
    assert len(out) > 3 and all(len(c.split()) <= 30 for c in out)
    assert " ".join(out) == "Hi there. " + long
