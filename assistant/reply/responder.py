"""Writing the reply: a skill's answer, or a streamed LLM answer from a fixed system prompt.

When the classifier was unsure, the LLM decides the intent in the same
generation: a GBNF grammar makes it write ``intent: <label>`` (one of the
classifier's candidates or ``out_of_scope``) on the first line and the spoken
reply after it, so one prefill serves both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass

from ..threads import NEVER, AnyOf, Cancelled, ReadOnly
from ..understand.intents import LABELS, OUT_OF_SCOPE
from ..understand.understander import Understanding
from .history import History
from .llm import LLMBackend, Message

# Fixed across turns and sessions so the backend's prompt cache is reused.
SYSTEM_PROMPT = (
    "You are a friendly voice assistant. The user speaks to you and hears your reply "
    "read aloud. Answer in one or two short, plain spoken sentences. No lists, no "
    "markdown, no code, no emojis. You cannot see a clock, browse the internet or "
    "control devices, so never pretend to; say so briefly. If you do not know, say so."
)


@dataclass(frozen=True)
class IntentChoice:
    """The LLM's decision on the intent (first line of an unsure-turn generation)."""

    intent: str


def unsure_message(u: Understanding, max_hypotheses: int = 3) -> str:
    """Compact per-turn prompt: the n-best texts and the candidate intents (few tokens to prefill)."""
    hyps = [h for h in u.nbest if h.posterior >= 0.05][:max_hypotheses] or list(u.nbest[:1])
    heard = " | ".join(f'"{h.text}" {h.posterior:.2f}' for h in hyps)
    cands = ", ".join(f"{name} {p:.2f}" for name, p in u.candidates[:4])
    return (
        f"(The speech recogniser is unsure.) Heard: {heard}\nLikely intents: {cands}\n"
        "Say which intent the user meant (or out_of_scope), then reply."
    )


def intent_grammar(candidates: list[str]) -> str:
    """GBNF: ``intent: <one of candidates or out_of_scope>`` then ``reply: <one line>``."""
    labels = [c for c in candidates if c in LABELS] + [OUT_OF_SCOPE]
    alts = " | ".join(f'"{c}"' for c in dict.fromkeys(labels))
    return f'root ::= "intent: " label "\\nreply: " [^\\n]+\nlabel ::= {alts}\n'


class Responder:
    """Turns an understanding into a streamed reply (text pieces, maybe an :class:`IntentChoice` first)."""

    def __init__(self, llm: LLMBackend) -> None:
        self.llm = llm

    def warm_up(self) -> None:
        """Prefill the fixed system prompt now, so the first turn reuses its cache (~1.5 s saved)."""
        for _ in self.llm.stream(self.prompt("Hello.", History()), NEVER, max_tokens=1):
            pass

    def prompt(self, user_text: str, history: History) -> list[Message]:
        """The messages sent to the LLM for this turn."""
        return [Message("system", SYSTEM_PROMPT), *history.messages, Message("user", user_text)]

    def stream(
        self,
        request: Understanding | str,
        history: History,
        cancel: Cancelled,
        run_skill: Callable[[str], str | None] | None = None,
    ) -> Iterator[str | IntentChoice]:
        """Yield the reply: a skill's text at once, or the LLM's as it writes.

        When the LLM decides the intent and ``run_skill`` has a skill for it, the
        skill answers instead of the LLM's own reply: the LLM is stopped with the
        responder's own signal (``cancel`` is the caller's, and only read here).
        """
        if isinstance(request, str):
            yield from self.llm.stream(self.prompt(request, history), cancel)
            return
        if request.skill_reply is not None:
            yield request.skill_reply
            return
        if not request.llm_decides:
            yield from self.llm.stream(self.prompt(request.text, history), cancel)
            return
        skill_answered = threading.Event()
        with closing(self._decide_and_reply(request, history, AnyOf(cancel, ReadOnly(skill_answered)))) as pieces:
            for item in pieces:
                yield item
                if isinstance(item, IntentChoice) and run_skill is not None:
                    reply = run_skill(item.intent)
                    if reply is not None:
                        skill_answered.set()
                        yield reply
                        return

    def decide_intent(self, request: Understanding, history: History | None = None) -> str:
        """Only the LLM's intent choice (benchmarks; stops right after the label)."""
        with closing(self._decide_and_reply(request, history or History(), NEVER, max_tokens=12)) as pieces:
            for item in pieces:
                if isinstance(item, IntentChoice):
                    return item.intent
        return request.intent

    def _decide_and_reply(
        self, request: Understanding, history: History, cancel: Cancelled, max_tokens: int | None = None
    ) -> Generator[str | IntentChoice, None, None]:
        grammar = intent_grammar([c for c, _ in request.candidates])
        messages = self.prompt(unsure_message(request), history)
        head, decided = "", False
        for piece in self.llm.stream(messages, cancel, grammar=grammar, max_tokens=max_tokens):
            if decided:
                yield piece
                continue
            head += piece
            if "\nreply:" in head or (max_tokens and "\n" in head):
                first, _, rest = head.partition("\n")
                label = first.removeprefix("intent:").strip()
                # A backend without grammar support may write anything: keep the classifier's guess then.
                yield IntentChoice(label if label in LABELS else request.intent)
                decided = True
                rest = rest.removeprefix("reply:").lstrip()
                if rest:
                    yield rest
        if not decided and head:  # no structure at all: speak what came
            yield IntentChoice(request.intent)
            yield head
