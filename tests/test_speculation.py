"""A reply begun at a pause: taken over by its turn, or stopped; never lost, never leaked.

The LLM here is a scripted fake (``ScriptedLLM``): these tests are about the hand-over.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant.conversation.replying import ReplyWriter
from assistant.events import Hypothesis
from assistant.reply.history import History
from assistant.reply.llm import Message
from assistant.reply.responder import Responder
from assistant.reply.speculation import Speculation
from assistant.skills import Timers
from assistant.threads import NEVER, Cancelled
from assistant.understand.understander import Understanding
from fakes import FakeUnderstander, Faults

PROMPT = [Message("system", "Be brief."), Message("user", "What is the capital of France?")]


class ScriptedLLM:
    """Writes ``pieces`` one by one, each after ``gate`` lets it (or at once); may fail at the end."""

    def __init__(self, pieces: list[str], fail: bool = False, gated: bool = False) -> None:
        self.pieces, self.fail = pieces, fail
        self.gate = threading.Semaphore(0 if gated else 10_000)
        self.stopped_early = threading.Event()
        self.finished = threading.Event()

    def stream(self, messages: list[Message], cancel: Cancelled, grammar: str | None = None,
               max_tokens: int | None = None) -> Iterator[str]:
        try:
            for piece in self.pieces:
                while not self.gate.acquire(timeout=0.01):
                    if cancel.is_set():
                        self.stopped_early.set()
                        return
                if cancel.is_set():
                    self.stopped_early.set()
                    return
                yield piece
            if self.fail:
                raise RuntimeError("the model failed")
        finally:
            self.finished.set()

    def prefill(self, messages: list[Message], open_user: str | None = None) -> int:
        return 0


def test_its_turn_takes_what_was_written_and_the_rest() -> None:
    llm = ScriptedLLM(["The capital", " of France", " is Paris."], gated=True)
    spec = Speculation(llm, list(PROMPT))
    llm.gate.release()  # one piece written before the turn comes
    time.sleep(0.05)
    pieces = spec.take(list(PROMPT), NEVER)
    assert pieces is not None and spec.taken
    llm.gate.release(2)
    assert "".join(pieces) == "The capital of France is Paris."


def test_another_prompt_is_not_its_turn_and_stops_it() -> None:
    llm = ScriptedLLM(["Paris", " is", " lovely."], gated=True)
    spec = Speculation(llm, list(PROMPT))
    other = [PROMPT[0], Message("user", "What is the capital of Germany?")]
    assert spec.take(other, NEVER) is None and not spec.taken
    assert llm.stopped_early.wait(2)
    assert spec.take(list(PROMPT), NEVER) is None  # stopped for good: the turn asks the LLM anew


def test_one_nobody_takes_stops_itself() -> None:
    llm = ScriptedLLM(["Paris"] * 100, gated=True)
    Speculation(llm, list(PROMPT), unclaimed_s=0.1)
    assert llm.stopped_early.wait(2)  # the LLM is free for other sessions


def test_the_turn_leaving_stops_the_generation() -> None:
    llm = ScriptedLLM(["word "] * 100, gated=True)
    spec = Speculation(llm, list(PROMPT))
    cancel = threading.Event()
    pieces = spec.take(list(PROMPT), cancel)
    assert pieces is not None
    llm.gate.release(2)
    assert next(pieces) == "word "
    cancel.set()  # an interruption
    assert list(pieces) in ([], ["word "])
    assert llm.stopped_early.wait(2)


def test_a_failure_reaches_the_turn_that_took_it() -> None:
    llm = ScriptedLLM(["Par", "is"], fail=True)
    spec = Speculation(llm, list(PROMPT))
    pieces = spec.take(list(PROMPT), NEVER)
    assert pieces is not None
    with pytest.raises(RuntimeError, match="the model failed"):
        list(pieces)


def _writer(llm: ScriptedLLM, speaking: bool = False) -> ReplyWriter:
    async def put(turn_id: int, chunk: object) -> None: ...

    return ReplyWriter(Responder(llm, speculative=True), FakeUnderstander(Faults()), ThreadPoolExecutor(2),  # type: ignore[arg-type]
                       History(), Timers(), lambda event: None, put, lambda: speaking)


def test_a_closing_session_stops_the_reply_it_began() -> None:
    llm = ScriptedLLM(["word "] * 100, gated=True)
    writer = _writer(llm)
    text = "What is the capital of France?"
    u = Understanding(text, (Hypothesis(text, 0.0, 1.0),), "qa_factoid", 0.9)
    assert writer._speculate(u, History(), 0)  # as at a pause, before any final came
    writer.close()
    assert llm.stopped_early.wait(2)


@pytest.mark.parametrize("speaking", [False, True])
def test_no_reply_is_begun_over_the_assistants_own_voice(speaking: bool) -> None:
    # Words heard while it speaks are its echo or a barge-in: the floor's question, not a turn.
    llm = ScriptedLLM(["word "] * 100, gated=True)

    async def pause() -> None:
        writer = _writer(llm, speaking)
        writer.warm((Hypothesis("hello t0", -0.1, 0.9),))  # the speculative final at a pause
        await asyncio.sleep(0.3)
        writer.close()

    asyncio.run(pause())
    assert llm.finished.wait(2) != speaking  # begun (and stopped at the close) only when silent
