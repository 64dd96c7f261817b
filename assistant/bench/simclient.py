"""A simulated voice client for benchmarks: a microphone and a speaker on a real-time clock.

It streams microphone audio in 20 ms frames at real-time pace, plays the reply
audio it receives on a playback clock (holding it while the reply is paused,
flushing it on ``interrupt`` and reporting how far it got), and can feed what it
plays back into its microphone as an echo (attenuated and delayed), as open
speakers would. It talks to a session in-process or to a server over WebSocket,
with the same code.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soxr

from ..audio import float_to_pcm16, pcm16_to_float
from ..config import INPUT_SAMPLE_RATE

FRAME = INPUT_SAMPLE_RATE // 50  # 20 ms


class Transport:
    """Where the client's audio goes and its events come from."""

    async def send_audio(self, pcm: bytes) -> None:
        raise NotImplementedError

    async def send_event(self, event: dict[str, Any]) -> None:
        raise NotImplementedError

    def events(self) -> AsyncIterator[tuple[dict[str, Any], bytes | None]]:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class InProcess(Transport):
    """A :class:`~assistant.session.Session` in this process."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def send_audio(self, pcm: bytes) -> None:
        await self.session.send_audio(pcm)

    async def send_event(self, event: dict[str, Any]) -> None:
        if event["type"] == "conversation.item.truncate":
            self.session.report_playback(event["turn_id"], event["audio_end_ms"])

    async def events(self) -> AsyncIterator[tuple[dict[str, Any], bytes | None]]:
        from ..events import ReplyAudio

        async for ev in self.session.events():
            yield ev.to_dict(), (ev.pcm if isinstance(ev, ReplyAudio) else None)

    async def close(self) -> None:
        await self.session.close()


class WebSocket(Transport):
    """A server at ``ws://host:port/ws``; binary audio frames follow their ``response.audio.delta``."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @property
    def close_code(self) -> int | None:
        """The server's close code, once the connection has closed."""
        return self.ws.close_code  # type: ignore[no-any-return]

    @classmethod
    async def connect(cls, url: str) -> WebSocket:
        from websockets.asyncio.client import connect

        return cls(await connect(url, max_size=1 << 22))

    async def send_audio(self, pcm: bytes) -> None:
        await self.ws.send(pcm)

    async def send_event(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event))

    async def events(self) -> AsyncIterator[tuple[dict[str, Any], bytes | None]]:
        from websockets.exceptions import ConnectionClosed

        header: dict[str, Any] | None = None
        try:
            async for msg in self.ws:
                if isinstance(msg, bytes):
                    yield (header or {"type": "response.audio.delta", "turn_id": -1}), msg
                    header = None
                    continue
                ev = json.loads(msg)
                if ev.get("type") == "response.audio.delta":
                    header = ev
                else:
                    yield ev, None
        except ConnectionClosed:
            return

    async def close(self) -> None:
        await self.ws.close()


@dataclass
class Received:
    """An event as the client saw it, with its arrival time (``time.perf_counter``)."""

    at: float
    event: dict[str, Any]
    samples: int = 0


