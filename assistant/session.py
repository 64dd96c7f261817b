"""One conversation: the stage tasks, the queues between them, and the events out.

::

    audio --> [listen --> recognise] --> understand --> respond --> speak --> events
               Listener (listener.py)     (n-best ->     (LLM,       (Piper,
               VAD, partials, n-best      request,       chunked)    paced frames)
               final, echo suppression    barge-in)

Each arrow is an ``asyncio.Queue`` read by one long-lived task. Every item that
crosses a queue carries its turn id; a cancelled turn's leftovers are dropped by
every stage and by :meth:`Session.events`. ``None`` on a queue means "no more
input": it flows down the pipeline and ends the event stream once everything
before it is done.

Full duplex: the listening path never stops. Reply audio leaves at playback pace,
and what was played is handed to the listener's echo suppressor as its
reference. When the person speaks over a reply, the reply pauses at once; speech
that goes on (``confirm_ms``) or has real words interrupts it (cancel, drop,
``interrupt`` event, history cut to what was heard); a backchannel ("mm-hm", a
cough) resumes it.
"""

from __future__ import annotations

import asyncio
import copy
import math
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np
import soxr

from .asr import word_key
from .audio import float_to_pcm16, pcm16_to_float
from .chunker import Chunker
from .config import INPUT_SAMPLE_RATE, Config
from .errors import AssistantError, AudioInputError
from .events import (
    ErrorEvent,
    Event,
    Interrupted,
    ReplyAudio,
    ReplyDone,
    ReplyPaused,
    ReplyResumed,
    ReplyTextDelta,
    SessionCreated,
    SpeechStarted,
    SpeechStopped,
    TranscriptFinal,
    TranscriptPartial,
    Understood,
)
from .listener import Listener
from .metrics import TurnClocks
from .respond import Exchange, History, IntentChoice
from .skills import Timer, Timers
from .threads import iterate_in_thread
from .understand import Understanding

if TYPE_CHECKING:
    from .api import Assistant

P = TypeVar("P")
_Q = asyncio.Queue


@dataclass(frozen=True)
class Item(Generic[P]):
    """A payload crossing a queue, stamped with its turn."""

    turn_id: int
    payload: P


@dataclass(frozen=True)
class SpeechChunk:
    """Text for the synthesizer at ``offset`` in the reply; ``last`` closes the turn's reply."""

    text: str
    offset: int = 0
    last: bool = False
    reply: str = ""


@dataclass
class Playback:
    """What was sent of one turn's reply: samples, and text marks to map samples to words."""

    rate: int
    samples: int = 0
    marks: list[tuple[int, int]] = field(default_factory=list)  # (samples at frame end, reply chars)

    def chars_at(self, sample: int) -> int:
        """Reply characters spoken by ``sample``."""
        chars = 0
        for end, c in self.marks:
            if end > sample:
                break
            chars = c
        return chars


def cut_to_words(text: str, chars: int) -> str:
    """``text`` cut at ``chars``, back to the last whole word."""
    if chars >= len(text):
        return text
    head = text[:chars]
    if chars < len(text) and not text[chars].isspace() and " " in head:
        head = head[: head.rfind(" ")]
    elif " " not in head and chars < len(text) and not text[chars].isspace():
        head = ""
    return head.strip()


def _sounds_alike(heard: str, said: str) -> bool:
    """``heard`` is ``said``, a fragment of it, or one letter off (for words of 3+ letters)."""
    if heard == said:
        return True
    if len(heard) < 3:
        return False
    return heard in said or SequenceMatcher(None, heard, said).ratio() >= 0.75


