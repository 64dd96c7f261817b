"""Reference-based echo suppression: take the assistant's own voice out of the microphone.

The session knows exactly what it played. When that comes back into the
microphone (speakers, no headset), it arrives late by an unknown delay and
scaled by an unknown gain. For each frame this finds the delay (cross-correlation
against the recent reference, tracked from frame to frame) and the gain (least
squares), and subtracts the scaled, delayed reference. What remains is the
person. The browser's own echo cancellation does most of the work in practice;
this is the server's safety net, so the assistant never interrupts itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..config import INPUT_SAMPLE_RATE


@dataclass(frozen=True)
class EchoChunk:
    """A chunk of microphone audio heard while echo may be in it, with what had been played for
    the same input positions (both 16 kHz float32, from input position ``at``)."""

    at: int
    mic: np.ndarray
    reference: np.ndarray
    agent_speaking: bool
    """The reply was audible then: speech had to be heard over the echo to start."""


class PlayedAudio:
    """What was sent for playback, as a ring indexed by input-stream sample position."""

    def __init__(self, history_s: float = 4.0) -> None:
        self._size = int(history_s * INPUT_SAMPLE_RATE)
        self._ref = np.zeros(self._size, dtype=np.float32)
        self._ref_end = 0  # input position just past the newest reference sample
        self._held = np.zeros(0, dtype=np.float32)  # withheld: the client holds it unplayed

    @property
    def active(self) -> bool:
        """Anything was played at all."""
        return self._ref_end > 0

    @property
    def end(self) -> int:
        """The input position just past the newest reference sample."""
        return self._ref_end

    def played(self, audio: np.ndarray, at: int) -> None:
        """Reference ``audio`` (float32, 16 kHz) was sent for playback at input position ``at``.

        Playback is continuous: audio sent while earlier audio is still queued plays
        right after it, so it is placed after the reference already recorded. Audio still
        withheld (:meth:`withhold`) and not released was dropped by the client.
        """
        self._held = self._held[:0]
        at = max(at, self._ref_end)
        if at > self._ref_end:  # a gap (the reply paused, or the next sentence came late): silence
            gap = np.arange(max(self._ref_end, at - self._size), at) % self._size
            self._ref[gap] = 0.0  # not the ring's audio of history_s ago
        idx = (at + np.arange(len(audio))) % self._size
        self._ref[idx] = audio
        self._ref_end = max(self._ref_end, at + len(audio))

    def withhold(self, after: int) -> None:
        """What was placed past input position ``after`` (the microphone's) will not play there:
        the client holds it while the reply is paused (until :meth:`release`) or dropped it. It
        leaves the reference, so that the canceller does not look for an echo that never comes
        (its double-talk suppression would take the person speaking then for it). The ring's
        own measure, not the clock's lead: a client whose speaker runs behind (bench bargein's,
        between its scripted calls) held 440 ms, not 200, and a reference that withheld 200 ms
        of it was 240 ms off the echo after the resume (the reply paused on itself again)."""
        n = max(0, min(self._ref_end - after, self._size))
        idx = (self._ref_end - n + np.arange(n)) % self._size
        self._held = self._ref[idx].copy()
        self._ref[idx] = 0.0
        self._ref_end -= n

    def release(self, at: int) -> None:
        """The withheld samples play from input position ``at`` on."""
        held = self._held
        if len(held):
            self.played(held, at)

    def reference(self, start: int, n: int) -> np.ndarray:
        """Reference samples for input positions [start, start + n) (zeros where none)."""
        pos = start + np.arange(n)
        valid = (pos >= 0) & (pos < self._ref_end) & (pos >= self._ref_end - self._size)
        out = np.zeros(n, dtype=np.float32)
        out[valid] = self._ref[pos[valid] % self._size]
        return out


class EchoMatch:
    """How surely the speech now heard is the assistant's own voice: does what the canceller
    left of it rise and fall with what was played?

    Echo, even through a room and a canceller, is a filtered copy of the reference, so its
    loudness follows the reference's syllable by syllable; a person's does not. This compares
    the two log-energy envelopes (10 ms frames, less their 150 ms average) over the speech so
    far, at the echo path's lag (the best of 0-400 ms), where echo was possible, weighted by the
    share of the residual that fell there. It does not ask how much the canceller removed,
    which AEC3 makes useless as a cue: its double-talk suppression takes 5-30 dB of a person
    speaking over the reply as well as the echo. Measured on bench echo's rooms with AEC3 (26
    speech segments): echo alone 0.36-0.78, people over the reply 0-0.49; the energy share
    removed had put the echo anywhere in 0.19-0.94 and the people in 0.01-0.66.
    """

    FRAME = INPUT_SAMPLE_RATE // 100
    MAX_LAG_FRAMES = 40
    #: The last 3 s of speech are enough to tell (and the reference ring holds 4 s).
    MAX_FRAMES = 300
    TAIL_FRAMES = 30

    def __init__(self) -> None:
        self._first = 0  # input position of the first frame kept
        self._energies: list[float] = []  # residual energy per 10 ms frame from there
        self._pending = np.zeros(0, dtype=np.float32)

    def heard(self, residual: np.ndarray, at: int) -> None:
        """Residual audio (what the VAD hears) at input positions ``at`` ...; every chunk, in order."""
        if not self._energies and not len(self._pending):
            self._first = at
        buf = np.concatenate([self._pending, residual.astype(np.float32, copy=False)])
        n = len(buf) // self.FRAME
        self._energies.extend(_frame_energies(buf[: n * self.FRAME], self.FRAME).tolist())
        self._pending = buf[n * self.FRAME :]
        self._drop(len(self._energies) - self.MAX_FRAMES)

    def speech_started(self, at: int) -> None:
        """Speech began at input position ``at`` (the VAD's start, a little before it was sure)."""
        self._drop((at - self._first) // self.FRAME)

    def _drop(self, frames: int) -> None:
        if frames > 0:
            del self._energies[:frames]
            self._first += frames * self.FRAME

    def likeness(self, reference: Callable[[int, int], np.ndarray]) -> float:
        """How closely (0-1) the residual since the speech started follows the played reference,
        at the best lag: the correlation of their envelopes where echo was possible, times the
        share of the residual's energy that fell there. 0 with under 50 ms of speech or nothing
        played."""
        n, lags = len(self._energies), self.MAX_LAG_FRAMES
        if n < 5:
            return 0.0
        ref_e = _frame_energies(reference(self._first - lags * self.FRAME, (n + lags) * self.FRAME), self.FRAME)
        res_e = np.asarray(self._energies)
        if ref_e.max() <= 1e-9 or res_e.max() <= 1e-12:
            return 0.0
        # 40 dB of range for each: silence is "quiet", not minus infinity; a step into digital
        # silence would otherwise outweigh every syllable.
        ref_env = _syllables(np.log10(ref_e + 1e-4 * ref_e.max()))
        res_env = _syllables(np.log10(res_e + 1e-4 * res_e.max()))
        # Echo is possible while something within 30 dB of the reply's peak plays and for a
        # room's tail (0.3 s) after; what the residual has outside that is nobody's echo.
        active = (ref_e > 1e-3 * ref_e.max()).astype(float)
        possible = np.convolve(active, np.ones(self.TAIL_FRAMES + 1))[: n + lags] > 0
        best = 0.0
        for lag in range(lags + 1):
            k = lags - lag  # reference frame k + i is heard with residual frame i
            mask = possible[k : k + n]
            if mask.sum() < 5:
                continue
            inside = float(res_e[mask].sum() / res_e.sum())
            a, b = res_env[mask], ref_env[k : k + n][mask]
            a, b = a - a.mean(), b - b.mean()
            denom = float(np.linalg.norm(a) * np.linalg.norm(b))
            if denom > 1e-9:
                best = max(best, inside * float(a @ b) / denom)
        return best


class OwnVoice:
    """How surely the speech now heard is the assistant's own voice (0-1): its envelope's likeness
    to what was played (:class:`EchoMatch`), or 0 where the raw microphone's talker check was
    sure of a person in it over the reply, in ``TALKER_FRAMES`` frames or more.

    The likeness alone took people for the echo: a person AEC3 muted at first and the talker
    check caught late is heard mostly as their last word and the paused reply's fading tail,
    which follows what was played (recorded bench echo trials replayed, one run: people at
    -6 dB caught 0.8-1.5 s late scored 0.29-0.71, the others 0.18-0.46; three of 14 were over
    the 0.55 bar, each heard as words, and the reply resumed over them). The talker check is
    seldom sure on echo alone (no reply paused on itself in 90 of bench echo's, three runs,
    where a sure verdict starts speech). A fourth run paused on its own echo twice in 30
    replies, and one of them, sure for a single frame, was cut by its echo heard as "All
    right." (its likeness 0.71); the late people above were sure for 1, 2 and 9 frames.
    """

    #: Frames (20 ms) the talker check must be sure in for the speech to be taken for a person.
    TALKER_FRAMES = 2

    def __init__(self) -> None:
        self._match = EchoMatch()
        self._talker = 0  # frames the talker check was sure in, since the speech started
        self._latest = 0  # ... in the latest chunk (the one a start comes in)

    def heard(self, residual: np.ndarray, at: int, talker_frames: int) -> None:
        """Every chunk, in order: what the VAD hears (input positions ``at`` ...), and in how
        many of its frames the talker check was sure of a person over the reply."""
        self._match.heard(residual, at)
        self._latest = talker_frames
        self._talker += talker_frames

    def speech_started(self, at: int) -> None:
        """Speech began at input position ``at``, in the latest chunk."""
        self._match.speech_started(at)
        self._talker = self._latest

    def share(self, reference: Callable[[int, int], np.ndarray]) -> float:
        if self._talker >= self.TALKER_FRAMES:
            return 0.0
        return self._match.likeness(reference)


def _frame_energies(audio: np.ndarray, frame: int) -> np.ndarray:
    """Energy of each whole ``frame`` of ``audio`` (its length a multiple of ``frame``)."""
    frames = audio.astype(np.float64).reshape(-1, frame)
    return np.einsum("ij,ij->i", frames, frames)


def _syllables(envelope: np.ndarray, frames: int = 15) -> np.ndarray:
    """The envelope less its 150 ms moving average: the rise and fall of syllables, without the
    slow steps (the reply paused, the person finished) that any two sounds share."""
    frames = min(frames, len(envelope))  # "same" is as long as the longer of the two
    smooth = np.convolve(envelope, np.ones(frames) / frames, mode="same")
    return envelope - smooth


class ReferenceCanceller(ABC):
    """What the echo cancellers share: the played reference, and their ERLE so far.

    ``played(audio, at)`` records reference audio (16 kHz) that started playing at
    input-stream sample ``at``; a subclass's ``process(mic, at)`` returns the residual for
    mic samples starting at ``at`` and reports each chunk to :meth:`_measured`. Cancellers
    run side by side (``canceller.ChosenCanceller``) share one ``played``.
    """

    def __init__(self, history_s: float, played: PlayedAudio | None = None) -> None:
        self._played = played if played is not None else PlayedAudio(history_s)
        self._energy = np.zeros(2)  # microphone, residual: while cancelling

    @property
    def active(self) -> bool:
        return self._played.active

    @property
    def explains_echo(self) -> bool:
        """The residual is known to hold little of the echo (measured, not assumed)."""
        return False

    def played(self, audio: np.ndarray, at: int) -> None:
        """Reference ``audio`` (float32, 16 kHz) was sent for playback at input position ``at``."""
        self._played.played(audio, at)

    def withhold(self, after: int) -> None:
        """The reference past input position ``after`` does not play there (:meth:`PlayedAudio.withhold`)."""
        self._played.withhold(after)

    def release(self, at: int) -> None:
        """What was withheld plays from input position ``at`` on."""
        self._played.release(at)

    def reference(self, start: int, n: int) -> np.ndarray:
        """What was played for input positions [start, start + n) (zeros where nothing)."""
        return self._played.reference(start, n)

    @abstractmethod
    def process(self, mic: np.ndarray, at: int) -> np.ndarray:
        """The residual of ``mic`` (input positions ``at`` ...) once the echo is taken out."""

    def _measured(self, mic: np.ndarray, residual: np.ndarray) -> np.ndarray:
        self._energy += (float(mic @ mic), float(residual @ residual))
        return residual

    @property
    def erle_db(self) -> float | None:
        """Echo return loss enhancement so far (dB): how much quieter the microphone got."""
        mic, out = self._energy
        return None if mic <= 1e-9 else round(10 * float(np.log10(mic / max(out, 1e-12))), 1)


class EchoSuppressor(ReferenceCanceller):
    """Subtracts the delayed, scaled playback reference from microphone audio
    (``duplex.echo_canceller = "subtract"``; see :class:`~.aec.EchoCanceller` for rooms, and
    :mod:`~.canceller` for the choice between them)."""

    def __init__(self, max_delay_ms: int = 400, history_s: float = 4.0, analysis_ms: int = 128,
                 played: PlayedAudio | None = None) -> None:
        super().__init__(history_s, played)
        self.max_delay = max_delay_ms * INPUT_SAMPLE_RATE // 1000
        # The delay is estimated on the last ``analysis_ms`` of microphone audio, not on one
        # short chunk: voiced speech is periodic, and a 20 ms window matches many delays.
        self._analysis = analysis_ms * INPUT_SAMPLE_RATE // 1000
        self._mic = np.zeros(0, dtype=np.float32)
        self._mic_end = 0
        self._delay: int | None = None

    def process(self, mic: np.ndarray, at: int) -> np.ndarray:
        """Residual of ``mic`` (input positions ``at`` ...) once the echo is taken out."""
        n = len(mic)
        if self._mic_end != at:  # a gap in the stream: start the history afresh
            self._mic = np.zeros(0, dtype=np.float32)
        self._mic = np.concatenate([self._mic, mic])[-self._analysis :]
        self._mic_end = at + n
        if not self.active or n == 0 or at - self.max_delay > self._played.end:
            return mic
        m = len(self._mic)
        start = at + n - m
        window = self._played.reference(start - self.max_delay, m + self.max_delay)
        if not np.any(window):
            return mic
        delay = self._find_delay(self._mic, window)
        k = self.max_delay - delay + (m - n)  # where this chunk's echo sits in the window
        ref = window[k : k + n]
        energy = float(ref @ ref)
        if energy < 1e-8:
            return mic
        gain = float(mic @ ref) / energy
        return self._measured(mic, mic if gain <= 0 else (mic - gain * ref).astype(np.float32))

    def _find_delay(self, mic: np.ndarray, window: np.ndarray) -> int:
        n = len(mic)
        size = 1 << int(np.ceil(np.log2(len(window) + n)))
        corr = np.fft.irfft(np.fft.rfft(window, size) * np.conj(np.fft.rfft(mic, size)), size)[: len(window) - n + 1]
        # corr[k] compares mic with window[k : k + n]; delay = max_delay - k.
        # A floor on the reference energy: near-silent stretches must not win by dividing by ~0.
        # (The window's energy at each offset by a running sum: np.convolve with a box of n ones
        # took 3 ms of the 3.5 ms a 20 ms chunk cost on a 2-core AVX2 machine.)
        running = np.concatenate([[0.0], np.cumsum(window.astype(np.float64) ** 2)])
        norms = np.maximum(np.sqrt(np.maximum(running[n:] - running[:-n], 0.0)[: len(corr)]), 0.01)
        score = corr / norms / (float(np.linalg.norm(mic)) + 1e-9)  # correlation coefficient per delay
        best = int(np.argmax(score))
        if score[best] < 0.5:  # no clear echo in this frame: don't learn a delay from it
            return self._delay if self._delay is not None else self.max_delay - best
        self._delay = self.max_delay - best
        return self._delay
