"""Cutting a stream of LLM text into speakable chunks.

The first chunk is cut early (at a clause boundary once a few words are in) so
speech can start while the LLM is still writing; later chunks are sentences.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# A sentence ends at . ! ? followed by whitespace ("3.5" never matches), but not
# after a single letter or a common abbreviation ("e.g.", "Dr.").
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*\s")
_CLAUSE_END = re.compile(r"[,;:]\s")
_ABBREVIATIONS = {"dr", "mr", "ms", "mrs", "st", "vs", "etc", "e.g", "i.e", "no", "approx"}


def _is_sentence_end(text: str, m: re.Match[str]) -> bool:
    if text[m.start()] != ".":
        return True
    word = text[: m.start()].split()[-1:] or [""]
    w = word[0].lower().lstrip("(\"'")
    return not (len(w) == 1 and w.isalpha()) and w not in _ABBREVIATIONS


class Chunker:
    """Feed text pieces with :meth:`push`; take finished chunks as they complete."""

    def __init__(self, first_clause_words: int = 4) -> None:
        self.first_clause_words = first_clause_words
        self._buf = ""
        self._emitted = 0

    def push(self, text: str) -> Iterator[str]:
        """Add text; yield every chunk that is now complete."""
        self._buf += text
        while True:
            cut = self._find_cut()
            if cut is None:
                return
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
        for m in _SENTENCE_END.finditer(self._buf):
            if _is_sentence_end(self._buf, m):
                return m.end()
        if self._emitted == 0:
            for c in _CLAUSE_END.finditer(self._buf):
                if len(self._buf[: c.start()].split()) >= self.first_clause_words:
                    return c.end()
        return None
