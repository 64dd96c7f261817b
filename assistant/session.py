"""One conversation: the stage tasks, the queues between them, and the events out.

::

    audio --> [listen --> recognise] --> understand --> respond --> speak --> events
               Listener (listener.py)        (n-best ->     (LLM,       (Piper,
               VAD, partials, n-best final    request)       chunked)    frames)

Each arrow is an ``asyncio.Queue`` read by one long-lived task. Every item that
crosses a queue carries its turn id, so a turn's timings and leftovers can be
told apart from the next turn's. ``None`` on a queue means "no more input": it
flows down the pipeline and ends the event stream once everything before it is
done.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from .audio import float_to_pcm16, pcm16_to_float
from .chunker import Chunker
from .config import INPUT_SAMPLE_RATE, Config
from .events import (
    ErrorEvent,
    Event,
    ReplyAudio,
    ReplyDone,
    ReplyTextDelta,
    SessionCreated,
    TranscriptFinal,
    Understood,
)
from .respond import History
from .threads import iterate_in_thread
from .respond import IntentChoice
from .skills import Timer, Timers
from .understand import Understanding
from .listener import Listener
from .metrics import TurnClocks

if TYPE_CHECKING:
    from .api import Assistant

P = TypeVar("P")


@dataclass(frozen=True)
class Item(Generic[P]):
    """A payload crossing a queue, stamped with its turn."""

    turn_id: int
    payload: P


@dataclass(frozen=True)
class SpeechChunk:
    """Text for the synthesizer; ``last`` closes the turn's reply (whose full text is ``reply``)."""

    text: str
    last: bool = False
    reply: str = ""


_Q = asyncio.Queue


