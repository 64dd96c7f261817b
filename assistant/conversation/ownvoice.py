"""Is what the microphone heard the person, or not? Rules on the words alone.

Pure functions, so the barge-in policy that uses them can be tested on scripts.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher

from ..listen.asr import word_key


def sounds_alike(heard: str, said: str) -> bool:
    """``heard`` is ``said``, a fragment of it, or one letter off (for words of 3+ letters)."""
    if heard == said:
        return True
    if len(heard) < 3:
        return False
    return heard in said or SequenceMatcher(None, heard, said).ratio() >= 0.75


def is_own_voice(text: str, recent: Sequence[str]) -> bool:
    """All the words heard are words the assistant has just said (``recent``): its echo.

    Residual echo is often misheard: a fragment ("side" from "inside") or a near miss
    ("bye" for "by"). Three words in four that sound like the reply's are its echo; a
    person cutting in says something else ("wait, stop the story" matches two of four).
    """
    words = word_key(text).split()
    if not words or not recent:
        return False
    own = sum(any(sounds_alike(w, r) for r in recent) for w in words)
    return own == len(words) if len(words) < 4 else own >= 0.75 * len(words)


def is_backchannel(text: str, phrases: Sequence[str]) -> bool:
    """No words, a backchannel phrase ("mm-hm", "i see"), or only backchannel words ("mm mm")."""
    key = word_key(text).replace("-", " ")
    tokens = {p for p in phrases if " " not in p}
    return not key or key in phrases or all(w in tokens for w in key.split())
