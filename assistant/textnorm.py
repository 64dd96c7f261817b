"""Text normalisation for scoring transcripts (word error rate).

Lower-case, numbers spelled as words, punctuation dropped, so "Set 5 timers." and
"set five timers" compare equal.
"""

from __future__ import annotations

import re

from num2words import num2words

from .speak.normalize import normalize

_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_NON_WORD = re.compile(r"[^a-z0-9' ]+")


def _number(m: re.Match[str]) -> str:
    token = m.group(0)
    return f" {num2words(float(token) if '.' in token else int(token))} "


def normalise_for_wer(text: str) -> str:
    """Lower-case words with numbers spelled out and no punctuation.

    Times, money, percentages and units are first read as a person would say
    them (the speech normaliser), so "7:30 pm" and "seven thirty p.m." agree.
    """
    t = normalize(text).lower().replace("%", " percent ")
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)  # 1,000 -> 1000
    t = _ORDINAL.sub(lambda m: f" {num2words(int(m.group(1)), to='ordinal')} ", t)
    t = _NUMBER.sub(_number, t)
    t = t.replace("-", " ")
    t = _NON_WORD.sub(" ", t).replace("'", "")
    t = re.sub(r"\b([ap]) m\b", r"\1m", t)
    return " ".join(t.split())


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER over normalised texts (total edits / total reference words)."""
    import jiwer

    refs = [normalise_for_wer(r) for r in references]
    hyps = [normalise_for_wer(h) for h in hypotheses]
    pairs = [(r, h) for r, h in zip(refs, hyps) if r]
    if not pairs:
        return 0.0
    return float(jiwer.wer([r for r, _ in pairs], [h for _, h in pairs]))
