"""Voice activity detection and endpointing.

Two detectors, cheapest first: webrtcvad gates every frame, and the Silero VAD
(ONNX, run with onnxruntime) confirms. Speech starts only when both agree, which
keeps webrtcvad's false alarms on noise and Silero's on clicks out; once it runs,
Silero alone (with a lower threshold) decides when it stops.
The :class:`Endpointer` turns per-frame decisions into utterances with pre-roll,
a minimum length, a silence endpoint and a maximum length.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import onnxruntime as ort
import webrtcvad

from ..audio import float_to_pcm16
from ..config import INPUT_SAMPLE_RATE, VADConfig

#: Silero works on 512-sample (32 ms) frames at 16 kHz with 64 samples of context.
FRAME_SAMPLES = 512
FRAME_MS = FRAME_SAMPLES * 1000 // INPUT_SAMPLE_RATE
_CONTEXT = 64
_WEBRTC_SAMPLES = 480  # webrtcvad accepts 10/20/30 ms; it sees the last 30 ms of each frame


class SileroVAD:
    """Stateful Silero VAD v6: feed 512-sample frames, get a speech probability each."""

    def __init__(self, model_path: Path) -> None:
        opts = ort.SessionOptions()
        # One thread: a frame costs well under a millisecond and the cores are
        # needed by ASR, the LLM and TTS.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.reset()

    def reset(self) -> None:
        """Forget the recurrent state (start of a new stream)."""
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        """Speech probability of one 512-sample float32 frame."""
        x = np.concatenate([self._context, frame]).reshape(1, -1).astype(np.float32, copy=False)
        prob, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = frame[-_CONTEXT:].copy()
        return float(np.asarray(prob).reshape(-1)[0])


@dataclass(frozen=True)
class FrameDecision:
    """VAD verdict for one frame."""

    webrtc: bool
    prob: float


class EchoPresence(Protocol):
    """Whether a near-end talker is heard over the assistant's own voice (the real one is
    :class:`~.presence.NearEndPresence`)."""

    @property
    def sure(self) -> bool: ...

    @property
    def recent(self) -> bool: ...


class VoiceDetector(Protocol):
    """A per-frame speech detector for one stream (the real one is :class:`FrameVAD`)."""

    def __call__(self, frame: np.ndarray) -> FrameDecision: ...

    def reset(self) -> None: ...


class FrameVAD:
    """webrtcvad gate + Silero confirmation for one stream."""

    def __init__(self, silero_path: Path, config: VADConfig) -> None:
        self.config = config
        self._webrtc = webrtcvad.Vad(config.webrtc_mode)
        self._silero = SileroVAD(silero_path)

    def reset(self) -> None:
        self._silero.reset()

    def __call__(self, frame: np.ndarray) -> FrameDecision:
        gate = self._webrtc.is_speech(float_to_pcm16(frame[-_WEBRTC_SAMPLES:]), INPUT_SAMPLE_RATE)
        # Silero always runs so its recurrent state follows the audio.
        return FrameDecision(gate, self._silero(frame))


@dataclass(frozen=True)
class Utterance:
    """A stretch of speech found by the endpointer (times in ms of stream audio)."""

    start_ms: int
    end_ms: int
    audio: np.ndarray
    """float32 16 kHz, including pre-roll and a short tail."""
    forced: bool = False
    """True when cut by the maximum length rather than by silence."""


@dataclass(frozen=True)
class Dropped:
    """A detected start that did not last ``min_speech_ms``: noise, not an utterance."""

    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Pause:
    """Speech paused for ``tail_ms``: ``audio`` is exactly what the utterance will hold
    if the endpoint follows without more speech, so a final decode can start now.
    ``index`` counts the pauses of the stream (a release names the pause it is for)."""

    start_ms: int
    audio: np.ndarray
    index: int = 0


@dataclass(frozen=True)
class SpeechStart:
    """Speech began at ``start_ms`` (the first speech frame, before pre-roll)."""

    start_ms: int


class Endpointer:
    """Frames in, speech-start and utterance events out.

    Feed arbitrary-length float32 16 kHz chunks with :meth:`feed`; it returns the
    :class:`SpeechStart` and :class:`Utterance` events that chunk completed.
    """

    def __init__(self, vad: VoiceDetector, config: VADConfig) -> None:
        self.vad = vad
        self.config = config
        self._pending = np.zeros(0, dtype=np.float32)
        self._preroll: deque[np.ndarray] = deque(maxlen=max(1, config.preroll_ms // FRAME_MS))
        self._frames: list[np.ndarray] = []
        self._in_speech = False
        self._run = 0  # consecutive speech frames before start
        self._silence = 0  # consecutive non-speech frames inside speech
        self._speech_frames = 0
        self._start_frame = 0
        self._last_speech_frame = 0
        self._frame_index = 0
        self._tail_frames = max(1, config.tail_ms // FRAME_MS)
        self.pause_hold_ms = 0
        """When set, a pause holds the endpoint up to this long until :meth:`decide` says how long
        this pause may last (semantic turn detection: someone judges whether the person is done)."""
        self._holding = False
        self._wait_ms = 0  # the endpoint of the current pause, once decided
        self._pauses = 0
        self.silence_ends = True
        """False: only :meth:`flush` (the client's commit) or the length limit ends an utterance."""
        self.over_echo: EchoPresence | None = None
        """Set while the assistant's voice is in the room: then a near-end talker must be heard
        in the microphone for speech to start (see :meth:`_starts`)."""
        self.echo_explained = False
        """The canceller's residual is known to hold little echo (the subtraction explains it):
        over the echo the VAD's speech needs no talker check then, only its quick start. With the
        check there too, bench bargein's plain -10 dB echo missed 2 of 10 people (stop p95 734 ms)."""
        self._unconfirmed = 0  # frames in a row the VAD alone heard speech over the echo

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def in_pause(self) -> bool:
        """Inside an utterance, but the last frame was not speech."""
        return self._in_speech and self._silence > 0

    def current_audio(self) -> np.ndarray:
        """Audio of the utterance in progress (pre-roll included); empty outside speech."""
        return np.concatenate(self._frames) if self._in_speech and self._frames else np.zeros(0, np.float32)

    @property
    def holding(self) -> bool:
        """The current pause waits for :meth:`decide` (or ``pause_hold_ms``)."""
        return self._holding

    def decide(self, pause_index: int, wait_ms: int) -> list[Utterance | Dropped]:
        """Pause ``pause_index`` ends the utterance once its silence lasts ``wait_ms`` (now, if it
        already has). A decision for an older pause, or after speech resumed, changes nothing."""
        if not (self._holding and pause_index == self._pauses and self._in_speech):
            return []
        self._wait_ms = max(self.config.silence_ms, min(wait_ms, self.pause_hold_ms))
        return [self._finish(forced=False)] if self._silence * FRAME_MS >= self._wait_ms else []

    def _endpoint_ms(self) -> float:
        if not self.silence_ends:
            return float("inf")
        if not self._holding:
            return self.config.silence_ms
        return self._wait_ms or self.pause_hold_ms

    #: Speech the VAD alone hears over the echo for this long starts without the talker check,
    #: so a person the check misses is never ignored for good (AEC3's leaks last 0.2-1 s).
    UNCONFIRMED_START_MS = 1500

    def _is_speech(self, d: FrameDecision) -> bool:
        over_echo = self.over_echo
        if self._in_speech:
            # webrtcvad misses soft word endings that Silero still hears; over the echo AEC3 may
            # still be muting the talker the microphone shows.
            return d.prob >= self.config.continue_threshold or (over_echo is not None and over_echo.recent)
        heard = d.webrtc and d.prob >= self.config.speech_threshold
        if over_echo is None:
            return heard
        # What the VAD hears over the reply may be the canceller's leak: it counts only with a
        # talker in the microphone (recent), or once it has gone on long enough.
        confirmed = over_echo.recent or self.echo_explained
        self._unconfirmed = self._unconfirmed + 1 if heard and not confirmed else 0
        return heard and (confirmed or self._unconfirmed * FRAME_MS >= self.UNCONFIRMED_START_MS)

    def _starts(self) -> bool:
        """Enough speech in a row to start, or a talker the microphone is sure of over the echo
        (the VAD hears AEC3's output, which mutes a person's first 300-400 ms)."""
        return self._run * FRAME_MS >= self.config.start_ms or (self.over_echo is not None and self.over_echo.sure)

    def feed(self, audio: np.ndarray) -> list[SpeechStart | Pause | Utterance | Dropped]:
        """Process a chunk of audio; return the events it completed, in order."""
        out: list[SpeechStart | Pause | Utterance | Dropped] = []
        buf = np.concatenate([self._pending, audio.astype(np.float32, copy=False)])
        n = len(buf) // FRAME_SAMPLES
        for i in range(n):
            frame = buf[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
            ev = self._step(frame)
            if ev:
                out.extend(ev)
        self._pending = buf[n * FRAME_SAMPLES :].copy()
        return out

    def flush(self) -> list[Utterance | Dropped]:
        """End of stream (or the client's commit): close an utterance in progress."""
        return [self._finish(forced=False)] if self._in_speech else []

    def clear(self) -> list[Dropped]:
        """Forget the audio so far (the client cleared its buffer): an utterance in progress is dropped."""
        was_speech, start_ms = self._in_speech, self._start_frame * FRAME_MS
        self._pending = np.zeros(0, dtype=np.float32)
        self._preroll.clear()
        self._frames = []
        self._in_speech = self._holding = False
        self._run = self._silence = self._speech_frames = 0
        return [Dropped(start_ms, self._frame_index * FRAME_MS)] if was_speech else []

    def _step(self, frame: np.ndarray) -> list[SpeechStart | Pause | Utterance | Dropped]:
        cfg = self.config
        idx = self._frame_index
        self._frame_index += 1
        speech = self._is_speech(self.vad(frame))
        events: list[SpeechStart | Pause | Utterance | Dropped] = []
        if not self._in_speech:
            self._preroll.append(frame)
            self._run = self._run + 1 if speech else 0
            if self._starts():
                self._in_speech = True
                self._start_frame = idx - max(self._run, 1) + 1
                self._frames = list(self._preroll)
                self._preroll.clear()
                self._speech_frames = max(self._run, 1)
                self._silence = 0
                self._last_speech_frame = idx
                events.append(SpeechStart(self._start_frame * FRAME_MS))
            return events
        self._frames.append(frame)
        if speech:
            self._speech_frames += 1
            self._silence = 0
            self._last_speech_frame = idx
            self._holding = False
        else:
            self._silence += 1
            if self._silence == self._tail_frames and self._speech_frames * FRAME_MS >= self.config.min_speech_ms:
                self._pauses += 1
                self._holding, self._wait_ms = self.pause_hold_ms > cfg.silence_ms, 0
                events.append(Pause(self._start_frame * FRAME_MS, np.concatenate(self._frames), self._pauses))
        length_ms = (idx - self._start_frame + 1) * FRAME_MS
        if self._silence * FRAME_MS >= self._endpoint_ms():
            events.append(self._finish(forced=False))
        elif length_ms >= cfg.max_utterance_s * 1000:
            events.append(self._finish(forced=True))
        return events

    def _finish(self, forced: bool) -> Utterance | Dropped:
        cfg = self.config
        self._in_speech = False
        self._holding = False
        self._run = self._unconfirmed = 0
        frames = self._frames
        self._frames = []
        # Keep a short tail after the last speech frame; drop the rest of the silence.
        keep = len(frames) - max(0, self._silence - self._tail_frames)
        frames = frames[:keep]
        self._silence = 0
        end_ms = (self._last_speech_frame + 1) * FRAME_MS
        if self._speech_frames * FRAME_MS < cfg.min_speech_ms:
            return Dropped(self._start_frame * FRAME_MS, end_ms)
        audio = np.concatenate(frames) if frames else np.zeros(0, dtype=np.float32)
        return Utterance(
            start_ms=self._start_frame * FRAME_MS,
            end_ms=end_ms,
            audio=audio,
            forced=forced,
        )