class Session:
    """A live conversation with the assistant.

    Push 16 kHz mono audio with :meth:`send_audio` (it may keep coming while the
    assistant speaks), read :class:`~assistant.events.Event` objects from
    :meth:`events`. On an ``interrupt`` event a client flushes its playback and
    may report how far it got with :meth:`report_playback`. Call :meth:`end_audio`
    when the input is over (a file ended) to let the last turn finish, and
    :meth:`close` (or use ``async with``) to stop every task.
    """

    def __init__(self, assistant: Assistant, config: Config | None = None) -> None:
        self.assistant = assistant
        # A copy: settings a client changes apply to this session only.
        self.config = copy.deepcopy(config or assistant.config)
        self.id = uuid.uuid4().hex[:12]
        self.history = History()
        self.clocks = TurnClocks()
        self.timers = Timers(on_fire=self._timer_fired)
        self.listener = Listener(assistant.recognizer, assistant.silero_path, self.config, self._new_turn, self.clocks,
                                 assistant.workers)
        self._reply_q: _Q[Item[Understanding] | None] = asyncio.Queue()
        self._speech_q: _Q[Item[SpeechChunk] | None] = asyncio.Queue()
        self._out_q: _Q[Event | None] = asyncio.Queue()
        self._turn = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._input_ended = False
        # Duplex state, owned by this session's tasks (one event loop: no locks needed).
        self._cancelled: set[int] = set()
        self._cancel_flags: dict[int, threading.Event] = {}
        self._resume = asyncio.Event()
        self._resume.set()
        self._playing: int | None = None  # turn whose audio is being played
        self._play_until = 0.0  # loop time when the last sent frame finishes playing
        self._barge: tuple[int, int] | None = None  # (reply turn paused, the new speech's turn)
        self._barge_timer: asyncio.TimerHandle | None = None
        self._barge_partial = ""  # latest partial transcript of the speech over the reply
        self._barge_start_ms = 0
        self._barge_speech_ms = 10**9  # how long that speech lasted, once it stopped
        self._playback: dict[int, Playback] = {}
        self._exchanges: dict[int, Exchange] = {}  # turn -> its entry in the history
        self._full_replies: dict[int, str] = {}
        self._last_reply_turn: int | None = None
        self._play_start = 0.0
        self._input_rate = INPUT_SAMPLE_RATE
        self._to_16k: soxr.ResampleStream | None = None

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
        if self._barge_timer:
            self._barge_timer.cancel()
        for flag in self._cancel_flags.values():
            flag.set()
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

    @property
    def input_sample_rate(self) -> int:
        """The rate the client sends audio at (16 kHz unless changed with :meth:`update`)."""
        return self._input_rate

    @property
    def input_open(self) -> bool:
        """Audio is still accepted (neither :meth:`end_audio` nor :meth:`close` was called)."""
        return not (self._closed or self._input_ended)

    async def send_audio(self, audio: bytes | np.ndarray) -> None:
        """Queue input audio: PCM16 little-endian bytes or a float32 array, mono, at
        ``input_sample_rate`` (16 kHz unless changed with :meth:`update`).

        Raises :class:`~assistant.errors.AudioInputError` once the input has ended.
        """
        if not self.input_open:
            raise AudioInputError("the input has ended (input_audio_buffer.end); open a new session to talk again")
        samples = pcm16_to_float(audio) if isinstance(audio, (bytes, bytearray, memoryview)) else audio
        samples = np.asarray(samples, dtype=np.float32)
        if self._to_16k is not None:
            samples = self._to_16k.resample_chunk(samples)
        await self.listener.feed(samples)

    async def end_audio(self) -> None:
        """No more input: finish the utterance in progress and let its reply complete."""
        if not self._input_ended:
            self._input_ended = True
            await self.listener.feed(None)

    async def say(self, text: str) -> int:
        """Make the assistant speak ``text`` as a turn of its own (announcements, tests); returns the turn id."""
        turn = self._new_turn()
        self.clocks[turn].mark("understood")
        await self._reply_q.put(Item(turn, Understanding(text, (), "announcement", 1.0, skill_reply=text)))
        return turn

    #: Settings a client may change: name -> (section, field, type, min, max).
    UPDATABLE = {
        "silence_ms": ("vad", "silence_ms", int, 100, 3000),
        "min_speech_ms": ("vad", "min_speech_ms", int, 0, 2000),
        "max_utterance_s": ("vad", "max_utterance_s", float, 1.0, 60.0),
        "speech_threshold": ("vad", "speech_threshold", float, 0.1, 0.95),
        "nbest": ("asr", "nbest", int, 1, 10),
        "partial_interval_ms": ("asr", "partial_interval_ms", int, 200, 5000),
        "confirm_ms": ("duplex", "confirm_ms", int, 100, 3000),
    }

    #: Input rates a client may declare (``input_sample_rate``); audio is resampled to 16 kHz.
    INPUT_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)

    def update(self, settings: dict[str, object]) -> dict[str, object]:
        """Change session settings (see :attr:`UPDATABLE`, plus ``input_sample_rate`` and
        ``input_audio_format``); all or nothing.

        Raises :class:`~assistant.errors.AssistantError` naming the bad setting.
        """
        stream = {"input_sample_rate", "input_audio_format"}  # how the audio arrives, not a config field
        rate = settings.get("input_sample_rate", self._input_rate)
        if isinstance(rate, bool) or rate not in self.INPUT_RATES:
            raise AssistantError(f"input_sample_rate {str(rate)[:20]!r} is not supported; use one of "
                                 f"{', '.join(map(str, self.INPUT_RATES))} (16000 needs no resampling)")
        if settings.get("input_audio_format", "pcm16") != "pcm16":
            raise AssistantError("input_audio_format must be 'pcm16' (16-bit little-endian mono)")
        checked: dict[str, object] = {}
        for name, value in settings.items():
            if name in stream:
                continue
            if name not in self.UPDATABLE:
                raise AssistantError(f"unknown setting {str(name)[:40]!r}; settable: "
                                     f"{', '.join([*self.UPDATABLE, *sorted(stream)])}")
            _, _, kind, lo, hi = self.UPDATABLE[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or (kind is int and value != int(value)):
                raise AssistantError(f"setting {name!r} must be {'an integer' if kind is int else 'a number'}")
            if not lo <= value <= hi:
                raise AssistantError(f"setting {name!r} must be between {lo} and {hi}")
            checked[name] = kind(value)
        for name, value in checked.items():
            section, attr, *_ = self.UPDATABLE[name]
            setattr(getattr(self.config, section), attr, value)
        self.listener.endpointer.config = self.config.vad
        if rate != self._input_rate:
            self._input_rate = int(rate)  # type: ignore[call-overload]
            self._to_16k = None if rate == INPUT_SAMPLE_RATE else soxr.ResampleStream(
                self._input_rate, INPUT_SAMPLE_RATE, 1, dtype="float32")
        checked.update({k: settings[k] for k in stream if k in settings})
        return checked

    def report_playback(self, turn_id: int, audio_end_ms: float) -> str | None:
        """The client played ``audio_end_ms`` of ``turn_id``'s reply: cut the history to that.

        Returns the text now in the history for that turn (None if unknown turn).
        """
        pb = self._playback.get(turn_id)
        if pb is None or turn_id not in self._exchanges:
            return None
        return self._truncate(turn_id, int(audio_end_ms * pb.rate / 1000))

    async def events(self) -> AsyncIterator[Event]:
        """Events in order until the session ends (after :meth:`end_audio` drains, or :meth:`close`)."""
        while True:
            event = await self._out_q.get()
            if event is None:
                return
            if isinstance(event, ReplyAudio) and event.turn_id in self._cancelled:
                continue  # audio of a cancelled turn never leaves, even if it was already queued
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
        self._reply_q.put_nowait(Item(turn, Understanding(note, (), "alarm_fired", 1.0, skill_reply=note)))

    # -- barge-in -------------------------------------------------------------------

    def _assistant_speaking(self) -> bool:
        loop = asyncio.get_running_loop()
        return self._playing is not None or loop.time() < self._play_until

    def _pause(self, reply_turn: int, speech_turn: int) -> None:
        self._barge = (reply_turn, speech_turn)
        self._barge_partial = ""
        self._resume.clear()
        self._out_q.put_nowait(ReplyPaused(reply_turn))
        loop = asyncio.get_running_loop()
        self._barge_timer = loop.call_later(self.config.duplex.confirm_ms / 1000, self._confirm_barge, speech_turn)

    def _confirm_barge(self, speech_turn: int, waited_ms: int = 0) -> None:
        # Still speaking after confirm_ms: a real interruption, unless what has been
        # heard so far is only a backchannel ("mm-hmm" can be long); then look again soon.
        ep = self.listener.endpointer
        if not (self._barge and self._barge[1] == speech_turn and ep.in_speech and not ep.in_pause):
            return
        waited_ms += self.config.duplex.confirm_ms if waited_ms == 0 else 300
        # No words yet (the first partial is still being decoded), or only a backchannel or
        # the assistant's own words: wait for the words rather than cut the reply on a sound.
        if (not self._barge_partial or self._is_backchannel(self._barge_partial) or self._only_echo(self.listener.echo_share)) \
                and waited_ms < 1500:
            loop = asyncio.get_running_loop()
            self._barge_timer = loop.call_later(0.3, self._confirm_barge, speech_turn, waited_ms)
            return
        self._interrupt()

    def _resume_reply(self) -> None:
        if self._barge_timer:
            self._barge_timer.cancel()
        if self._barge:
            self._out_q.put_nowait(ReplyResumed(self._barge[0]))
        self._barge = None
        self._resume.set()

    def _interrupt(self) -> None:
        """Cancel the paused reply: drop its work and queued audio, tell the client, cut the history."""
        if not self._barge:
            return
        reply_turn, _ = self._barge
        self._barge = None
        if self._barge_timer:
            self._barge_timer.cancel()
        self._cancelled.add(reply_turn)
        if flag := self._cancel_flags.get(reply_turn):
            flag.set()
        # The interrupt jumps the queue: queued audio of the cancelled turn is dropped.
        pending: list[Event | None] = []
        while not self._out_q.empty():
            ev = self._out_q.get_nowait()
            if not (isinstance(ev, ReplyAudio) and ev.turn_id == reply_turn):
                pending.append(ev)
        pb = self._playback.get(reply_turn)
        lead = self.config.duplex.playback_lead_ms * (pb.rate if pb else 0) // 1000
        heard = self._truncate(reply_turn, max(0, pb.samples - lead) if pb else 0)
        self._out_q.put_nowait(Interrupted(reply_turn, heard or ""))
        for ev in pending:
            self._out_q.put_nowait(ev)
        self._playing = None
        self._play_until = 0.0
        self.listener.strict(False)
        self._resume.set()

    def _truncate(self, turn: int, sample: int) -> str:
        ex = self._exchanges.get(turn)
        pb = self._playback.get(turn)
        if ex is None:
            return ""
        heard = cut_to_words(self._full_replies.get(turn, ex.assistant), pb.chars_at(sample) if pb else 0)
        ex.assistant = heard
        return heard

    def _is_backchannel(self, text: str) -> bool:
        key = word_key(text).replace("-", " ")
        phrases = self.config.duplex.backchannels
        # "mm mm", "yeah yeah": every word a backchannel word counts too.
        tokens = {w for p in phrases for w in p.split() if len(p.split()) == 1}
        return not key or key in phrases or all(w in tokens for w in key.split()) or self._is_own_voice(key)

    def _is_own_voice(self, key: str) -> bool:
        """All the words heard are words the assistant is saying right now: its echo, not the person."""
        if self._barge:
            reply_turn: int | None = self._barge[0]
        elif self._assistant_speaking():
            reply_turn = self._playing if self._playing is not None else self._last_reply_turn
        else:
            return False
        reply = self._full_replies.get(reply_turn, "") if reply_turn is not None else ""
        pb = self._playback.get(reply_turn) if reply_turn is not None else None
        if not reply or pb is None:
            return False
        # Words spoken in the last ~3 s of sent audio.
        recent = word_key(reply[pb.chars_at(pb.samples - 3 * pb.rate) : pb.chars_at(pb.samples) + 1]).split()
        words = key.split()
        if not words:
            return False
        # Residual echo is often misheard: a fragment ("side" from "inside") or a near miss
        # ("bye" for "by"). Three words in four that sound like the reply's are its echo; a
        # person cutting in says something else ("wait, stop the story" matches two of four).
        own = sum(any(_sounds_alike(w, r) for r in recent) for w in words)
        return own == len(words) if len(words) < 4 else own >= 0.75 * len(words)

    async def _on_listener_event(self, event: Event) -> bool:
        """Barge-in rules for one listener event; True when the event's turn is a false start to drop."""
        if isinstance(event, SpeechStarted) and self._barge is None and self._assistant_speaking():
            reply_turn = self._playing if self._playing is not None else self._last_reply_turn
            if reply_turn is not None and reply_turn not in self._cancelled:
                self._barge_start_ms, self._barge_speech_ms = event.audio_ms, 10**9
                self._pause(reply_turn, event.turn_id)
            return False
        if not self._barge or event.turn_id != self._barge[1]:
            # Not speech over a paused reply; still, what was only the reply's echo (by energy,
            # or by words that are all the reply's own) is not a request.
            return isinstance(event, TranscriptFinal) and bool(event.transcript) and (
                self._only_echo(event.echo_share) or self._is_own_voice(word_key(event.transcript)))
        if isinstance(event, SpeechStopped):
            self._barge_speech_ms = event.audio_ms - self._barge_start_ms
        if isinstance(event, TranscriptPartial):
            self._barge_partial = event.text
            if not self._is_backchannel(event.text) and not self._only_echo(self.listener.echo_share):
                self._interrupt()
        elif isinstance(event, TranscriptFinal):
            # A blip shorter than any real interruption ("stop" takes longer) is a false start,
            # whatever Whisper made of it; so is the reply's own echo.
            if self._barge_speech_ms < self.config.duplex.min_interrupt_ms or self._is_backchannel(event.transcript) \
                    or self._only_echo(event.echo_share):
                self._resume_reply()
                return True
            self._interrupt()
        return False

    def _only_echo(self, echo_share: float) -> bool:
        return echo_share >= self.config.duplex.echo_share_max

    # -- stages -------------------------------------------------------------------

    async def _understand(self) -> None:
        # Forwards the listener's events, applies the barge-in rules, and turns
        # each real final into a request.
        while (event := await self.listener.events.get()) is not None:
            false_start = await self._on_listener_event(event)
            await self._emit(event)
            if not isinstance(event, TranscriptFinal):
                continue
            if false_start or not event.nbest:
                self.clocks.pop(event.turn_id)
                continue
            try:
                u = await asyncio.get_running_loop().run_in_executor(
                    self.assistant.workers, self.assistant.understander.understand, event.nbest, self.timers)
            except Exception as err:  # one turn fails, the session lives on
                await self._emit(ErrorEvent(event.turn_id, f"understanding failed: {err}", "understand_error"))
                continue
            self.clocks[event.turn_id].mark("understood")
            slots = tuple((sl.type, sl.value) for sl in u.slots)
            await self._emit(Understood(event.turn_id, u.text, u.intent, u.confidence, u.candidates, slots, u.route))
            await self._reply_q.put(Item(event.turn_id, u))
        await self._reply_q.put(None)

    async def _respond(self) -> None:
        responder = self.assistant.responder
        while (item := await self._reply_q.get()) is not None:
            turn, u = item.turn_id, item.payload
            if turn in self._cancelled:
                continue
            clock = self.clocks[turn]
            chunker = Chunker()
            reply = ""
            offset = 0
            # The exchange goes into the history now, so an interruption can cut the
            # reply to what was heard even while it is still being written.
            ex = self.history.add(u.text) if u.nbest else None
            if ex is not None:
                self._exchanges[turn] = ex
            before = self.history.before(ex)
            cancel = self._cancel_flags.setdefault(turn, threading.Event())
            self._last_reply_turn = turn
            self._forget_turns_before(turn - self.KEEP_TURNS)

            async def put(chunk: str) -> None:
                nonlocal offset
                at = reply.find(chunk, offset)
                offset = at + len(chunk) if at >= 0 else offset
                clock.mark("first_chunk")
                await self._speech_q.put(Item(turn, SpeechChunk(chunk, max(at, 0))))

            def skill(intent: str, u: Understanding = u) -> str | None:
                return self.assistant.understander.run_skill(intent, u, self.timers)

            try:
                async for piece in iterate_in_thread(lambda c: responder.stream(u, before, c, skill), executor=self.assistant.workers):
                    if cancel.is_set():
                        break
                    if isinstance(piece, IntentChoice):
                        await self._emit(Understood(turn, u.text, piece.intent, None, u.candidates, (), u.route, "llm"))
                        continue
                    clock.mark("first_token")
                    reply += piece
                    self._set_reply(turn, reply)
                    await self._emit(ReplyTextDelta(turn, piece))
                    for chunk in chunker.push(piece):
                        await put(chunk)
            except Exception as err:
                await self._emit(ErrorEvent(turn, f"reply generation failed: {err}", "llm_error"))
                if not reply:  # say so rather than go silent
                    reply = "Sorry, something went wrong there."
                    self._set_reply(turn, reply)
                    for chunk in chunker.push(reply + " "):
                        await put(chunk)
            if turn in self._cancelled:
                continue
            for chunk in chunker.flush():
                await put(chunk)
            await self._speech_q.put(Item(turn, SpeechChunk("", last=True, reply=reply.strip())))
        await self._speech_q.put(None)

    #: Per-turn bookkeeping (playback marks, replies, cancel flags) is kept for this many
    #: recent turns; a long conversation must not grow without bound.
    KEEP_TURNS = 16

    def _forget_turns_before(self, oldest: int) -> None:
        for table in (self._playback, self._exchanges, self._full_replies, self._cancel_flags):
            for turn in [t for t in table if t < oldest]:
                del table[turn]
        self._cancelled = {t for t in self._cancelled if t >= oldest}
        self.clocks.forget_before(oldest)

    def _set_reply(self, turn: int, reply: str) -> None:
        self._full_replies[turn] = reply.strip()
        ex = self._exchanges.get(turn)
        if ex is not None and turn not in self._cancelled:
            ex.assistant = reply.strip()

    async def _speak(self) -> None:
        synth = self.assistant.synthesizer
        rate = synth.sample_rate
        duplex = self.config.duplex
        loop = asyncio.get_running_loop()
        lead = duplex.playback_lead_ms / 1000
        to_16k = soxr.ResampleStream(rate, INPUT_SAMPLE_RATE, 1, dtype="float32")
        while (item := await self._speech_q.get()) is not None:
            turn, chunk = item.turn_id, item.payload
            if turn in self._cancelled:
                continue
            clock = self.clocks[turn]
            pb = self._playback.setdefault(turn, Playback(rate))
            cancel = self._cancel_flags.setdefault(turn, threading.Event())
            if chunk.text:
                try:
                    async for frame in iterate_in_thread(lambda c: synth.frames(chunk.text, c), executor=self.assistant.workers):
                        if not self._resume.is_set():
                            await self._resume.wait()  # paused by speech over the reply
                        if cancel.is_set() or turn in self._cancelled:
                            break
                        if duplex.realtime_output:
                            if self._playing != turn or pb.samples == 0:
                                self._playing = turn
                                self._play_start = loop.time() - pb.samples / rate
                                self.listener.strict(True)
                            due = self._play_start + pb.samples / rate - lead
                            if (delay := due - loop.time()) > 0:
                                await asyncio.sleep(delay)
                            if not self._resume.is_set():
                                await self._resume.wait()
                                self._play_start = loop.time() - pb.samples / rate + lead
                            if cancel.is_set() or turn in self._cancelled:
                                break
                        clock.mark("first_audio")
                        await self._emit(ReplyAudio(turn, float_to_pcm16(frame.audio), rate))
                        if duplex.echo_suppression:
                            self.listener.echo.played(to_16k.resample_chunk(frame.audio), self.listener.position)
                        pb.samples += len(frame.audio)
                        pb.marks.append((pb.samples, chunk.offset + frame.spoken_chars))
                        self._play_until = loop.time() + lead + len(frame.audio) / rate
                except Exception as err:
                    await self._emit(ErrorEvent(turn, f"speech synthesis failed: {err}", "tts_error"))
            if chunk.last and turn not in self._cancelled:
                clock.mark("done")
                await self._emit(ReplyDone(turn, chunk.reply, clock.metrics()))
                self.clocks.pop(turn)
                if self._playing == turn:
                    self._playing = None
                    loop.call_later(max(0.0, self._play_until - loop.time()), self._maybe_relax)
        await self._out_q.put(None)

    def _maybe_relax(self) -> None:
        if not self._assistant_speaking():
            self.listener.strict(False)
