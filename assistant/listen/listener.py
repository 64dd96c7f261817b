"""The listening path: audio in, speech and transcript events out.

Two tasks joined by a queue:

- **listen**: runs the endpointer on incoming audio; opens a turn at speech start;
  asks for a partial decode every ``partial_interval_ms`` of speech; passes on the
  ``Pause`` (start the final speculatively) and the endpoint.
- **recognise**: runs the decodes in worker threads. It reads everything queued at
  once and skips partial requests that a newer request of the same turn makes
  stale, so a slow decode never builds a backlog. A final reuses the speculative
  decode started at the pause when the audio is the same, so at the endpoint the
  n-best list is usually ready or nearly so.

The session talks to it through named hooks only: :meth:`Listener.agent_speech_started`
and ``agent_speech_stopped`` (a stricter speech start applies in between, over
whatever base settings are in force), :meth:`Listener.add_echo_reference` (what was
played), :meth:`Listener.settings_changed`. A failure on one piece of audio or one
decode is that turn's ``error`` event; listening goes on.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import INPUT_SAMPLE_RATE, Config
from ..events import ErrorEvent, Event, Hypothesis, SpeechStarted, SpeechStopped, TranscriptFinal, TranscriptPartial
from ..metrics import TurnClock, TurnClocks
from .asr import LocalAgreement, Recognizer, Transcript
from .canceller import echo_canceller
from .echo import EchoChunk, OwnVoice
from .presence import NearEndPresence
from .turn_end import SmartTurn, TurnJudge, WordsCue
from .vad import Dropped, Endpointer, FrameVAD, Pause, SpeechStart, Utterance, VoiceDetector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartialRequest:
    """Decode the utterance so far for a live partial."""

    turn_id: int
    audio: np.ndarray
    audio_ms: int


@dataclass(frozen=True)
class _Decision:
    """Pause ``index`` of turn ``turn_id`` may last ``wait_ms`` before the utterance ends."""

    turn_id: int
    index: int
    wait_ms: int


@dataclass(frozen=True)
class _Control:
    """The client's word on the utterance in progress: ``commit`` (it is over) or ``clear`` (forget it)."""

    action: str


@dataclass(frozen=True)
class _Job:
    turn_id: int
    what: PartialRequest | Pause | Utterance | Dropped
    echo_share: float = 0.0


