"""WebRTC's AEC3 on the microphone: the assistant's own voice out, through a real room.

A loudspeaker in a room does not give back a delayed, scaled copy of what was played:
it gives a reverberant tail (RT60 0.2-0.8 s), a drifting device delay and clipping.
AEC3 (``pywebrtc-audio``, WebRTC's audio processing module, the canceller browsers
run) models that with an adaptive filter, a delay estimator and a residual-echo
suppressor. Its far end is exactly what the session sent for playback; the playback
lead (200 ms) and the device's own delay are left to its delay estimator. Measured on
simulated rooms (``bench echo``): 28-33 dB of echo removed where the subtraction of
:class:`~.echo.EchoSuppressor` removed 1-2 dB, at 0.3-0.6 ms per 20 ms frame on 2 cores.
``duplex.echo_canceller = "aec3"`` (``ASSISTANT_ECHO=aec3``) runs it alone; the default,
``auto`` (:mod:`.canceller`), runs it beside the subtraction and uses it wherever the
subtraction alone does not explain the echo.
"""

from __future__ import annotations

import numpy as np
from pywebrtc_audio import EchoCanceller as _AEC3

from ..config import INPUT_SAMPLE_RATE
from .echo import PlayedAudio, ReferenceCanceller

#: AEC3 works in blocks: its output lags its input by 8 ms (measured: 128 samples at 16 kHz).
LATENCY_SAMPLES = 128


class EchoCanceller(ReferenceCanceller):
    """AEC3 with the playback reference; the same interface as :class:`~.echo.EchoSuppressor`."""

    def __init__(self, history_s: float = 4.0, played: PlayedAudio | None = None) -> None:
        super().__init__(history_s, played)
        self._aec = _AEC3(sample_rate=INPUT_SAMPLE_RATE, num_channels=1, stream_delay_ms=0)

    def process(self, mic: np.ndarray, at: int) -> np.ndarray:
        """``mic`` (input positions ``at`` ...) with the echo taken out, ``LATENCY_SAMPLES`` late;
        unchanged until something was played. Once it was, every frame goes through the
        canceller (switching it in and out would drop or repeat its 8 ms of buffered audio;
        with nothing playing it passes the microphone through)."""
        if not self.active or len(mic) == 0:
            return mic
        mic = np.ascontiguousarray(mic, dtype=np.float32)
        return self._measured(mic, self._aec.process(mic, self._played.reference(at, len(mic))))
