"""WebRTC's AEC3 on the microphone: the assistant's own voice out, through a real room.

A loudspeaker in a room does not give back a delayed, scaled copy of what was played:
it gives a reverberant tail (RT60 0.2-0.8 s), a drifting device delay and clipping.
AEC3 (``pywebrtc-audio``, WebRTC's audio processing module, the canceller browsers
run) models that with an adaptive filter, a delay estimator and a residual-echo
suppressor. Its far end is exactly what the session sent for playback; the playback
lead (200 ms) and the device's own delay are left to its delay estimator. Measured on
simulated rooms (``bench echo``): 28-33 dB of echo removed where the subtraction of
:class:`~.echo.EchoSuppressor` removed 1-2 dB, at 0.3-0.6 ms per 20 ms frame on 2 cores.
"""

from __future__ import annotations

import numpy as np
from pywebrtc_audio import EchoCanceller as _AEC3

from ..config import INPUT_SAMPLE_RATE
from .echo import EchoMeter, PlayedAudio

#: AEC3 works in blocks: its output lags its input by 8 ms (measured: 128 samples at 16 kHz).
LATENCY_SAMPLES = 128


class EchoCanceller:
    """AEC3 with the playback reference; the same interface as :class:`~.echo.EchoSuppressor`."""

    def __init__(self, history_s: float = 4.0) -> None:
        self._played = PlayedAudio(history_s)
        self._aec = _AEC3(sample_rate=INPUT_SAMPLE_RATE, num_channels=1, stream_delay_ms=0)
        self.meter = EchoMeter()
        self._path_gain = 0.0  # echo power at the microphone per unit of played power
        self._far_power = 0.0  # recent played power (per sample)

    @property
    def active(self) -> bool:
        return self._played.active

    def played(self, audio: np.ndarray, at: int) -> None:
        """Reference ``audio`` (float32, 16 kHz) was sent for playback at input position ``at``."""
        self._played.played(audio, at)

    def process(self, mic: np.ndarray, at: int) -> np.ndarray:
        """``mic`` (input positions ``at`` ...) with the echo taken out, ``LATENCY_SAMPLES`` late;
        unchanged until something was played. Once it was, every frame goes through the
        canceller (switching it in and out would drop or repeat its 8 ms of buffered audio;
        with nothing playing it passes the microphone through)."""
        if not self.active or len(mic) == 0:
            return mic
        far = self._played.reference(at, len(mic))
        mic = np.ascontiguousarray(mic, dtype=np.float32)
        residual = self._aec.process(mic, far)
        self.meter.add(mic, residual)
        self._learn_path(mic, residual, far)
        return residual

    def _learn_path(self, mic: np.ndarray, residual: np.ndarray, far: np.ndarray) -> None:
        # The echo's power follows the played power through the room's gain. Learn that gain
        # only where the microphone held echo alone (the canceller took >= 90% of it out):
        # during speech AEC3 also suppresses some of the person, so "what it took" would
        # count the person as echo (measured: a person at +10 dB over the echo looked 77%
        # echo, against the 80% that marks a final as echo).
        n = len(mic)
        self._far_power = 0.8 * self._far_power + 0.2 * float(far @ far) / n  # ~100 ms memory
        m, r = float(mic @ mic) / n, float(residual @ residual) / n
        if self._far_power > 1e-7 and m > 1e-8 and r < 0.1 * m:
            self._path_gain = 0.95 * self._path_gain + 0.05 * m / self._far_power

    def echo_energy(self, mic: np.ndarray, residual: np.ndarray) -> float:
        """How much of ``mic``'s energy was the assistant's echo: the learned room gain times the
        power just played (at most all of it)."""
        return min(float(mic @ mic), self._path_gain * self._far_power * len(mic))

    @property
    def erle_db(self) -> float | None:
        """How much quieter the microphone got while the canceller worked (dB)."""
        return self.meter.erle_db
