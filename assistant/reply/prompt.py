"""What the LLM reads: the fixed system prompt, the request as heard (n-best), the intent grammar.

The request is the best hypothesis (after the LM re-ranking of
``understand/rescoring.py``); where other hypotheses differ from it in words (more
than an article: "a spider" / "the spider" is one question), the most likely of
them follow on a line of their own, best first, near-zero posteriors dropped:
``(or maybe: "..."; "...")``. When they agree it is the plain best text, the same
string the history keeps, so the prompt prefix prefilled while the person spoke
still matches.

Why this form, measured with the 1.5B on 84 espeak-ng questions (clean and 10 dB SNR),
answers right: 1-best 49; the alternatives as full sentences 52; the shared words
written once with the differing spans as ``[a 0.62 | b 0.31]`` 29-33 (the model talks
about the brackets and the numbers: "The 0.88 probability suggests ..."); only the
differing spans listed 39. Posteriors beside the full sentences did not help either
(47 against 47), and a system prompt that explains recognition errors made it refuse
("I can't answer that"): 46-47.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..events import Hypothesis
from ..listen.asr import gist
from ..understand.intents import LABELS, OUT_OF_SCOPE
from ..understand.understander import LLM_CANDIDATES, Understanding

# Fixed across turns and sessions so the backend's prompt cache is reused.
SYSTEM_PROMPT = (
    "You are a friendly voice assistant. The user speaks to you and hears your reply "
    "read aloud. Answer in one or two short, plain spoken sentences. No lists, no "
    "markdown, no code, no emojis. You cannot see a clock, browse the internet, control "
    "devices, send messages, make calls or buy things, so never pretend to; say so briefly. "
    "If you do not know, say so."
)

#: Hypotheses below this posterior are left out of the prompt (noise, and tokens to prefill).
MIN_POSTERIOR = 0.05
#: At most this many alternatives beside the best.
MAX_ALTERNATIVES = 3


def readings(nbest: Sequence[Hypothesis]) -> list[str]:
    """What the LLM reads of the n-best: the best text first, then the alternatives that differ
    from every kept reading in more than an article (their :func:`gist`: each alternative is
    ~10 tokens the turn evaluates before its first word), best first, near-zero posteriors dropped."""
    hyps = sorted((h for h in nbest if h.text.strip()), key=lambda h: -h.posterior)
    if not hyps:
        return []
    kept = [" ".join(hyps[0].text.split())]
    seen = {gist(kept[0])}
    for h in hyps[1:]:
        key = gist(h.text)
        if h.posterior >= MIN_POSTERIOR and key not in seen and len(kept) <= MAX_ALTERNATIVES:
            seen.add(key)
            kept.append(" ".join(h.text.split()))
    return kept


def heard(nbest: Sequence[Hypothesis]) -> str:
    """The request as the LLM reads it: the best text, and the alternatives that differ in words."""
    best, *alts = readings(nbest) or [""]
    if not alts:
        return best
    return best + "\n(or maybe: " + "; ".join(f'"{a}"' for a in alts) + ")"


def unsure_message(u: Understanding, request: str) -> str:
    """Per-turn prompt when the classifier was unsure: the request as heard and the candidate intents.

    Only their names: the grammar already makes the LLM name one and then reply. Measured with
    the 1.5B on the unsure rows of two sets (classifier confidence < 0.5, a skill among the
    candidates; 41 SLURP devel, 42 MASSIVE dev rows), the LLM chose right 22 and 23 times
    against 20 and 22 with the posteriors and a sentence of instruction, and the message is
    35 tokens shorter (21 against 56 after the request): those tokens are evaluated before the
    turn's first token, 1.4-1.8 s for that turn in bench latency against ~0.4 s for others.
    """
    cands = ", ".join(name for name, _ in u.candidates[:LLM_CANDIDATES])
    return f"{request}\n(Likely intents: {cands}.)"


def intent_grammar(candidates: list[str]) -> str:
    """GBNF: ``intent: <one of candidates or out_of_scope>`` then ``reply: <one line>``."""
    labels = [c for c in candidates if c in LABELS] + [OUT_OF_SCOPE]
    alts = " | ".join(f'"{c}"' for c in dict.fromkeys(labels))
    return f'root ::= "intent: " label "\\nreply: " [^\\n]+\nlabel ::= {alts}\n'
