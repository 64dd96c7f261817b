"""Which echo canceller the listener runs, and the one that chooses between them as it listens.

Neither canceller suits every path from loudspeaker to microphone:

- Through a room (reverberation, a drifting device delay, clipping) the subtraction of one
  delay and gain takes out 0-8 dB of the echo (per 20 ms chunk, median, ``bench echo``'s five
  rooms), and Whisper hears the rest as words: it interrupted itself in every long reply.
  AEC3 takes out ~20 dB there.
- Where the echo is a plain delayed, scaled copy (a headset's leak, audio the browser's own
  canceller already cleaned, the direct path of tests/test_duplex.py), the subtraction takes out
  ~20 dB and leaves a person speaking over the reply whole. AEC3 in its first seconds suppresses
  such a person with the echo: "What time is it?" came out as "" or "of time.", "Stop." as "up."
  (tests/test_duplex.py with AEC3 alone: 6 of 32 tests failed over eight runs; with the
  subtraction, and with ``auto``, none).

``auto`` (the default) runs both (see :class:`ChosenCanceller` for when) and passes on the
subtraction's residual while it alone explains the echo (its median ERLE over the last 3 s of
echo is at least 14 dB), AEC3's otherwise. Measured per 20 ms chunk on a reply with nobody speaking, the
subtraction's median: direct echo at -10 dB 19.8 dB, at 0 dB 29.8 dB; the rooms 0.3-8.5 dB
(the small office's 0.3 m laptop path the highest). A median is robust to a person speaking
over part of the window: their chunks read ~0 dB, the echo's go on reading what they read.
In bench echo's rooms, one sitting, ``auto`` and AEC3 alone did the same: each interrupted
itself in 1 of 29 long replies (and paused in 1 and 2 others).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..config import DuplexConfig
from ..errors import AssistantError
from .aec import LATENCY_SAMPLES, EchoCanceller
from .echo import EchoSuppressor, PlayedAudio, ReferenceCanceller

CANCELLERS = ("auto", "aec3", "subtract")


def echo_canceller(config: DuplexConfig) -> ReferenceCanceller:
    """The canceller ``config.echo_canceller`` names; a clear error for an unknown name."""
    max_delay_ms = config.playback_lead_ms + 400
    if config.echo_canceller == "auto":
        return ChosenCanceller(max_delay_ms)
    if config.echo_canceller == "aec3":
        return EchoCanceller()
    if config.echo_canceller == "subtract":
        return EchoSuppressor(max_delay_ms=max_delay_ms)
    raise AssistantError(f"unknown echo canceller {config.echo_canceller!r}; choose one of {', '.join(CANCELLERS)}")


class ChosenCanceller(ReferenceCanceller):
    """AEC3 and the subtraction side by side on one played reference; the subtraction's residual
    is passed on while it alone explains the echo (see the module's notes), AEC3's otherwise.

    Both outputs are passed on ``LATENCY_SAMPLES`` late (AEC3's own lag), so that a change of
    choice neither drops nor repeats audio. AEC3 runs on every chunk (it must stay converged);
    while its residual is the one passed on, the subtraction runs only in probes of ``WINDOW``
    chunks of echo, one every ``REPROBE`` chunks, to see whether the path has changed. Cost
    per 20 ms chunk, measured on a 2-core AVX2 machine: AEC3 0.2 ms, the subtraction 0.5 ms.
    With both on every chunk (and the subtraction at its old 3.5 ms), bench echo's rooms, three
    sessions at once, interrupted themselves in 6 of 29 replies against none with AEC3 alone,
    which it never left for the subtraction there; with the subtraction at 0.5 ms, 3 of 29; with
    the probes, 2 of 30 (and 1 of 29 each, auto and AEC3 side by side). Found later: the bench's
    simulated speaker ran dry under that load, the echo's lag jumped 40-200 ms against the
    reference, and AEC3 re-learnt it each time (ERLE 4-7 dB in those replies, 33-38 without a
    jump); with the client fixed, no reply interrupted itself in two runs of 30.
    """

    #: The subtraction's median ERLE over recent echo at or above which its residual is used.
    SUBTRACT_MIN_DB = 14.0
    #: Chunks of echo the median is taken over (3 s of 20 ms chunks), and the fewest it needs.
    WINDOW = 150
    EVIDENCE = 25
    #: While AEC3's residual is used, chunks between probes of the subtraction (30 s).
    REPROBE = 1500
    #: Chunks quieter than this (mean square, about -60 dBFS) say nothing of the echo.
    QUIET = 1e-6

    def __init__(self, max_delay_ms: int, history_s: float = 4.0) -> None:
        played = PlayedAudio(history_s)
        super().__init__(history_s, played)
        self._aec = EchoCanceller(history_s, played)
        self._sub = EchoSuppressor(max_delay_ms=max_delay_ms, history_s=history_s, played=played)
        self._lag = np.zeros(LATENCY_SAMPLES, dtype=np.float32)  # the subtraction's last samples, held back
        self._erle: deque[float] = deque(maxlen=self.WINDOW)
        self._subtracting = False
        self._probe = self.WINDOW  # chunks of echo the subtraction is still to be measured on
        self._next_probe = 0  # chunks until the next probe

    @property
    def subtracting(self) -> bool:
        """The subtraction's residual is the one passed on now."""
        return self._subtracting

    @property
    def explains_echo(self) -> bool:
        """While the subtraction's residual is passed on, its measured ERLE says it holds little echo."""
        return self._subtracting

    def process(self, mic: np.ndarray, at: int) -> np.ndarray:
        """``mic`` (input positions ``at`` ...) with the echo taken out, ``LATENCY_SAMPLES`` late."""
        if not self.active or len(mic) == 0:
            return mic
        mic = np.ascontiguousarray(mic, dtype=np.float32)
        by_aec = self._aec.process(mic, at)
        if not (self._subtracting or self._probe):
            self._next_probe -= 1
            if self._next_probe <= 0:
                self._probe = self.WINDOW
            return self._measured(mic, by_aec)
        by_sub = self._sub.process(mic, at)
        energy = float(mic @ mic)
        if by_sub is not mic and energy > self.QUIET * len(mic):  # echo was there to take out
            self._erle.append(10 * float(np.log10(energy / max(float(by_sub @ by_sub), 1e-12))))
            self._subtracting = len(self._erle) >= self.EVIDENCE and float(np.median(self._erle)) >= self.SUBTRACT_MIN_DB
            self._probe = max(0, self._probe - 1)
            if not self._probe:
                self._next_probe = self.REPROBE
        held = np.concatenate([self._lag, by_sub])
        self._lag = held[len(mic):]
        return self._measured(mic, held[: len(mic)] if self._subtracting else by_aec)
