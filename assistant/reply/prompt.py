"""What the LLM reads: the fixed system prompt, the request as heard (n-best), the intent grammar.

The request is written compactly so that a turn's own prompt stays short (every
uncached token costs ~10 ms of prefill for the 1.5B on an AVX2 CPU): when the
recogniser's hypotheses differ in words, the words they share are written once
and each place where they differ becomes ``[a 0.62 | b 0.31]``, the options with
their posteriors; near-zero posteriors are dropped. When they agree, the request
is the plain best text, the same string the history keeps.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from difflib import SequenceMatcher

from ..events import Hypothesis
from ..understand.intents import LABELS, OUT_OF_SCOPE
from ..understand.understander import Understanding

# Fixed across turns and sessions so the backend's prompt cache is reused.
SYSTEM_PROMPT = (
    "You are a friendly voice assistant. The user speaks to you and hears your reply "
    "read aloud. Answer in one or two short, plain spoken sentences. No lists, no "
    "markdown, no code, no emojis. You run offline: you cannot see a clock, browse the "
    "internet, control lights or devices, send messages or emails, make calls, buy or "
    "order things, or change lists, reminders or calendars. Never say you did or will do "
    "such a thing; say briefly that you can't. If you do not know, say so. When the speech "
    "recogniser was unsure, the user's words show its alternatives in brackets with their "
    "probabilities, like [cat 0.7 | hat 0.3]: answer what the user most likely said."
)

#: Hypotheses below this posterior are left out of the prompt (noise, and tokens to prefill).
MIN_POSTERIOR = 0.05
#: At most this many alternatives beside the best.
MAX_ALTERNATIVES = 3

_WORD = re.compile(r"[\w']+")
Opcodes = Sequence[tuple[str, int, int, int, int]]


def _key(word: str) -> str:
    return "".join(_WORD.findall(word.lower()))


def heard(nbest: Sequence[Hypothesis]) -> str:
    """The request as the LLM reads it: the best text, with the alternatives where they differ in words."""
    hyps = sorted((h for h in nbest if h.text.strip()), key=lambda h: -h.posterior)
    if not hyps:
        return ""
    best, alts = hyps[0], [h for h in hyps[1:] if h.posterior >= MIN_POSTERIOR][:MAX_ALTERNATIVES]
    plain = " ".join(best.text.split())
    bw = best.text.split()
    bkeys = [_key(w) for w in bw]
    aligned: list[tuple[Hypothesis, list[str], Opcodes]] = []
    for h in alts:
        aw = h.text.split()
        ops: Opcodes = SequenceMatcher(None, bkeys, [_key(w) for w in aw], autojunk=False).get_opcodes()
        if any(tag != "equal" for tag, *_ in ops):
            aligned.append((h, aw, ops))
    if not aligned:
        return plain
    # Places where some alternative differs, as spans of the best's words: overlapping spans
    # merge; an insertion is a span of no words, unless it falls inside another span.
    spans: list[list[int]] = []
    for a, b in sorted({(i1, i2) for _, _, ops in aligned for tag, i1, i2, _, _ in ops if tag != "equal"}):
        last = spans[-1] if spans else None
        if a == b and last is not None and (last[0] < a < last[1] or last == [a, a]):
            continue
        if a < b and last is not None and last[0] < last[1] and a < last[1]:
            last[1] = max(last[1], b)
        else:
            spans.append([a, b])
    out: list[str] = []
    at = 0
    for a, b in spans:
        out.extend(bw[at:a])
        options: dict[tuple[str, ...], float] = defaultdict(float)
        shown: dict[tuple[str, ...], str] = {}
        own = tuple(bkeys[a:b])
        options[own] += best.posterior
        shown[own] = " ".join(_strip(bw[a:b])) or "-"
        for h, aw, alt_ops in aligned:
            words = _words_in(aw, alt_ops, a, b)
            key = tuple(_key(w) for w in words)
            options[key] += h.posterior
            shown.setdefault(key, " ".join(_strip(words)) or "-")
        for h in alts:  # alternatives identical to the best in words agree with it everywhere
            if all(h is not x for x, _, _ in aligned):
                options[own] += h.posterior
        if len(options) > 1:
            ranked = sorted(options.items(), key=lambda kv: -kv[1])
            out.append("[" + " | ".join(f"{shown[k]} {p:.2f}" for k, p in ranked) + "]")
        else:
            out.extend(bw[a:b])
        at = b
    out.extend(bw[at:])
    return " ".join(out)


def _strip(words: Sequence[str]) -> list[str]:
    # Punctuation inside an option says nothing about which words were said.
    return [w for w in (" ".join(_WORD.findall(x)) for x in words) if w]


def _words_in(aw: list[str], ops: Opcodes, a: int, b: int) -> list[str]:
    """The alternative's words aligned with the best's words ``a:b`` (inserts at the edges included)."""
    words: list[str] = []
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            lo, hi = max(i1, a), min(i2, b)
            if lo < hi:
                words.extend(aw[j1 + lo - i1: j1 + hi - i1])
        elif (i1 < i2 and a <= i1 and i2 <= b) or (i1 == i2 and (a == b == i1 or a < i1 < b)):
            words.extend(aw[j1:j2])
    return words


def unsure_message(u: Understanding, request: str) -> str:
    """Per-turn prompt when the classifier was unsure: the request as heard and the candidate intents."""
    cands = ", ".join(f"{name} {p:.2f}" for name, p in u.candidates[:4])
    return (
        f"{request}\n(Likely intents: {cands}.) "
        "Say which intent the user meant (or out_of_scope), then reply."
    )


def intent_grammar(candidates: list[str]) -> str:
    """GBNF: ``intent: <one of candidates or out_of_scope>`` then ``reply: <one line>``."""
    labels = [c for c in candidates if c in LABELS] + [OUT_OF_SCOPE]
    alts = " | ".join(f'"{c}"' for c in dict.fromkeys(labels))
    return f'root ::= "intent: " label "\\nreply: " [^\\n]+\nlabel ::= {alts}\n'
