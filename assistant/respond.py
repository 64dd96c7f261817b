"""Writing the reply: a skill's answer, or a streamed LLM answer from a fixed system prompt.

When the classifier was unsure, the LLM decides the intent in the same
generation: a GBNF grammar makes it write ``intent: <label>`` (one of the
classifier's candidates or ``out_of_scope``) on the first line and the spoken
reply after it, so one prefill serves both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .intents import LABELS, OUT_OF_SCOPE
from .llm import LLMBackend, Message
from .understand import Understanding

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


@dataclass
class Exchange:
    """One user request and the assistant's reply, which may grow or be cut after the fact."""

    user: str
    assistant: str = ""


@dataclass
class History:
    """Conversation memory, bounded to the last ``max_turns`` exchanges."""

    max_turns: int = 4
    exchanges: list[Exchange] = field(default_factory=list)

    def add(self, user: str, assistant: str = "") -> Exchange:
        """Append an exchange (dropping the oldest beyond ``max_turns``) and return it for later edits."""
        ex = Exchange(user, assistant)
        self.exchanges.append(ex)
        del self.exchanges[: max(0, len(self.exchanges) - self.max_turns)]
        return ex

    def before(self, ex: Exchange | None) -> History:
        """The history up to, not including, ``ex`` (all of it for None)."""
        idx = next((i for i, e in enumerate(self.exchanges) if e is ex), len(self.exchanges))
        return History(self.max_turns, self.exchanges[:idx])

    @property
    def messages(self) -> list[Message]:
        """Chat messages, oldest first (an exchange with no reply yet contributes its request only)."""
        out = []
        for e in self.exchanges:
            out.append(Message("user", e.user))
            if e.assistant:
                out.append(Message("assistant", e.assistant))
        return out


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
        for _ in self.llm.stream(self.prompt("Hello.", History()), threading.Event(), max_tokens=1):
            pass

    def prompt(self, user_text: str, history: History) -> list[Message]:
        """The messages sent to the LLM for this turn."""
        return [Message("system", SYSTEM_PROMPT), *history.messages, Message("user", user_text)]

    def stream(
        self,
        request: Understanding | str,
        history: History,
        cancel: threading.Event,
        run_skill: Callable[[str], str | None] | None = None,
    ) -> Iterator[str | IntentChoice]:
        """Yield the reply: a skill's text at once, or the LLM's as it writes.

        When the LLM decides the intent and ``run_skill`` has a skill for it, the
        skill answers instead of the LLM's own reply.
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
        for item in self._decide_and_reply(request, history, cancel):
            yield item
            if isinstance(item, IntentChoice) and run_skill is not None:
                reply = run_skill(item.intent)
                if reply is not None:
                    cancel.set()
                    yield reply
                    return

    def decide_intent(self, request: Understanding, history: History | None = None) -> str:
        """Only the LLM's intent choice (benchmarks; stops right after the label)."""
        cancel = threading.Event()
        for item in self._decide_and_reply(request, history or History(), cancel, max_tokens=12):
            if isinstance(item, IntentChoice):
                cancel.set()
                return item.intent
        return request.intent

    def _decide_and_reply(
        self, request: Understanding, history: History, cancel: threading.Event, max_tokens: int | None = None
    ) -> Iterator[str | IntentChoice]:
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