class Session:
    """A live conversation with the assistant.

    Push 16 kHz mono audio with :meth:`send_audio`, read :class:`~assistant.events.Event`
    objects from :meth:`events`. Call :meth:`end_audio` when the input is over (a file
    ended) to let the last turn finish, and :meth:`close` (or use ``async with``) to
    stop every task.
    """

    def __init__(self, assistant: Assistant, config: Config | None = None) -> None:
        self.assistant = assistant
        self.config = config or assistant.config
        self.id = uuid.uuid4().hex[:12]
        self.history = History()
        self.clocks = TurnClocks()
        self.listener = Listener(
            assistant.recognizer, assistant.silero_path, self.config, self._new_turn, self.clocks
        )
        self.timers = Timers(on_fire=self._timer_fired)
        self._reply_q: _Q[Item[Understanding] | None] = asyncio.Queue()
        self._speech_q: _Q[Item[SpeechChunk] | None] = asyncio.Queue()
        self._out_q: _Q[Event | None] = asyncio.Queue()
        self._turn = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._input_ended = False

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Start the stage tasks and announce the session."""
        if self._tasks:
            return
        self.timers.loop = asyncio.get_running_loop()
        stages = (self._understand, self._respond, self._speak)
        self._tasks = self.listener.tasks(self.id) + [
            asyncio.create_task(stage(), name=f"{self.id}:{stage.__name__}") for stage in stages
        ]
        await self._emit(
            SessionCreated(
                turn_id=0,
                session_id=self.id,
                input_sample_rate=INPUT_SAMPLE_RATE,
                output_sample_rate=self.assistant.synthesizer.sample_rate,
            )
        )

    async def close(self) -> None:
        """Cancel and await every stage task. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.timers.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._out_q.put_nowait(None)

    async def __aenter__(self) -> Session:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- input and output ---------------------------------------------------------

    async def send_audio(self, audio: bytes | np.ndarray) -> None:
        """Queue input audio: PCM16 little-endian bytes or a float32 array, 16 kHz mono."""
        if self._closed or self._input_ended:
            raise RuntimeError("session input is closed")
        samples = pcm16_to_float(audio) if isinstance(audio, (bytes, bytearray, memoryview)) else audio
        await self.listener.feed(np.asarray(samples, dtype=np.float32))

    async def end_audio(self) -> None:
        """No more input: finish the utterance in progress and let its reply complete."""
        if not self._input_ended:
            self._input_ended = True
            await self.listener.feed(None)

    async def events(self) -> AsyncIterator[Event]:
        """Events in order until the session ends (after :meth:`end_audio` drains, or :meth:`close`)."""
        while True:
            event = await self._out_q.get()
            if event is None:
                return
            yield event

    async def _emit(self, event: Event) -> None:
        await self._out_q.put(event)

    def _new_turn(self) -> int:
        self._turn += 1
        return self._turn

    def _timer_fired(self, timer: Timer) -> None:
        # A due timer is a turn of its own: the assistant speaks up unprompted.
        turn = self._new_turn()
        self.clocks[turn].mark("understood")
        note = f"Your {timer.label} is done." if "timer" in timer.label else f"It's time: your {timer.label}."
        u = Understanding(note, (), "alarm_fired", 1.0, skill_reply=note)
        self._reply_q.put_nowait(Item(turn, u))

    # -- stages -------------------------------------------------------------------

    async def _understand(self) -> None:
        # Forwards the listener's events and turns each non-empty final into a request.
        while (event := await self.listener.events.get()) is not None:
            await self._emit(event)
            if not isinstance(event, TranscriptFinal):
                continue
            if not event.nbest:
                self.clocks.pop(event.turn_id)
                continue
            try:
                u = await asyncio.to_thread(self.assistant.understander.understand, event.nbest, self.timers)
            except Exception as err:  # one turn fails, the session lives on
                await self._emit(ErrorEvent(event.turn_id, f"understanding failed: {err}", "understand_error"))
                continue
            self.clocks[event.turn_id].mark("understood")
            await self._emit(Understood(event.turn_id, u.text, u.intent, u.confidence, u.candidates, u.route))
            await self._reply_q.put(Item(event.turn_id, u))
        await self._reply_q.put(None)

    async def _respond(self) -> None:
        responder = self.assistant.responder
        while (item := await self._reply_q.get()) is not None:
            turn, request = item.turn_id, item.payload.text
            clock = self.clocks[turn]
            chunker = Chunker()
            reply = ""
            try:
                u = item.payload

                def skill(intent: str, u: Understanding = u) -> str | None:
                    return self.assistant.understander.run_skill(intent, u, self.timers)

                async for piece in iterate_in_thread(lambda c: responder.stream(u, self.history, c, skill)):
                    if isinstance(piece, IntentChoice):
                        await self._emit(Understood(turn, u.text, piece.intent, None, u.candidates, u.route, "llm"))
                        continue
                    clock.mark("first_token")
                    reply += piece
                    await self._emit(ReplyTextDelta(turn, piece))
                    for chunk in chunker.push(piece):
                        clock.mark("first_chunk")
                        await self._speech_q.put(Item(turn, SpeechChunk(chunk)))
            except Exception as err:
                await self._emit(ErrorEvent(turn, f"reply generation failed: {err}", "llm_error"))
            for chunk in chunker.flush():
                clock.mark("first_chunk")
                await self._speech_q.put(Item(turn, SpeechChunk(chunk)))
            reply = reply.strip()
            self.history.add(request, reply)
            await self._speech_q.put(Item(turn, SpeechChunk("", last=True, reply=reply)))
        await self._speech_q.put(None)

    async def _speak(self) -> None:
        synth = self.assistant.synthesizer
        rate = synth.sample_rate
        while (item := await self._speech_q.get()) is not None:
            turn, chunk = item.turn_id, item.payload
            clock = self.clocks[turn]
            if chunk.text:
                try:
                    async for frame in iterate_in_thread(lambda c: synth.frames(chunk.text, c)):
                        clock.mark("first_audio")
                        await self._emit(ReplyAudio(turn, float_to_pcm16(frame.audio), rate))
                except Exception as err:
                    await self._emit(ErrorEvent(turn, f"speech synthesis failed: {err}", "tts_error"))
            if chunk.last:
                clock.mark("done")
                await self._emit(ReplyDone(turn, chunk.reply, clock.metrics()))
                self.clocks.pop(turn)
        await self._out_q.put(None)
