"""Is someone in the room speaking over the reply? The raw microphone against a long-tail echo estimate.

AEC3 is what the recogniser hears, but two of its habits make it a poor judge of *whether*
a person speaks over the reply (``bench echo``'s rooms, AEC3's inputs recorded and replayed):

- In a reverberant room it leaks: in 14-29% of the loud 20 ms chunks of the RT60 0.8 s room
  (2-7% in the living room and the kitchen) it removed under 6 dB, for 0.2-1 s at a time,
  and Silero read that echo as speech at once (0.7-0.9): the reply paused on itself.
- Its double-talk suppression takes 20-50 dB off a person's first 300-400 ms, so the start
  of their speech reaches the VAD late (stops of 600-800 ms).

This looks at the microphone before any canceller. Per 20 ms frame and per band (24 bands,
150-7000 Hz) it predicts the echo's magnitude from the last 1.2 s of what was played, with
a non-negative filter per band learnt as it listens (NLMS on magnitudes: a room's tail is a
slow envelope there, and the filter needs neither phase nor an exact delay, so it neither
diverges nor cares about a drifting device delay). A frame carries a near-end talker when
half of its loud bands' energy stands 12 dB above that prediction and the room's noise
floor (or 40% of it 15.6 dB above, which is sure at once): echo alone stays near its
prediction, a person's voice is spectrally unlike the reply at that moment. While it says
so, the filter stops learning upwards (so a person does not teach it that they are echo),
for at most a second (so a louder echo path is still learnt). A weaker verdict, ``recent``
(half the energy 9.5 dB above), only lets speech the VAD hears in AEC3's output start.

Chosen on the recorded inputs of bench-echo trials replayed offline through the strict
endpointer as the listener runs it (five runs: 149 replies alone, 210 with a person at -6,
0 and +6 dB). The echo's lag jumps by 20-40 ms within a reply, and a reply's onset after
such a jump stood out of a model that read each lag exactly, while AEC3 leaked it: 2 of the
first 119 replies paused on themselves. Read with a tolerance (``JITTER``), none of the 149
did; that let the share come down from 0.7 to 0.5, and one frame standing 15.6 dB clear
(``STRONG_*``) now makes a talker sure at once. From a person's first sound to the start of
speech (audio time): p50 11-17 ms and p95 88-207 ms per run, one person in 42 over 250 ms (a
first word under a loud stretch of the echo; the second word is caught), against p50 31-38
and p95 212-359 before (four runs).
Cost: 0.11-0.18 ms per 20 ms frame (2-core AMD EPYC, four measurements).
"""

from __future__ import annotations

import itertools

import numpy as np

from ..config import INPUT_SAMPLE_RATE

#: 20 ms frames, each analysed over the 40 ms up to its end (Hann window).
HOP = INPUT_SAMPLE_RATE // 50
WINDOW = 2 * HOP


def _band_matrix(bands: int, low_hz: float, high_hz: float) -> np.ndarray:
    freqs = np.fft.rfftfreq(WINDOW, 1 / INPUT_SAMPLE_RATE)
    edges = np.geomspace(low_hz, high_hz, bands + 1)
    return np.stack([(freqs >= lo) & (freqs < hi) for lo, hi in itertools.pairwise(edges)]).astype(
        np.float32).T