@dataclass
class SimulatedClient:
    """Streams a microphone script and plays the replies; records everything it receives."""

    transport: Transport
    echo_db: float | None = None
    """Feed played audio back into the microphone at this level (dB), or not at all."""
    echo_delay_ms: float = 50.0
    room: Callable[[np.ndarray], np.ndarray] | None = None
    """Instead: the acoustic path from speaker to microphone (``rooms.RoomPath``), frame by frame."""
    out_rate: int = 22050
    log: list[Received] = field(default_factory=list)
    started: float = 0.0
    _play: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # queued speaker audio, 16 kHz
    _play_turn: int = -1
    _holding: bool = False  # the reply is paused: the speaker keeps its queue and plays nothing
    _played: dict[int, int] = field(default_factory=dict)  # turn -> output samples played
    _echo: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    audio: list[np.ndarray] = field(default_factory=list)  # reply audio received, at out_rate
    _resampler: Any = None
    _receiver: asyncio.Task[None] | None = None
    sent: int = 0
    sent_log: list[tuple[int, float]] = field(default_factory=list)  # (first sample of a frame, send time)
    closed_at: float | None = None
    """When the event stream ended (``time.perf_counter``): the server closed, or we did."""

    def sent_at(self, sample: int) -> float | None:
        """When input sample ``sample`` (of the whole stream) was sent."""
        for pos, t in reversed(self.sent_log):
            if pos <= sample:
                return t + (sample - pos) / INPUT_SAMPLE_RATE
        return None

    def sample_at(self, t: float) -> int:
        """The input sample being sent at time ``t`` (``time.perf_counter``): the inverse of :meth:`sent_at`."""
        for pos, sent in reversed(self.sent_log):
            if sent <= t:
                return pos + int((t - sent) * INPUT_SAMPLE_RATE)
        return 0

    async def start(self) -> None:
        self.started = time.perf_counter()
        self._receiver = asyncio.create_task(self._receive())

    async def _receive(self) -> None:
        try:
            await self._take_events()
        finally:
            self.closed_at = time.perf_counter()

    async def _take_events(self) -> None:
        async for ev, pcm in self.transport.events():
            now = time.perf_counter()
            if ev.get("type") == "session.created":
                self.out_rate = int(ev["output_sample_rate"])
                self._resampler = soxr.ResampleStream(self.out_rate, INPUT_SAMPLE_RATE, 1, dtype="float32")
            if pcm is not None:
                audio = pcm16_to_float(pcm)
                self.audio.append(audio)
                self.log.append(Received(now, ev, len(audio)))
                if self._resampler is None:
                    self._resampler = soxr.ResampleStream(self.out_rate, INPUT_SAMPLE_RATE, 1, dtype="float32")
                self._play = np.concatenate([self._play, self._resampler.resample_chunk(audio)])
                self._play_turn = int(ev.get("turn_id", -1))
                continue
            self.log.append(Received(now, ev))
            if ev.get("type") in ("response.paused", "response.resumed"):
                self._holding = ev["type"] == "response.paused"
            if ev.get("type") == "interrupt":
                turn = int(ev["turn_id"])
                self._play, self._holding = np.zeros(0, np.float32), False  # flush at once
                played_ms = 1000 * self._played.get(turn, 0) / INPUT_SAMPLE_RATE
                await self.transport.send_event({"type": "conversation.item.truncate", "turn_id": turn,
                                                 "audio_end_ms": played_ms})

    def speaker_tick(self) -> np.ndarray:
        """Play 20 ms from the queue (nothing while the reply is paused); return what came out
        of the speaker (16 kHz)."""
        if self._holding:
            return np.zeros(FRAME, np.float32)
        out = self._play[:FRAME]
        self._play = self._play[FRAME:]
        if len(out):
            self._played[self._play_turn] = self._played.get(self._play_turn, 0) + len(out)
        return np.pad(out, (0, FRAME - len(out)))

    async def stream(self, mic: np.ndarray) -> None:
        """Send ``mic`` (16 kHz float32) at real-time pace, adding the speaker's echo if set."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        delay = int(self.echo_delay_ms * INPUT_SAMPLE_RATE / 1000)
        gain = 10 ** (self.echo_db / 20) if self.echo_db is not None else 0.0
        for k, i in enumerate(range(0, len(mic), FRAME)):
            # Always yield: a late loop catches up in a burst of frames, and without a yield the
            # receiver could not queue the audio that arrived meanwhile; the speaker then played
            # gaps a real device's buffer would not have, and the echo's lag jumped by 40-200 ms
            # against the server's reference (three sessions at once, bench echo).
            await asyncio.sleep(max(0.0, t0 + k * FRAME / INPUT_SAMPLE_RATE - loop.time()))
            frame = np.pad(mic[i : i + FRAME], (0, max(0, FRAME - len(mic[i : i + FRAME]))))
            played = self.speaker_tick()
            if self.room is not None:
                frame = np.clip(frame + self.room(played), -1, 1)
            elif gain:
                self._echo = np.concatenate([self._echo, played * gain])
                if len(self._echo) > delay + FRAME:
                    echo = self._echo[len(self._echo) - delay - FRAME : len(self._echo) - delay]
                    frame = np.clip(frame + echo, -1, 1)
                    self._echo = self._echo[-(delay + FRAME) :]
            self.sent_log.append((self.sent, time.perf_counter()))
            self.sent += len(frame)
            await self.transport.send_audio(float_to_pcm16(frame))

    @property
    def connected(self) -> bool:
        """Events are still coming (the session or connection has not ended)."""
        return self._receiver is not None and not self._receiver.done()

    def played_samples(self, turn: int) -> int:
        return self._played.get(turn, 0)

    def playing(self) -> bool:
        return len(self._play) > 0

    async def close(self) -> None:
        await self.transport.close()
        if self._receiver:
            self._receiver.cancel()
            await asyncio.gather(self._receiver, return_exceptions=True)

    def timeline(self, origin: float) -> list[str]:
        """Every event but the audio and text deltas, each with its time from ``origin``
        (``time.perf_counter``): what was heard and decided, to read why a trial went as it did."""
        return [f"{r.at - origin:+7.2f} {r.event}" for r in self.log
                if r.event.get("type") not in ("response.audio.delta", "response.text.delta")]

    def events_of(self, kind: str, turn: int | None = None) -> list[Received]:
        return [r for r in self.log if r.event.get("type") == kind and (turn is None or r.event.get("turn_id") == turn)]
