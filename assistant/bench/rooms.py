"""Simulated rooms for echo benchmarks: what a loudspeaker's sound becomes by the time a microphone hears it.

A :class:`RoomPath` turns the assistant's played audio, 20 ms at a time, into the echo at
the microphone: the loudspeaker's soft clipping, a device delay (40-150 ms) that drifts
as a sound card's clock does (200 ppm), the room's impulse response (the
image method, ``pyroomacoustics``, RT60 0.2-0.8 s, several sizes and distances) and quiet
room noise. The echo comes out about as loud as the reply itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import INPUT_SAMPLE_RATE


@dataclass(frozen=True)
class RoomSpec:
    """A room, where the loudspeaker and the microphone stand in it, and the device's delay."""

    dims: tuple[float, float, float]
    rt60: float
    distance: float
    delay_ms: float
    name: str = ""


#: Rooms from a small office to a reverberant hall-like kitchen; laptop to a speaker across the table.
ROOMS = (
    RoomSpec((3.5, 3.0, 2.5), 0.2, 0.3, 40, "small office, laptop"),
    RoomSpec((4.5, 4.0, 2.7), 0.35, 0.6, 70, "bedroom, desk speaker"),
    RoomSpec((6.0, 4.5, 2.8), 0.5, 1.0, 100, "living room"),
    RoomSpec((5.0, 3.5, 2.6), 0.65, 0.5, 120, "tiled kitchen"),
    RoomSpec((8.0, 6.0, 3.0), 0.8, 1.5, 150, "large reverberant room"),
)


def impulse_response(spec: RoomSpec, seed: int = 0) -> np.ndarray:
    """The room's impulse response from loudspeaker to microphone, at unit energy."""
    import pyroomacoustics as pra

    rng = np.random.default_rng(seed)
    # The randomised image sources draw from pyroomacoustics' own package-wide generator,
    # unseeded unless told: without this the same room differed from run to run (the echo
    # share of test_listener's room moved 0.45-0.55 between processes, 0 within one).
    pra.random.seed(numpy=seed, libroom=seed)
    absorption, max_order = pra.inverse_sabine(spec.rt60, list(spec.dims))
    room = pra.ShoeBox(list(spec.dims), fs=INPUT_SAMPLE_RATE, materials=pra.Material(absorption),
                       max_order=min(max_order, 24), use_rand_ism=True, max_rand_disp=0.05)
    source = np.array([rng.uniform(0.8, spec.dims[0] - 0.8 - spec.distance), rng.uniform(0.8, spec.dims[1] - 0.8),
                       1.0])
    room.add_source(list(source))
    room.add_microphone(list(source + np.array([spec.distance, 0.0, 0.1])))
    room.compute_rir()
    h = np.asarray(room.rir[0][0], dtype=np.float64)
    h = h[: int(INPUT_SAMPLE_RATE * min(1.0, 1.2 * spec.rt60 + 0.05))]  # the tail past that is below the noise
    return (h / np.sqrt(np.sum(h**2))).astype(np.float32)


class RoomPath:
    """Played audio (16 kHz float32 frames) in, the microphone's echo of it out, frame by frame."""

    def __init__(self, spec: RoomSpec, seed: int = 0, drive: float = 1.6, noise_dbfs: float = -55.0,
                 drift_ppm: float = 200.0) -> None:
        self.spec = spec
        self.drift_ppm = drift_ppm
        self.h = impulse_response(spec, seed)
        self.drive = drive
        self._rng = np.random.default_rng(seed + 1)
        self._noise = 10 ** (noise_dbfs / 20)
        self._tail = np.zeros(len(self.h) - 1, dtype=np.float32)  # the convolution's overlap
        self._line = np.zeros(int(0.3 * INPUT_SAMPLE_RATE), dtype=np.float32)  # the device's delay line
        self._n = 0

    def _delay_samples(self, n: int) -> np.ndarray:
        # The device's clock drifts against the microphone's: the delay grows by ``drift_ppm``
        # (consumer sound cards: tens to a few hundred ppm), 3 ms over a 15 s reply at 200 ppm.
        t = (self._n + np.arange(n)) / INPUT_SAMPLE_RATE
        return (self.spec.delay_ms + self.drift_ppm * 1e-3 * t) * INPUT_SAMPLE_RATE / 1000

    def __call__(self, played: np.ndarray) -> np.ndarray:
        n = len(played)
        speaker = np.tanh(self.drive * played) / np.tanh(self.drive)  # a small loudspeaker's soft clipping
        self._line = np.concatenate([self._line[n:], speaker.astype(np.float32)])
        pos = len(self._line) - n + np.arange(n) - self._delay_samples(n)
        lo = np.floor(pos).astype(int)
        frac = (pos - lo).astype(np.float32)
        delayed = self._line[lo] * (1 - frac) + self._line[np.minimum(lo + 1, len(self._line) - 1)] * frac
        wet = np.convolve(delayed, self.h)
        wet[: len(self._tail)] += self._tail[: len(wet)]
        out, rest = wet[:n], wet[n:]
        self._tail = np.concatenate([rest, np.zeros(max(0, len(self._tail) - len(rest)), np.float32)])[
            : len(self._tail)]
        self._n += n
        return (out + self._noise * self._rng.standard_normal(n)).astype(np.float32)
