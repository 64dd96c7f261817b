"""Cutting streamed LLM text into speakable chunks."""

from __future__ import annotations

from assistant.chunker import Chunker


def chunks_of(text: str, step: int = 3) -> list[str]:
    c = Chunker()
    out: list[str] = []
    for i in range(0, len(text), step):  # arrive in small, arbitrary pieces like LLM tokens
        out += c.push(text[i : i + step])
    return out + list(c.flush())


def test_first_chunk_is_a_clause_then_sentences() -> None:
    out = chunks_of("Sure, here is what I found: it costs 3.5 dollars. Dr. Smith agrees! And that is all")
    assert out == ["Sure, here is what I found:", "it costs 3.5 dollars.", "Dr. Smith agrees!", "And that is all"]


def test_short_clause_is_not_cut_and_numbers_stay_whole() -> None:
    out = chunks_of("Yes, 1,000.50 is e.g. a number. Done.")
    assert out == ["Yes, 1,000.50 is e.g. a number.", "Done."]
