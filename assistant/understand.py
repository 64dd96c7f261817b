"""Understanding what was meant from the recogniser's n-best list.

For now this picks the most probable hypothesis and tidies it for the reply
stage; intent classification over the whole n-best list comes next.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import Hypothesis


@dataclass(frozen=True)
class Understanding:
    """What the reply stage works from."""

    text: str
    nbest: tuple[Hypothesis, ...]
    intent: str | None = None
    confidence: float | None = None


def understand(nbest: tuple[Hypothesis, ...]) -> Understanding:
    """Choose the request text from an n-best list (highest posterior wins)."""
    if not nbest:
        return Understanding(text="", nbest=nbest)
    best = max(nbest, key=lambda h: h.posterior)
    return Understanding(text=" ".join(best.text.split()), nbest=nbest)
