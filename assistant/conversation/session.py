"""One conversation: the stage tasks, the queues between them, and the events out.

::

    audio --> [listen --> recognise] --> understand --> respond --> speak --> events
               Listener            text --> Intake     (skill or   (TTS, paced by
               (listen/listener.py)      (n-best, or    LLM,        the PlaybackClock)
                                         typed; barge-in) chunked)

Each arrow is an ``asyncio.Queue`` read by one long-lived, supervised task. Every
item that crosses a queue carries its turn id, and every stage asks the turn table
whether that turn is still live (:mod:`.turns`); ``None`` on a queue means "no more
input" and ends the event stream once everything before it is done.

The session only wires parts that own their state: the :class:`~.turns.TurnTable`
(one cancel scope per turn), the :class:`~.bargein.BargeIn` policy (pure decisions),
the :class:`~.playback.PlaybackClock` (pacing, echo reference, what was heard) and the
:class:`~.supervisor.Watchdog` (every turn ends in a reply or an error).
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import numpy as np

from ..audio import pcm16_to_float
from ..config import INPUT_SAMPLE_RATE, Config
from ..errors import AssistantError, AudioInputError
from ..events import ErrorEvent, Event, Hypothesis, ReplyDone, SessionCreated
from ..reply.history import History
from ..skills import Timer, Timers
from ..understand.understander import Understanding
from .floor import Floor
from .intake import MAX_TEXT_CHARS, Intake
from .outbound import EventStream
from .playback import PlaybackClock
from .replying import ReplyWriter, SpeechChunk
from .settings import InputFormat, apply_settings
from .speaking import Speaker
from .supervisor import Watchdog, supervised
from .turns import Item, Turn, TurnTable

if TYPE_CHECKING:
    from ..api import Assistant

class Session:
    """A live conversation with the assistant.

    Push 16 kHz mono audio with :meth:`send_audio` (it may keep coming while the
    assistant speaks), read :class:`~assistant.events.Event` objects from
    :meth:`events`. On an ``interrupt`` event a client flushes its playback and
    may report how far it got with :meth:`report_playback`. Call :meth:`end_audio`
    when the input is over (a file ended) to let the last turn finish, and
    :meth:`close` (or use ``async with``) to stop every task.
    """

    #: Turns remembered (playback marks, replies, clocks); a long conversation stays bounded.
    KEEP_TURNS = 16

    def __init__(self, assistant: Assistant, config: Config | None = None) -> None:
        self.assistant = assistant
        # A copy: settings a client changes apply to this session only.
        self.config = copy.deepcopy(config or assistant.config)
        self.id = uuid.uuid4().hex[:12]
        self.history = History(instructions=self.config.llm.instructions)
        self.turns = TurnTable(self.KEEP_TURNS)
        self.timers = Timers(on_fire=self._timer_fired)
        self.listener = assistant.listener(self.config, self.turns.open_id, self.turns.clock)
        self.input = InputFormat()
        self.watchdog = Watchdog(self.config.duplex.reply_stall_s)
        self.out = EventStream(self.turns.live, lambda ev: self.watchdog.saw(ev, self._now()))
        self.playback = PlaybackClock(assistant.synthesizer.sample_rate, self.config.duplex, self.listener,
                                      lambda turn_id: self.floor.audible(turn_id))
        self.floor = Floor(self.config.duplex, self.turns, self.playback, self.out, lambda: self.listener.echo_share,
                           self.config.turn)
        self._reply_q: asyncio.Queue[Item[Understanding] | None] = asyncio.Queue()
        self._speech_q: asyncio.Queue[Item[SpeechChunk] | None] = asyncio.Queue()
        self.writer = ReplyWriter(assistant.responder, assistant.understander, assistant.workers, self.history,
                                  self.timers, self.out.emit, lambda turn_id, c: self._speech_q.put(Item(turn_id, c)),
                                  lambda: self.playback.speaking)
        self.listener.on_words_so_far = self.writer.warm
        self.intake = Intake(self.config, self.turns, self.floor, self.history, self.watchdog, self.out,
                             self.writer.warm, self.writer.final_came, self._understand, self._for_turn, self._reply_q.put)
        self.speaker = Speaker(assistant.synthesizer, assistant.workers, self.playback, self.out.emit, self.writer.heard)
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = self._input_ended = False
        self.failure: str | None = None
        """Why the session stopped working (a stage died), or None."""

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Start the supervised stage tasks and announce the session."""
        if self._tasks:
            return
        self.timers.loop = asyncio.get_running_loop()
        stages: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = [
            *self.listener.stages(), ("hear", lambda: self.intake.forward(self.listener.events)),
            ("understand", self.intake.run), ("respond", self._respond),
            ("speak", self._speak), ("watchdog", self._watch)]
        self._tasks = [asyncio.create_task(supervised(name, run, self._stage_died), name=f"{self.id}:{name}")
                       for name, run in stages]
        self.out.emit(SessionCreated(0, self.id, INPUT_SAMPLE_RATE, self.assistant.synthesizer.sample_rate))

    async def close(self) -> None:
        """Cancel and await every stage task. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.timers.close()
        self.playback.close()
        self.floor.close()
        self.writer.close()
        self.turns.cancel_all()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.out.end()

    async def __aenter__(self) -> Session:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _stage_died(self, name: str, err: BaseException) -> None:
        # A bug, not one turn's trouble: say so and end the event stream rather than hang.
        if self.failure is None:
            self.failure = f"the {name} stage failed: {err}"
            self.turns.cancel_all()
            self.out.emit(ErrorEvent(0, f"internal error ({self.failure}); this session is over", "internal_error"))
            self.out.end()

    # -- input and output ---------------------------------------------------------

    @property
    def input_sample_rate(self) -> int:
        """The rate the client sends audio at (16 kHz unless changed with :meth:`update`)."""
        return self.input.rate

    @property
    def owes_reply(self) -> bool:
        """A request (or an announcement) is still being answered."""
        return self.watchdog.owing > 0

    @property
    def input_open(self) -> bool:
        """Audio is still accepted (no :meth:`end_audio`, :meth:`close` or failure)."""
        return not (self._closed or self._input_ended or self.failure)

    async def send_audio(self, audio: bytes | np.ndarray) -> None:
        """Queue input audio: PCM16 little-endian bytes or a float32 array, mono, at
        ``input_sample_rate`` (16 kHz unless changed with :meth:`update`).

        Raises :class:`~assistant.errors.AudioInputError` once the input has ended.
        """
        self._check_open()
        samples = pcm16_to_float(audio) if isinstance(audio, (bytes, bytearray, memoryview)) else audio
        await self.listener.feed(self.input.to_16k(np.asarray(samples, dtype=np.float32)))

    def _check_open(self) -> None:
        if not self.input_open:  # after end_audio, close or a failure
            raise AudioInputError(f"the input has ended ({self.failure or 'input_audio_buffer.end'}); "
                                  "open a new session to talk again")

    async def end_audio(self) -> None:
        """No more input: finish the utterance in progress and let its reply complete."""
        if not self._input_ended:
            self._input_ended = True
            await self.listener.feed(None)

    async def send_text(self, text: str, respond: bool = True) -> int:
        """A typed request, answered like a spoken one (a reply under way stops first); returns its
        turn id. With ``respond`` False it waits for :meth:`respond`. Raises
        :class:`~assistant.errors.AssistantError` for an empty or too long text, or a closed input."""
        self._check_open()
        text = " ".join(str(text).split())
        if not text or len(text) > MAX_TEXT_CHARS:
            raise AssistantError(f"a typed message needs 1 to {MAX_TEXT_CHARS} characters, not {len(text)}")
        return self.intake.typed(text, respond)

    def respond(self) -> None:
        """Answer the request held back (``turn.create_response`` off, or ``send_text(respond=False)``)."""
        self.intake.respond()

    def cancel_reply(self) -> list[int]:
        """Stop every reply under way, as if the person had cut in; returns their turn ids."""
        return self.floor.take()

    async def commit_audio(self) -> None:
        """The utterance in progress is over (the client says so, whatever the turn detection)."""
        self._check_open()
        await self.listener.commit()

    async def clear_audio(self) -> None:
        """Forget the audio sent so far that is not yet an utterance."""
        self._check_open()
        await self.listener.clear()

    async def say(self, text: str) -> int:
        """Make the assistant speak ``text`` as a turn of its own (announcements, tests); returns the turn id."""
        return self._announce(text, "announcement")

    def update(self, settings: dict[str, object]) -> dict[str, object]:
        """Change session settings (see :data:`.settings.UPDATABLE`, plus ``input_sample_rate``
        and ``input_audio_format``); all or nothing.

        Raises :class:`~assistant.errors.AssistantError` naming the bad setting.
        """
        applied = apply_settings(settings, self.config, self.input)
        self.history.instructions = self.config.llm.instructions
        self.listener.settings_changed()  # the base settings; a speaking-time overlay stays on top
        return applied

    def report_playback(self, turn_id: int, audio_end_ms: float) -> str | None:
        """The client played ``audio_end_ms`` of ``turn_id``'s reply: cut the history to that.

        Returns the text now in the history for that turn (None if unknown turn).
        """
        turn = self.turns.get(turn_id)
        if turn is None or turn.exchange is None or turn.playback is None:
            return None
        return turn.cut_to(int(audio_end_ms * turn.playback.rate / 1000))

    def heard_reply(self, turn_id: int) -> str | None:
        """What the history holds of ``turn_id``'s reply (what the person heard of it)."""
        turn = self.turns.get(turn_id)
        return turn.exchange.assistant if turn is not None and turn.exchange is not None else None

    def events(self) -> AsyncIterator[Event]:
        """Events in order until the session ends (after :meth:`end_audio` drains, or :meth:`close`)."""
        return aiter(self.out)

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def _announce(self, text: str, intent: str) -> int:
        turn = self.turns.open()
        turn.clock.mark("understood")
        self.watchdog.opened(turn.id, self._now())
        self._reply_q.put_nowait(Item(turn.id, Understanding(text, (), intent, 1.0, skill_reply=text)))
        return turn.id

    def _timer_fired(self, timer: Timer) -> None:
        # A due timer is a turn of its own: the assistant speaks up unprompted.
        note = f"Your {timer.label} is done." if "timer" in timer.label else f"It's time: your {timer.label}."
        self._announce(note, "alarm_fired")

    # -- per-turn work, in the turn's cancel scope ----------------------------------

    async def _for_turn(self, turn: Turn, work: Coroutine[Any, Any, None], failed: str, code: str) -> None:
        """Run ``work`` for ``turn``: cancelling the turn stops it; its exception is the turn's error."""
        task = asyncio.create_task(work)
        turn.attach(task)
        try:
            await task
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                raise  # the session is closing
        except Exception as err:
            turn.ended = True
            self.out.emit(ErrorEvent(turn.id, f"{failed}: {err}", code))

    def _give_up(self, turn_id: int) -> None:
        turn = self.turns.get(turn_id)
        if turn is not None:
            turn.cancel()
            self.playback.stop(turn)
        self.out.emit(ErrorEvent(turn_id, f"no progress for {self.watchdog.stall_s:g} s; this turn was dropped",
                              "reply_timeout"))

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.watchdog.check_every_s)
            if (turn_id := self.watchdog.due(self._now())) is not None:
                self._give_up(turn_id)

    # -- stages -------------------------------------------------------------------

    async def _understand(self, nbest: tuple[Hypothesis, ...]) -> Understanding:
        bot = self.assistant
        return await asyncio.get_running_loop().run_in_executor(bot.workers, bot.understander.understand, nbest,
                                                                self.timers)

    async def _respond(self) -> None:
        while (item := await self._reply_q.get()) is not None:
            if (turn := self.turns.get(item.turn_id)) is not None and not turn.cancelled:
                await self._for_turn(turn, self.writer.write(turn, item.payload), "reply generation failed",
                                     "llm_error")
        await self._speech_q.put(None)

    async def _speak(self) -> None:
        while (item := await self._speech_q.get()) is not None:
            turn, chunk = self.turns.get(item.turn_id), item.payload
            if turn is None or turn.cancelled:
                continue
            if chunk.text and self.config.tts.speak:
                await self._for_turn(turn, self.speaker.say(turn, chunk), "speech synthesis failed", "tts_error")
            if chunk.last and not turn.cancelled:
                self.writer.heard(turn.id)  # over, heard or not (a text-only reply has no audio)
                turn.clock.mark("done")
                turn.ended = True
                self.out.emit(ReplyDone(turn.id, chunk.reply, turn.clock.metrics()))
                self.playback.finished(turn)
        self.out.end()
