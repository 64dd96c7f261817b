"""Writing one turn's reply: a skill's answer or the LLM's, as clause-first chunks for the speaker."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from ..events import ErrorEvent, Event, Hypothesis, ReplyTextDelta, Understood
from ..reply.history import History
from ..reply.responder import IntentChoice, Responder
from ..reply.speculation import Speculation
from ..skills import Timers
from ..speak.chunker import Chunker
from ..threads import AnyOf, iterate_in_thread
from ..understand.understander import Understander, Understanding
from .turns import Turn

#: Spoken when the reply could not be written at all: the turn still ends in a reply.
SORRY = "Sorry, something went wrong there."

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeechChunk:
    """Text for the synthesizer at ``offset`` in the reply; ``last`` closes the turn's reply."""

    text: str
    offset: int = 0
    last: bool = False
    reply: str = ""


class ReplyWriter:
    """Streams a reply into ``put(turn_id, chunk)``; the history follows what is written."""

    def __init__(self, responder: Responder, understander: Understander, executor: Executor, history: History,
                 timers: Timers, emit: Callable[[Event], None],
                 put: Callable[[int, SpeechChunk], Awaitable[None]],
                 speaking: Callable[[], bool] = lambda: False) -> None:
        self.responder = responder
        self.understander = understander
        self.executor = executor
        self.history = history
        self.timers = timers
        self._emit = emit
        self._put = put
        self._speaking = speaking
        """The assistant is audible: words heard now may be its own echo, or a barge-in."""
        self._warming: asyncio.Future[int] | None = None
        self._next_warm: tuple[str | tuple[Hypothesis, ...] | None, int, bool] | None = None
        self._warm_when_heard: int | None = None  # a turn written but not yet audible
        self._finals = 0  # requests on their way to the reply (see final_came())
        self._speculation: Speculation | None = None  # a reply begun at a pause, for the next turn
        self._turn_state = threading.Lock()  # _finals and _speculation, written from two threads

    def warm(self, said_so_far: str | tuple[Hypothesis, ...] | None = None) -> None:
        """Move the LLM's cached prompt to the next turn's, in the background.

        Called after every reply is written (skill turns too: their exchange enters the
        history without passing through the LLM), with the stable words of a partial
        transcript while the person speaks, and with the speculative final's n-best at a
        pause (re-ranked first, so the final finds its re-ranking done). One prefill at a
        time; a newer request waits in place of an older one. A prefill gives way to a
        generation (:meth:`LocalLLM.prefill`).
        """
        if isinstance(said_so_far, tuple):
            # Re-rank at once, beside any prefill in flight: the final is ~150 ms away and waits
            # for it; unless a re-ranking (of an earlier pause) still runs.
            self.executor.submit(self.understander.rescored, said_so_far, False)
        if said_so_far is not None:  # the person spoke again, or paused anew: not that reply
            self._speculate(None)
        # Not over the assistant's own voice: what is heard then is the floor's question first (its
        # echo, or a person cutting in), and a generation's load would land on the cores the echo
        # canceller and the reply's voice need.
        self._warm(said_so_far, self._finals, may_speculate=not self._speaking())

    def _speculate(self, u: Understanding | None, history: History | None = None, finals: int | None = None) -> bool:
        """Begin the reply to ``u`` now (None: only stop the one under way); False where the
        final came meanwhile (its turn writes the reply itself) or the responder does not speculate."""
        with self._turn_state:
            if self._speculation is not None:
                self._speculation.stop()
                self._speculation = None
            if u is None or history is None or finals != self._finals:
                return False
            self._speculation = self.responder.speculate(u, history)
            return self._speculation is not None

    def _warm(self, said: str | tuple[Hypothesis, ...] | None, finals: int, may_speculate: bool) -> None:
        if self._warming is not None and not self._warming.done():
            self._next_warm = (said, finals, may_speculate)
            return
        self.history.make_room()
        history = self.history.before(None)  # a copy of the window as it is now
        self._warming = asyncio.get_running_loop().run_in_executor(
            self.executor, self._prefill, history, said, finals, may_speculate)
        self._warming.add_done_callback(self._warmed)

    def close(self) -> None:
        """The session ends: a reply begun for a next turn stops (it holds the one LLM context)."""
        self._speculate(None)

    def final_came(self) -> None:
        """A request is on its way to the reply: a look-ahead at its words not begun yet is moot."""
        with self._turn_state:
            self._finals += 1

    def heard(self, turn_id: int) -> None:
        """``turn_id``'s reply is audible (or over): the cache is warmed now if its writing left that to this.

        A prefill of the history beside the first words' synthesis slowed Piper's first audio
        from ~110 ms to 450-620 ms on skill turns (``bench latency``, 2-core AMD EPYC); a slice
        of the prefill in flight is not stopped by :mod:`..cores`, so it starts after that audio.
        """
        if turn_id == self._warm_when_heard:
            self._warm_when_heard = None
            self.warm()

    def _prefill(self, history: History, said: str | tuple[Hypothesis, ...] | None, finals: int,
                 may_speculate: bool) -> int:
        if isinstance(said, tuple):
            # The whole user message the final will most likely bring: the alternatives as
            # heard (13-32 tokens after the best text in bench latency), and the candidate
            # intents where the LLM decides (~21), not only the best text.
            u = self.understander.preview(said) if any(h.text.strip() for h in said) else None
            if u is not None and not u.llm_decides and may_speculate and self._speculate(u, history, finals):
                return 0  # the speculation evaluates the prompt itself
            if self._finals != finals:
                # The final came while the preview waited for the re-ranking, as its turn did: the
                # turn evaluates its whole prompt at once. Beside it, this prefill evaluated 16
                # tokens and the turn the other 10: 0.81 + 0.76 s (bench latency, 2-core EPYC),
                # where 24-32 tokens at once take ~0.8 s (llama.cpp evaluates batches of 16 twice
                # as fast per token as the tokens left over).
                return 0
            text = self.responder.user_message(u) if u is not None else None
        else:  # the stable words of a partial
            text = " ".join(said.split()) if said else None
        return self.responder.prefill(history, text or None)

    def _warmed(self, done: asyncio.Future[int]) -> None:
        if not done.cancelled() and (err := done.exception()) is not None:
            log.warning("prefilling the LLM's cache failed: %s", err)  # only a slower next turn
        if self._next_warm is not None:
            (said, finals, may_speculate), self._next_warm = self._next_warm, None
            self._warm(said, finals, may_speculate)

    async def write(self, turn: Turn, u: Understanding) -> None:
        chunker, reply, offset = Chunker(), "", 0
        # The exchange goes into the history now, so an interruption can cut the
        # reply to what was heard even while it is still being written.
        turn.exchange = self.history.add(u.text) if u.nbest else None
        before = self.history.before(turn.exchange)
        with self._turn_state:
            speculation, self._speculation = self._speculation, None

        async def put(chunk: str) -> None:
            nonlocal offset
            at = reply.find(chunk, offset)
            offset = at + len(chunk) if at >= 0 else offset
            turn.clock.mark("first_chunk")
            await self._put(turn.id, SpeechChunk(chunk, max(at, 0)))

        def skill(intent: str) -> str | None:
            return self.understander.run_skill(intent, u, self.timers)

        try:
            async for piece in iterate_in_thread(lambda stop: self.responder.stream(
                    u, before, AnyOf(stop, turn.stop_signal), skill,
                    started=lambda: turn.clock.mark("llm_first_token"), speculation=speculation),
                    executor=self.executor):
                if isinstance(piece, IntentChoice):
                    self._emit(Understood(turn.id, u.text, piece.intent, None, u.candidates, (), u.route, "llm"))
                    continue
                turn.clock.mark("reply_text")
                reply += piece
                turn.set_reply(reply)
                self._emit(ReplyTextDelta(turn.id, piece))
                for chunk in chunker.push(piece):
                    await put(chunk)
            if not reply.strip() and not turn.cancelled:
                # A served LLM can end a stream with no words (a server that drops a request
                # for a newer one did): that is a failure to say, not a silent turn.
                raise RuntimeError("the language model returned no text")
        except Exception as err:
            self._emit(ErrorEvent(turn.id, f"reply generation failed: {err}", "llm_error"))
            if not reply.strip():  # say so rather than go silent
                reply = SORRY
                turn.set_reply(reply)
                for chunk in chunker.push(reply + " "):
                    await put(chunk)
        finally:
            if speculation is not None:  # taken and written out, or not this turn's: it stops
                speculation.stop()
                turn.clock.info["speculative_reply"] = float(speculation.taken)
        for chunk in chunker.flush():
            await put(chunk)
        await self._put(turn.id, SpeechChunk("", last=True, reply=reply.strip()))
        # While the reply plays, once its first words are out (see heard()).
        if "first_audio" in turn.clock.marks or turn.cancelled:
            self.warm()
        else:
            self._warm_when_heard = turn.id
