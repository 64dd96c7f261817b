"""Cutting a stream of LLM text into speakable chunks.

The first chunk is cut early so speech starts while the LLM is still writing: at
the first clause or sentence boundary once it holds ``first_min_words``, or
else after ``first_max_words`` words even without punctuation. Later chunks
are sentences (a very long sentence is cut at a clause boundary).

A cut never falls inside a number ("3.5", "1,000"), a time ("7:30"), a URL or
an abbreviation ("Dr.", "e.g.", "U.S."): boundaries need whitespace after the
punctuation, and a forced cut never follows a number or an abbreviation (so
"7:30 | pm" and "5 | km" stay together).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*\s")
_CLAUSE_END = re.compile(r"[,;:—–]\s|\s[-–—]\s")
_ABBREVIATIONS = {"dr", "mr", "ms", "mrs", "st", "vs", "etc", "no", "approx", "prof", "jr", "sr", "ave", "fig"}
# Words after which a forced cut sounds broken ("set a | timer").
_FUNCTION_WORDS = {
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "and", "or", "but", "with", "by", "from",
    "is", "are", "was", "your", "my", "its", "their", "our", "this", "that", "about", "as", "than",
}


def _last_word(text: str) -> str:
    words = text.split()
    return words[-1].lower().strip("\"'()[]") if words else ""


def _is_abbreviation(word: str) -> bool:
    w = word.rstrip(".")
    return (len(w) == 1 and w.isalpha()) or w in _ABBREVIATIONS or "." in w  # "e.g", "u.s", "a.m"


def _is_sentence_end(text: str, m: re.Match[str]) -> bool:
    if text[m.start()] != ".":
        return True
    return not _is_abbreviation(_last_word(text[: m.start()] + "."))


class Chunker:
    """Feed text pieces with :meth:`push`; take finished chunks as they complete."""

    def __init__(self, first_min_words: int = 2, first_max_words: int = 4, max_words: int = 30) -> None:
        self.first_min_words = first_min_words
        self.first_max_words = first_max_words
        self.max_words = max_words
        self._buf = ""
        self._emitted = 0

    def push(self, text: str) -> Iterator[str]:
        """Add text; yield every chunk that is now complete."""
        self._buf += text
        while (cut := self._find_cut()) is not None:
            chunk, self._buf = self._buf[:cut].strip(), self._buf[cut:]
            if chunk:
                self._emitted += 1
                yield chunk

    def flush(self) -> Iterator[str]:
        """End of text: yield whatever is left."""
        rest, self._buf = self._buf.strip(), ""
        if rest:
            self._emitted += 1
            yield rest

    def _find_cut(self) -> int | None:
        buf = self._buf
        first = self._emitted == 0
        min_words = self.first_min_words if first else 1
        sentence = next(
            (m.end() for m in _SENTENCE_END.finditer(buf)
             if _is_sentence_end(buf, m) and len(buf[: m.start()].split()) >= min_words),
            None,
        )
        if not first:
            if sentence is None and len(buf.split()) > self.max_words:
                return self._clause_cut(buf, self.max_words // 2)
            return sentence
        # First chunk: whichever boundary comes first, so speech starts early.
        candidates = [sentence, self._clause_cut(buf, min_words), self._forced_cut(buf, self.first_max_words)]
        return min((c for c in candidates if c is not None), default=None)

    @staticmethod
    def _clause_cut(buf: str, min_words: int) -> int | None:
        for m in _CLAUSE_END.finditer(buf):
            if len(buf[: m.start()].split()) >= min_words:
                return m.end()
        return None

    @staticmethod
    def _forced_cut(buf: str, limit: int) -> int | None:
        """After ``limit`` complete words (whitespace follows them), at a word that ends a phrase well."""
        spans = [m.span() for m in re.finditer(r"\S+", buf)]
        complete = [s for s in spans if s[1] < len(buf)]  # a word is complete once whitespace follows
        for i in range(limit - 1, len(complete)):
            word = buf[complete[i][0] : complete[i][1]]
            w = word.lower().strip("\"'()[]")
            if any(ch.isdigit() for ch in w) or _is_abbreviation(w) or w in _FUNCTION_WORDS:
                continue
            return complete[i][1] + 1
        return None