class Listener:
    """Turns a stream of 16 kHz audio into speech and transcript events.

    Feed audio with :meth:`feed` (``None`` ends the stream) and read events from
    :attr:`events`, which ends with ``None`` once the last final is out.
    ``next_turn`` hands out turn ids and ``clock`` their timing marks: the session
    owns the turns. ``vad`` replaces webrtcvad + Silero (tests use a fake).
    """

    def __init__(
        self,
        recognizer: Recognizer,
        silero_path: Path | None,
        config: Config,
        next_turn: Callable[[], int] | None = None,
        clock: Callable[[int], TurnClock] | None = None,
        executor: Executor | None = None,
        vad: VoiceDetector | None = None,
        turn_model: SmartTurn | None = None,
        words_cue: WordsCue | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.executor = executor  # where decodes run (None: the loop's default pool)
        self.config = config
        self._next_turn = next_turn or itertools.count(1).__next__
        self.clock: Callable[[int], TurnClock] = clock or TurnClocks().__getitem__
        """The timing marks of a turn (``endpoint`` and ``asr_done`` are set here)."""
        if vad is None:
            if silero_path is None:
                raise ValueError("a Listener needs the Silero model path or a vad")
            vad = FrameVAD(silero_path, config.vad)
        self._vad = vad
        self._agent_speaking = False
        self.endpointer = Endpointer(vad, config.vad)
        self.settings_changed()
        self.events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._audio_q: asyncio.Queue[np.ndarray | _Decision | _Control | None] = asyncio.Queue()
        self.turn_model = turn_model  # smart-turn; None: the words alone judge a pause
        self.words_cue = words_cue  # the learnt reading of the words; None: their rules alone
        self._judge = TurnJudge(config.turn)
        self._latest_text: dict[int, str] = {}  # turn -> its latest partial transcript
        self._judges: dict[tuple[int, int], asyncio.Task[None]] = {}  # (turn, pause audio length) -> judgement
        self._jobs: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._turn = 0
        self._position = 0  # samples consumed
        self._received = 0  # samples queued
        self._last_partial = 0
        self._waiting = False  # the recognise task is idle, waiting for a job
        self.echo = echo_canceller(config.duplex)
        self.decode_seconds = 0.0  # compute spent decoding (for the real-time factor)
        self._own_voice = OwnVoice()
        self.presence = NearEndPresence()
        self.vad_seconds = 0.0
        self.on_echo_chunk: Callable[[EchoChunk], None] | None = None
        """Called with every chunk heard while a reply's echo may be in it, before any canceller
        (``bench echo --record``: the talker check and the cancellers are tuned on replays)."""
        self.on_words_so_far: Callable[[tuple[Hypothesis, ...]], None] = lambda nbest: None
        """Called with the speculative final's n-best as soon as it is decoded, before the
        endpoint: the session re-ranks it and prefills the LLM (the request is probably complete)."""

    # -- hooks for the session ---------------------------------------------------

    def agent_speech_started(self) -> None:
        """The assistant is audible: its own voice may leak in, so speech must be surer to start."""
        self._agent_speaking = True
        self.settings_changed()

    def agent_speech_stopped(self) -> None:
        self._agent_speaking = False
        self.settings_changed()

    def add_echo_reference(self, audio: np.ndarray) -> None:
        """``audio`` (16 kHz) was just sent for playback: the echo suppressor's reference."""
        self.echo.played(audio, self._received)

    def withhold_echo_reference(self) -> None:
        """The reference not yet played (placed past the microphone's position) does not play now:
        the client holds it (a paused reply) or dropped it (an interrupted one)."""
        self.echo.withhold(self._received)

    def release_echo_reference(self) -> None:
        """The withheld reference plays from now (the paused reply resumed)."""
        self.echo.release(self._received)

    def settings_changed(self) -> None:
        """``config.vad`` changed (or the assistant started or stopped speaking): apply it, with
        the stricter start on top while the assistant speaks."""
        d, v, t = self.config.duplex, self.config.vad, self.config.turn
        self.endpointer.config = d.over_reply(v) if self._agent_speaking else v
        # Speech over the assistant's reply is a barge-in or a backchannel, never a request to wait
        # for: only a pause of the person's own turn is held.
        self.endpointer.pause_hold_ms = t.max_wait_ms if t.semantic and not self._agent_speaking else 0
        self.endpointer.silence_ends = t.silence_ends_turn
        self.endpointer.over_echo = self.presence if (
            self._agent_speaking and d.echo_suppression and d.near_end_check) else None

    @property
    def echo_share(self) -> float:
        """How surely the speech since it started was the assistant's own voice (0-1; :class:`~.echo.OwnVoice`)."""
        return self._own_voice.share(self.echo.reference)

    async def feed(self, audio: np.ndarray | None) -> None:
        """Queue audio (float32, 16 kHz mono); ``None`` ends the stream."""
        if audio is not None:
            self._received += len(audio)
        await self._audio_q.put(audio)

    async def commit(self) -> None:
        """End the utterance in progress now (after the audio already fed); with none, an
        ``error`` event (``commit_empty``)."""
        await self._audio_q.put(_Control("commit"))

    async def clear(self) -> None:
        """Forget the audio fed so far: an utterance in progress ends as a noise, with no words."""
        await self._audio_q.put(_Control("clear"))

    def stages(self) -> list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]]:
        """The two stage loops, named, for a caller that supervises its tasks (the session)."""
        return [("listen", self._listen), ("recognise", self._recognise)]

    def tasks(self, prefix: str) -> list[asyncio.Task[None]]:
        """Create the two stage tasks; the caller owns (and cancels) them."""
        return [asyncio.create_task(run(), name=f"{prefix}:{name}") for name, run in self.stages()]

    async def settled(self) -> None:
        """Wait until every queued chunk and decode request has been handled.

        Feeding a file "as fast as possible" waits on this after each chunk, so the
        stream is processed on a simulated clock (audio time advances only once the
        work for it is done) rather than racing the VAD ahead of every decode.
        """
        while not (self._audio_q.empty() and self._jobs.empty() and self._waiting
                   and all(j.done() for j in self._judges.values())):
            await asyncio.sleep(0.001)

    async def _send(self, event: Event) -> None:
        await self.events.put(event)

    # -- listen -------------------------------------------------------------------

    async def _listen(self) -> None:
        interval = self.config.asr.partial_interval_ms * INPUT_SAMPLE_RATE // 1000
        while True:
            item = await self._audio_q.get()
            t0 = time.perf_counter()
            chunk: np.ndarray | None
            found: list[SpeechStart | Pause | Utterance | Dropped]
            if isinstance(item, _Decision):  # a verdict on the current pause
                chunk = np.zeros(0, np.float32)
                found = [*self.endpointer.decide(item.index, item.wait_ms)] if item.turn_id == self._turn else []
            elif isinstance(item, _Control):
                chunk = np.zeros(0, np.float32)
                found = await self._control(item.action)
            else:
                chunk = item
                try:
                    found = self._detect(chunk)
                except Exception as err:  # one piece of audio failed: that turn's error, listening goes on
                    log.exception("voice activity detection failed")
                    found = await self._vad_failed(err)
            self.vad_seconds += time.perf_counter() - t0
            if chunk is not None:
                self._position += len(chunk)
            ep = self.endpointer
            for ev in found:
                if isinstance(ev, SpeechStart):
                    self._turn = self._next_turn()
                    self._last_partial = self._position
                    self._own_voice.speech_started(ev.start_ms * INPUT_SAMPLE_RATE // 1000)
                    await self._send(SpeechStarted(self._turn, ev.start_ms))
                elif isinstance(ev, Pause):
                    await self._jobs.put(_Job(self._turn, ev))
                else:
                    clock = self.clock(self._turn)
                    clock.mark("endpoint")
                    # How much silence (audio time) the endpoint waited after the last speech.
                    clock.info["endpoint_ms"] = float(max(0, self._position * 1000 // INPUT_SAMPLE_RATE - ev.end_ms))
                    await self._send(SpeechStopped(self._turn, ev.end_ms))
                    await self._jobs.put(_Job(self._turn, ev, self.echo_share))
            if ep.in_speech and not ep.in_pause and self._position - self._last_partial >= interval:
                self._last_partial = self._position
                ms = self._position * 1000 // INPUT_SAMPLE_RATE
                await self._jobs.put(_Job(self._turn, PartialRequest(self._turn, ep.current_audio(), ms)))
            if chunk is None:
                await self._jobs.put(None)
                return

    def _detect(self, chunk: np.ndarray | None) -> list[SpeechStart | Pause | Utterance | Dropped]:
        if chunk is None:
            return [*self.endpointer.flush()]
        talker_frames = 0
        if self.config.duplex.echo_suppression and self.echo.active:
            reference = self.echo.reference(self._position, len(chunk))
            if self.on_echo_chunk is not None:
                self.on_echo_chunk(EchoChunk(self._position, chunk, reference, self._agent_speaking))
            sure = self.presence.heard(chunk, reference)
            talker_frames = sure if self.endpointer.over_echo else 0
            chunk = self.echo.process(chunk, self._position)
            self.endpointer.echo_explained = self.echo.explains_echo
        self._own_voice.heard(chunk, self._position, talker_frames)
        return self.endpointer.feed(chunk)

    async def _control(self, action: str) -> list[SpeechStart | Pause | Utterance | Dropped]:
        if action == "clear":
            return [*self.endpointer.clear()]
        if not self.endpointer.in_speech:
            await self._send(ErrorEvent(0, "nothing to commit: no speech since the last utterance", "commit_empty"))
        return [*self.endpointer.flush()]

    async def _vad_failed(self, err: Exception) -> list[SpeechStart | Pause | Utterance | Dropped]:
        """Start the detector afresh; an utterance in progress ends as a noise with the error."""
        in_speech = self.endpointer.in_speech
        self._vad.reset()
        self.endpointer = Endpointer(self._vad, self.endpointer.config)
        self.settings_changed()
        await self._send(ErrorEvent(self._turn if in_speech else 0, f"listening failed on this audio: {err}",
                                    "vad_error"))
        return [Dropped(0, self._position * 1000 // INPUT_SAMPLE_RATE)] if in_speech else []

    # -- recognise ----------------------------------------------------------------

    async def _timed(self, fn: Callable[[np.ndarray], object], audio: np.ndarray) -> object:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        try:
            return await loop.run_in_executor(self.executor, fn, audio)
        finally:
            self.decode_seconds += loop.time() - t0

    async def _recognise(self) -> None:
        agreements: dict[int, LocalAgreement] = {}
        speculative: dict[tuple[int, int], asyncio.Task[object]] = {}
        judges = self._judges
        while True:
            self._waiting = True
            first = await self._jobs.get()
            self._waiting = False
            batch = [first]
            while not self._jobs.empty():
                batch.append(self._jobs.get_nowait())
            for i, job in enumerate(batch):
                if job is None:
                    for pending in [*speculative.values(), *judges.values()]:
                        pending.cancel()
                    await self.events.put(None)
                    return
                what = job.what
                if isinstance(what, PartialRequest):
                    if any(j is not None and j.turn_id == job.turn_id for j in batch[i + 1 :]):
                        continue  # stale: a newer request for this turn is queued
                    await self._partial(job.turn_id, what, agreements)
                elif isinstance(what, Pause):
                    key = (job.turn_id, len(what.audio))
                    speculative[key] = asyncio.create_task(self._timed(self.recognizer.final, what.audio))
                    speculative[key].add_done_callback(self._words_so_far)
                    if self.endpointer.pause_hold_ms:
                        judges[key] = asyncio.create_task(self._judge_pause(job.turn_id, what, speculative[key]))
                elif isinstance(what, Utterance):
                    key = (job.turn_id, len(what.audio))
                    reuse = speculative.pop(key) if key in speculative else None
                    self._drop_turn(job.turn_id, speculative, agreements, judges)
                    await self._final(job, what, reuse)
                else:  # Dropped: a noise, not a request; its turn closes with no words
                    self._drop_turn(job.turn_id, speculative, agreements, judges)
                    await self._send(TranscriptFinal(job.turn_id, "", (), round(float(job.echo_share), 3)))

    def _words_so_far(self, task: asyncio.Task[object]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        result = task.result()
        if isinstance(result, Transcript) and result.text:
            self.on_words_so_far(result.nbest)

    async def _partial(self, turn: int, what: PartialRequest, agreements: dict[int, LocalAgreement]) -> None:
        try:
            text = await asyncio.wait_for(self._timed(self.recognizer.partial, what.audio),
                                          self.config.asr.decode_timeout_s)
        except Exception:  # a live partial is a preview: skip it, the final still comes
            log.exception("partial decode failed (turn %d)", turn)
            return
        assert isinstance(text, str)
        if text:
            self._latest_text[turn] = text
            stable, unstable = agreements.setdefault(turn, LocalAgreement()).update(text)
            await self._send(TranscriptPartial(turn, stable, unstable, what.audio_ms))

    async def _final(self, job: _Job, what: Utterance, speculative: asyncio.Task[object] | None) -> None:
        decode = speculative if speculative is not None else self._timed(self.recognizer.final, what.audio)
        try:
            result = await asyncio.wait_for(decode, self.config.asr.decode_timeout_s)
        except Exception as err:  # this turn's error; the next utterance is heard as usual
            why = f"took over {self.config.asr.decode_timeout_s:g} s" if isinstance(err, TimeoutError) else str(err)
            log.warning("final decode failed (turn %d): %s", job.turn_id, why)
            await self._send(ErrorEvent(job.turn_id, f"speech recognition failed: {why}", "asr_error"))
            await self._send(TranscriptFinal(job.turn_id, "", (), round(float(job.echo_share), 3)))
            return
        assert isinstance(result, Transcript)
        clock = self.clock(job.turn_id)
        clock.mark("asr_done")
        clock.info["speculative_final"] = float(speculative is not None)
        await self._send(TranscriptFinal(job.turn_id, result.text, result.nbest, round(float(job.echo_share), 3)))

    def _drop_turn(self, turn: int, speculative: dict[tuple[int, int], asyncio.Task[object]],
                   agreements: dict[int, LocalAgreement], judges: dict[tuple[int, int], asyncio.Task[None]]) -> None:
        agreements.pop(turn, None)
        self._latest_text.pop(turn, None)
        for key in [k for k in speculative if k[0] == turn]:
            speculative.pop(key).cancel()
        for key in [k for k in judges if k[0] == turn]:
            judges.pop(key).cancel()

    async def _judge_pause(self, turn: int, pause: Pause, final: asyncio.Task[object]) -> None:
        """Judge whether the person is done at this pause, and so how long it may last.

        smart-turn runs on the audio while the speculative final decodes it; the verdict waits
        for both. That costs no time: the reply needs that final anyway. If judging fails, the
        pause ends the utterance at ``vad.silence_ms``, as with ``server_vad``.
        """
        wait_ms = self.config.vad.silence_ms
        try:
            loop = asyncio.get_running_loop()
            model = loop.run_in_executor(self.executor, self.turn_model.p_complete, pause.audio) \
                if self.turn_model is not None else None
            try:
                result = await asyncio.shield(final)  # the final stage may still reuse it
            except Exception:
                result = None
            model_p: float | None = None
            if model is not None:
                try:
                    model_p = await model
                except Exception:  # the words alone decide then
                    log.exception("end-of-turn model failed (turn %d)", turn)
            words = result.nbest if isinstance(result, Transcript) and result.nbest else self._latest_text.get(turn, "")
            words_p: float | None = None
            if self.words_cue is not None and not isinstance(words, str):
                try:  # one encoder pass over the n-best, while smart-turn is usually still running
                    words_p = await loop.run_in_executor(self.executor, self.words_cue.p_complete, words)
                except Exception:
                    log.exception("the words cue failed (turn %d)", turn)
            verdict = self._judge.verdict(model_p, words, self.config.vad.silence_ms, words_p)
            wait_ms = verdict.wait_ms
            self.clock(turn).info.update(turn_model_p=-1.0 if model_p is None else round(model_p, 3),
                                         turn_words_p=-1.0 if words_p is None else round(words_p, 3),
                                         turn_score=verdict.score, turn_wait_ms=float(wait_ms))
        except Exception:
            log.exception("judging the end of turn %d failed", turn)
        await self._audio_q.put(_Decision(turn, pause.index, wait_ms))