class NearEndPresence:
    """Frame-by-frame verdict on a near-end talker, from the microphone and what was played there.

    :meth:`heard` takes microphone audio and the reference for the same input positions, in
    order, any length; :attr:`sure` and :attr:`recent` say what the latest frames showed.
    """

    BANDS = 24
    #: Lags of the echo model: 60 frames, 1.2 s (the RT60 0.8 s room's tail and a 150 ms device delay).
    LAGS = 60
    #: The NLMS step. 0.3 let a person the check was not yet sure of be learnt as echo within
    #: 100-200 ms (a "Go forward ten meters" over a plain -10 dB echo, bench bargein, was never
    #: heard as a talker); learning up slower than down biased the model low, and the loud
    #: onsets of the reply then stood out of it (single frames in 30 of 60 replies alone,
    #: against 8 of 60 at 0.1 both ways).
    STEP = 0.1
    #: A band carries the talker when it is this many times (magnitude) above echo and noise.
    RATIO = 4.0
    #: ... and a frame does when such bands hold this share of its loud bands' energy (0.7
    #: before ``JITTER``: a reply's onsets then needed the margin).
    SHARE = 0.5
    #: The echo's lag jumps by 20-40 ms within a reply (playback timing; bench echo's envelopes
    #: cross-correlated in 2 s windows went 45 -> 65 ms, 90 -> 130 ms), and AEC3 leaks at such a
    #: jump: the model reads the played bands at each lag as the loudest within this many frames
    #: either side, so a reply's onset after a gap is not taken for a person while AEC3 leaks it.
    #: (Found later: most of those jumps were bench echo's client letting its speaker run dry
    #: under load, since fixed; a real device's clock and buffer still move the lag a little.)
    JITTER = 2
    #: A frame with this share of its loud bands' energy this many times above echo and noise
    #: (9.5 dB) makes a talker ``recent``, not ``sure``: it only lets speech that the VAD hears in
    #: AEC3's output start. Replayed (``bench echo --replay``) on two recorded runs of 72 trials
    #: (seeds 0 and 1): people at -6 dB heard 9 and 7 of 14 at RATIO, 10 and 8 at 3, with no
    #: reply pausing on itself in 60; at 2.5, 10 and 9 of 14, but 3 and 2 of 30 replies paused
    #: on themselves (AEC3's leaks in the large reverberant room came with such frames).
    RECENT_RATIO = 3.0
    RECENT_SHARE = 0.5
    #: One frame is enough when this share of its energy stands this far above (15.6 dB).
    STRONG_RATIO = 6.0
    STRONG_SHARE = 0.4
    #: Frames in a row that make a talker sure (40 ms), and how long one stays recent (300 ms).
    SURE_RUN = 2
    RECENT_FRAMES = 15
    #: Longest stretch (frames, 1 s) the echo model is held from learning upwards.
    HOLD_FRAMES = 50

    def __init__(self) -> None:
        self._bands = _band_matrix(self.BANDS, 150.0, 7000.0)
        self._window = np.hanning(WINDOW).astype(np.float32)
        # Before any echo was heard: a generous guess (the echo 14 dB above what was played,
        # spread over the tail), which the first 200 ms of a reply learn down, so a reply's
        # first syllables are not taken for a person.
        self._filter = np.tile((0.5 * 0.9 ** np.arange(self.LAGS))[:, None], (1, self.BANDS))
        self._played = np.zeros((self.LAGS, self.BANDS))  # reference band magnitudes, newest first
        self._noise: np.ndarray | None = None
        self._mic_tail = np.zeros(WINDOW - HOP, np.float32)
        self._ref_tail = np.zeros(WINDOW - HOP, np.float32)
        self._pending_mic = np.zeros(0, np.float32)
        self._pending_ref = np.zeros(0, np.float32)
        self._run = 0  # frames in a row with a talker
        self._since = self.RECENT_FRAMES + 1  # frames since the last one with a talker
        self._held = 0  # frames the model has been held from learning upwards

    @property
    def sure(self) -> bool:
        """The latest frames carry a near-end talker, ``SURE_RUN`` in a row (or one strong frame)."""
        return self._run >= self.SURE_RUN

    @property
    def recent(self) -> bool:
        """A frame with a near-end talker came within the last ``RECENT_FRAMES``."""
        return self._since <= self.RECENT_FRAMES

    def heard(self, mic: np.ndarray, reference: np.ndarray) -> int:
        """Microphone audio and what was played for the same input positions (16 kHz float32);
        returns in how many of the frames it completed a talker was :attr:`sure`."""
        mic = np.concatenate([self._pending_mic, np.asarray(mic, np.float32)])
        ref = np.concatenate([self._pending_ref, np.asarray(reference, np.float32)])
        n = len(mic) // HOP
        sure = 0
        if n:
            mic_frames = self._magnitudes(np.concatenate([self._mic_tail, mic[: n * HOP]]), n)
            ref_frames = self._magnitudes(np.concatenate([self._ref_tail, ref[: n * HOP]]), n)
            self._mic_tail, self._ref_tail = mic[n * HOP - len(self._mic_tail) : n * HOP], ref[
                n * HOP - len(self._ref_tail) : n * HOP]
            for m, p in zip(mic_frames, ref_frames, strict=True):
                self._frame(m, p)
                sure += self.sure
        self._pending_mic, self._pending_ref = mic[n * HOP :], ref[n * HOP :]
        return sure

    def _magnitudes(self, audio: np.ndarray, n: int) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(audio, WINDOW)[::HOP][:n] * self._window
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        return np.sqrt(power @ self._bands)

    def _frame(self, m: np.ndarray, p: np.ndarray) -> None:
        self._played = np.roll(self._played, 1, axis=0)
        self._played[0] = p
        # What was played at each lag, as the loudest within JITTER frames either side.
        played = np.lib.stride_tricks.sliding_window_view(
            np.pad(self._played, ((self.JITTER, self.JITTER), (0, 0))), 2 * self.JITTER + 1, axis=0).max(axis=-1)
        # The room's noise floor per band: follows drops at once, rises ~0.9 dB/s.
        noise = m + 1e-6 if self._noise is None else self._noise
        noise = np.maximum(np.where(m < noise, 0.9 * noise + 0.1 * m, 1.002 * noise), 1e-6)
        self._noise = noise
        echo = (self._filter * played).sum(axis=0)
        loud = m > 2 * noise
        energy = np.where(loud, m * m, 0.0)
        talker = strong = hint = False
        if float((m * m).sum()) > 10 * float((noise * noise).sum()):  # 10 dB over the room's noise
            total = max(float(energy.sum()), 1e-12)
            strong = energy[m > self.STRONG_RATIO * (echo + noise)].sum() >= self.STRONG_SHARE * total
            talker = strong or energy[m > self.RATIO * (echo + noise)].sum() >= self.SHARE * total
            hint = talker or energy[m > self.RECENT_RATIO * (echo + noise)].sum() >= self.RECENT_SHARE * total
        self._run = self._run + 1 if talker else 0
        if strong:
            self._run = max(self._run, self.SURE_RUN)
        self._since = 0 if hint else self._since + 1
        error = m - echo
        if not talker:
            self._held = 0
        if talker and self._held < self.HOLD_FRAMES:
            self._held += 1
            error = np.minimum(error, 0.0)
        else:
            error = np.minimum(error, echo + 1e-4)  # near-end sound only adds: at most double the guess
        norm = (played * played).sum(axis=0) + 1e-6
        if float(played.max()) > 1e-3:
            self._filter += self.STEP * error * played / norm
            np.maximum(self._filter, 0.0, out=self._filter)
