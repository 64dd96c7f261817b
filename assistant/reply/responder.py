"""Writing the reply: a skill's answer, or a streamed LLM answer from a fixed system prompt.

Every LLM turn reads the request as heard: the n-best alternatives where they
differ in words (:func:`.prompt.heard`). When the classifier was unsure, the LLM
decides the intent in the same generation: a GBNF grammar makes it write
``intent: <label>`` (one of the classifier's candidates or ``out_of_scope``) on the
first line and the spoken reply after it, so one prefill serves both. A reply to a
request for an action is checked before it is spoken, and a sentence of any reply that
begins like a claim ("Sure, I'll ...") is held until it ends (:mod:`.honesty`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass

from ..threads import NEVER, AnyOf, Cancelled, ReadOnly
from ..understand.intents import LABELS
from ..understand.understander import Understanding
from .history import History
from .honesty import asks_for_action, checked, guarded
from .llm import LLMBackend, Message
from .prompt import SYSTEM_PROMPT, heard, intent_grammar, readings, unsure_message
from .speculation import Speculation


@dataclass(frozen=True)
class IntentChoice:
    """The LLM's decision on the intent (first line of an unsure-turn generation)."""

    intent: str


class Responder:
    """Turns an understanding into a streamed reply (text pieces, maybe an :class:`IntentChoice` first)."""

    def __init__(self, llm: LLMBackend, nbest: bool = True, speculative: bool = False) -> None:
        self.llm = llm
        self.nbest = nbest
        """Show the LLM the n-best alternatives (False: the best text only, for comparison)."""
        self.speculative = speculative
        """Begin replies at a pause (a local LLM: a served one's capacity is shared by replicas)."""

    def warm_up(self) -> None:
        """Prefill the fixed system prompt now, so the first turn reuses its cache (~1.5 s saved)."""
        for _ in self.llm.stream(self.prompt("Hello.", History()), NEVER, max_tokens=1):
            pass

    def prompt(self, user_text: str, history: History) -> list[Message]:
        """The messages sent to the LLM for this turn."""
        system = f"{SYSTEM_PROMPT}\n\n{history.instructions}" if history.instructions else SYSTEM_PROMPT
        return [Message("system", system), *history.messages, Message("user", user_text)]

    def request_text(self, u: Understanding) -> str:
        """The request as the LLM reads it: as heard (its n-best), or only its best text."""
        return (heard(u.nbest) if self.nbest else "") or u.text

    def readings(self, u: Understanding) -> list[str]:
        """The readings of the request the LLM sees (the best text alone without the n-best)."""
        return (readings(u.nbest) if self.nbest else []) or [u.text]

    def user_message(self, u: Understanding) -> str:
        """The user message of an LLM turn: the request, and the candidate intents when the LLM decides."""
        text = self.request_text(u)
        return unsure_message(u, text) if u.llm_decides else text

    def speculate(self, request: Understanding, history: History) -> Speculation | None:
        """Begin the reply to an LLM turn at a pause, before the turn is sure (see :mod:`.speculation`);
        None where this responder does not speculate."""
        return Speculation(self.llm, self.prompt(self.user_message(request), history)) if self.speculative else None

    def prefill(self, history: History, said_so_far: str | None = None) -> int:
        """Warm the LLM's cache for the next turn: the history, and what the person has said so far.

        Returns the tokens evaluated (0 when the cache already held them, or the LLM was busy).
        """
        return self.llm.prefill(self.prompt("", history)[:-1], said_so_far)

    def stream(
        self,
        request: Understanding | str,
        history: History,
        cancel: Cancelled,
        run_skill: Callable[[str], str | None] | None = None,
        started: Callable[[], None] | None = None,
        speculation: Speculation | None = None,
    ) -> Iterator[str | IntentChoice]:
        """Yield the reply: a skill's text at once, or the LLM's as it writes.

        ``started`` is called (in the generating thread) when the LLM's first token comes:
        its prompt is evaluated. The first reply text can come later: after the intent
        label, or after the first sentence of a reply that is checked.

        When the LLM decides the intent and ``run_skill`` has a skill for it, the
        skill answers instead of the LLM's own reply: the LLM is stopped with the
        responder's own signal (``cancel`` is the caller's, and only read here).

        A ``speculation`` of this reply (begun at the pause) is taken over where its prompt is
        this turn's; otherwise it is stopped before the LLM is asked again.
        """
        if isinstance(request, str) or request.skill_reply is not None or request.llm_decides:
            if speculation is not None:
                speculation.stop()
        if isinstance(request, str):
            yield from self._answer([request], request, history, cancel, started)
            return
        if request.skill_reply is not None:
            yield request.skill_reply
            return
        if not request.llm_decides:
            yield from self._answer(self.readings(request), self.user_message(request), history, cancel, started,
                                    speculation)
            return
        skill_answered = threading.Event()
        with closing(self._decided_reply(request, history, AnyOf(cancel, ReadOnly(skill_answered)),
                                         started)) as pieces:
            for item in pieces:
                yield item
                if isinstance(item, IntentChoice) and run_skill is not None:
                    reply = run_skill(item.intent)
                    if reply is not None:
                        skill_answered.set()
                        yield reply
                        return

    def _llm_stream(self, messages: list[Message], cancel: Cancelled, started: Callable[[], None] | None,
                    grammar: str | None = None, max_tokens: int | None = None,
                    speculation: Speculation | None = None) -> Iterator[str]:
        taken = speculation.take(messages, cancel) if speculation is not None else None
        pieces = taken if taken is not None else self.llm.stream(messages, cancel, grammar=grammar,
                                                                 max_tokens=max_tokens)
        if started is None:
            return pieces

        def announced() -> Generator[str, None, None]:
            try:
                for i, piece in enumerate(pieces):
                    if i == 0:
                        started()
                    yield piece
            finally:  # closing this stops the generation
                close = getattr(pieces, "close", None)
                if close is not None:
                    close()
        return announced()

    def _answer(self, said: list[str], user_text: str, history: History, cancel: Cancelled,
                started: Callable[[], None] | None = None, speculation: Speculation | None = None) -> Iterator[str]:
        pieces = self._llm_stream(self.prompt(user_text, history), cancel, started, speculation=speculation)
        yield from checked(pieces) if asks_for_action(*said) else guarded(pieces)

    def decide_intent(self, request: Understanding, history: History | None = None) -> str:
        """Only the LLM's intent choice (benchmarks; stops right after the label)."""
        with closing(self._decide_and_reply(request, history or History(), NEVER, max_tokens=12)) as pieces:
            for item in pieces:
                if isinstance(item, IntentChoice):
                    return item.intent
        return request.intent

    def _decide_and_reply(
        self, request: Understanding, history: History, cancel: Cancelled, max_tokens: int | None = None,
        started: Callable[[], None] | None = None,
    ) -> Generator[str | IntentChoice, None, None]:
        grammar = intent_grammar([c for c, _ in request.candidates])
        messages = self.prompt(self.user_message(request), history)
        head, decided = "", False
        for piece in self._llm_stream(messages, cancel, started, grammar=grammar, max_tokens=max_tokens):
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

    def _decided_reply(self, request: Understanding, history: History, cancel: Cancelled,
                       started: Callable[[], None] | None) -> Generator[str | IntentChoice, None, None]:
        """The intent decision and reply, the reply checked when the request asks for an action."""
        with closing(self._decide_and_reply(request, history, cancel, started=started)) as pieces:
            check = checked if asks_for_action(*self.readings(request)) else guarded
            for item in pieces:
                yield item
                if isinstance(item, IntentChoice):
                    break
            yield from check(p for p in pieces if isinstance(p, str))
