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

import numpy as np

from ..config import INPUT_SAMPLE_RATE


class PlayedAudio:
    """What was sent for playback, as a ring indexed by input-stream sample position."""

    def __init__(self, history_s: float = 4.0) -> None:
        self._size = int(history_s * INPUT_SAMPLE_RATE)
        self._ref = np.zeros(self._size, dtype=np.float32)
        self._ref_end = 0  # input position just past the newest reference sample

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
        right after it, so it is placed after the reference already recorded.
        """
        at = max(at, self._ref_end)
        if at > self._ref_end:  # a gap (the reply paused, or the next sentence came late): silence
            gap = np.arange(max(self._ref_end, at - self._size), at) % self._size
            self._ref[gap] = 0.0  # not the ring's audio of history_s ago
        idx = (at + np.arange(len(audio))) % self._size
        self._ref[idx] = audio
        self._ref_end = max(self._ref_end, at + len(audio))

    def reference(self, start: int, n: int) -> np.ndarray:
        """Reference samples for input positions [start, start + n) (zeros where none)."""
        pos = start + np.arange(n)
        valid = (pos >= 0) & (pos < self._ref_end) & (pos >= self._ref_end - self._size)
        out = np.zeros(n, dtype=np.float32)
        out[valid] = self._ref[pos[valid] % self._size]
        return out


class ReferenceCanceller:
    """What both echo cancellers share: the played reference, and their ERLE so far.

    ``played(audio, at)`` records reference audio (16 kHz) that started playing at
    input-stream sample ``at``; a subclass's ``process(mic, at)`` returns the residual for
    mic samples starting at ``at`` and reports each chunk to :meth:`_measured`.
    """

    def __init__(self, history_s: float) -> None:
        self._played = PlayedAudio(history_s)
        self._energy = np.zeros(2)  # microphone, residual: while cancelling

    @property
    def active(self) -> bool:
        return self._played.active

    def played(self, audio: np.ndarray, at: int) -> None:
        """Reference ``audio`` (float32, 16 kHz) was sent for playback at input position ``at``."""
        self._played.played(audio, at)

    def _measured(self, mic: np.ndarray, residual: np.ndarray) -> np.ndarray:
        self._energy += (float(mic @ mic), float(residual @ residual))
        return residual

    @property
    def erle_db(self) -> float | None:
        """Echo return loss enhancement so far (dB): how much quieter the microphone got."""
        mic, out = self._energy
        return None if mic <= 1e-9 else round(10 * float(np.log10(mic / max(out, 1e-12))), 1)


class EchoSuppressor(ReferenceCanceller):
    """Subtracts the delayed, scaled playback reference from microphone audio (the default,
    ``duplex.echo_canceller = "subtract"``; see :class:`~.aec.EchoCanceller` for rooms)."""

    def __init__(self, max_delay_ms: int = 400, history_s: float = 4.0, analysis_ms: int = 128) -> None:
        super().__init__(history_s)
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
        norms = np.maximum(np.sqrt(np.convolve(window**2, np.ones(n), "valid")[: len(corr)]), 0.01)
        score = corr / norms / (float(np.linalg.norm(mic)) + 1e-9)  # correlation coefficient per delay
        best = int(np.argmax(score))
        if score[best] < 0.5:  # no clear echo in this frame: don't learn a delay from it
            return self._delay if self._delay is not None else self.max_delay - best
        self._delay = self.max_delay - best
        return self._delay
