"""The playback clock: when reply audio plays, and what of it was heard.

The server cannot hear the client's speaker, but it decides when each frame
leaves: frames go out at playback pace, ``playback_lead_ms`` ahead (the client's
buffer). From that one timeline follow the pacing itself, pause and resume (the
client holds its buffer while paused, or plays it out: ``client_holds_on_pause``), the
echo reference the listener is told about (exactly what was sent, at 16 kHz),
the samples a person had heard when they cut in (what the history keeps), and
when the assistant started and stopped being audible (the listener's stricter
start applies in between).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

import numpy as np
import soxr

from ..config import INPUT_SAMPLE_RATE, DuplexConfig
from ..listen.asr import word_key
from .turns import Playback, Turn


class Ears(Protocol):
    """What the clock tells the listening path."""

    def agent_speech_started(self) -> None: ...

    def agent_speech_stopped(self) -> None: ...

    def add_echo_reference(self, audio: np.ndarray) -> None: ...

    def withhold_echo_reference(self) -> None: ...

    def release_echo_reference(self) -> None: ...


class PlaybackClock:
    """One session's output timeline (one reply plays at a time).

    ``on_audible(turn_id)`` is called when a reply becomes audible, ``on_audible(None)``
    once nothing is audible any more.
    """

    def __init__(self, rate: int, config: DuplexConfig, ears: Ears,
                 on_audible: Callable[[int | None], None] = lambda _: None) -> None:
        self.rate = rate
        self.config = config
        self._ears = ears
        self._on_audible = on_audible
        self._lead = config.playback_lead_ms / 1000
        self._to_16k = soxr.ResampleStream(rate, INPUT_SAMPLE_RATE, 1, dtype="float32")
        self._resume = asyncio.Event()
        self._resume.set()
        self._playing: Turn | None = None  # the turn whose audio is being sent
        self._last: Turn | None = None  # the turn heard last (its tail may still be playing)
        self._play_start = 0.0  # loop time at which sample 0 of the playing turn plays
        self._play_until = 0.0  # loop time when the last sent frame finishes playing
        self._paused_at = 0.0
        self._audible = False
        self._check: asyncio.TimerHandle | None = None

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    # -- state -------------------------------------------------------------------

    @property
    def speaking(self) -> bool:
        """The person can hear the assistant now (or a paused reply holds the floor)."""
        return self._playing is not None or self._now() < self._play_until

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def heard_samples(self, turn: Turn) -> int:
        """Samples of ``turn``'s reply the client had played (sent, less its buffer)."""
        pb = turn.playback
        return max(0, pb.samples - self.config.playback_lead_ms * pb.rate // 1000) if pb else 0

    def recent_words(self, turn: Turn, seconds: float = 3.0) -> list[str]:
        """Words of ``turn``'s reply sent in the last ``seconds`` of its audio."""
        pb = turn.playback
        if pb is None or not turn.reply:
            return []
        start, end = pb.chars_at(pb.samples - int(seconds * pb.rate)), pb.chars_at(pb.samples)
        return word_key(turn.reply[start : end + 1]).split()

    # -- pause and resume --------------------------------------------------------

    def pause(self) -> None:
        """Stop sending; a client that holds its buffer stops playing too."""
        if self.paused:
            return
        self._resume.clear()
        self._paused_at = self._now()
        if self.config.client_holds_on_pause:
            self._withhold()

    def resume(self) -> None:
        """Carry on: a holding client plays what it held first, everything queued plays as much
        later as the pause lasted."""
        if not self.paused:
            return
        if self.config.client_holds_on_pause:
            shift = self._now() - self._paused_at
            self._play_start += shift
            self._play_until += shift
            if self.config.echo_suppression:
                self._ears.release_echo_reference()
        self._resume.set()
        if self._playing is None and self._audible:
            self._schedule_check(self._play_until - self._now())  # a paused tail may be over

    # -- sending -----------------------------------------------------------------

    async def wait_to_send(self, turn: Turn) -> None:
        """Return when ``turn``'s next frame is due (never while paused). The caller then
        checks whether the turn is still live, sends the frame and calls :meth:`sent`."""
        pb = turn.playback or Playback(self.rate)
        turn.playback = pb
        await self._wait_resumed(pb)
        if not self.config.realtime_output:
            return
        if self._playing is not turn or pb.samples == 0:
            self._start(turn)
            self._play_start = self._now() - pb.samples / self.rate
        delay = self._play_start + pb.samples / self.rate - self._lead - self._now()
        if delay > 0:
            await asyncio.sleep(delay)
        await self._wait_resumed(pb)

    async def _wait_resumed(self, pb: Playback) -> None:
        if self._resume.is_set():
            return
        await self._resume.wait()
        if not self.config.client_holds_on_pause:
            # The client played out its buffer meanwhile: carry on from now, lead rebuilt.
            self._play_start = self._now() - pb.samples / self.rate + self._lead

    def sent(self, turn: Turn, audio: np.ndarray, spoken_chars: int) -> None:
        """A frame of ``turn``'s reply left; by its end ``spoken_chars`` of the reply were spoken."""
        if self._playing is not turn:
            self._start(turn)
        pb = turn.playback or Playback(self.rate)
        turn.playback = pb
        pb.add(len(audio), spoken_chars)
        if self.config.echo_suppression:
            self._ears.add_echo_reference(self._to_16k.resample_chunk(audio))
        self._play_until = self._now() + self._lead + len(audio) / self.rate

    def finished(self, turn: Turn) -> None:
        """``turn``'s reply is all sent; the assistant falls silent once it has played."""
        if self._playing is turn:
            self._playing = None
            self._schedule_check(self._play_until - self._now())

    def stop(self, turn: Turn) -> None:
        """``turn`` was cut: the client flushes its buffer, nothing is audible from now."""
        if self._last is turn or self._playing is turn:
            self._withhold()  # what a holding client held goes too (nothing is left past the microphone)
            self._playing = None
            self._play_until = 0.0
            self._resume.set()
            self._check_silent()

    def close(self) -> None:
        if self._check is not None:
            self._check.cancel()
        self._resume.set()

    def _withhold(self) -> None:
        if self.config.echo_suppression:
            self._ears.withhold_echo_reference()

    def _start(self, turn: Turn) -> None:
        self._playing = self._last = turn
        if not self._audible:
            self._audible = True
            self._ears.agent_speech_started()
        self._on_audible(turn.id)

    def _schedule_check(self, delay: float) -> None:
        if self._check is not None:
            self._check.cancel()
        self._check = asyncio.get_running_loop().call_later(max(0.0, delay), self._check_silent)

    def _check_silent(self) -> None:
        # A paused reply holds the floor until it resumes or is stopped.
        if self._audible and not self.speaking and not self.paused:
            self._audible = False
            self._ears.agent_speech_stopped()
            self._on_audible(None)
