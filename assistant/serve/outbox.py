"""The bounded queue of messages waiting to go out to one client.

A session produces reply audio at playback pace whether or not the client reads
it. A client that reads slowly, or never, must not make the server's memory grow,
nor stall the session. So every outgoing message passes through an
:class:`Outbox` with one writer task and this policy:

- reply audio waiting to be sent is capped (``max_audio_s`` seconds); frames that
  would go beyond it are dropped, newest first, and the client gets one
  ``error`` event with code ``audio_dropped`` per run of drops;
- an interruption removes the waiting audio of the turn it cancels
  (:meth:`Outbox.drop_audio_of`), so a slow client does not hear a reply that was
  already stopped;
- other events (small) are always queued, but if ``max_events`` of them are
  waiting, or one send has been blocked for ``stall_s``, the client is not
  reading: :meth:`Outbox.run` raises :class:`ClientStalled` and the connection is
  closed (1008).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..events import ErrorEvent
from .dialects import AudioOut


def _dropped_notice(turn_id: int, message: str) -> dict[str, Any]:
    return ErrorEvent(turn_id, message, "audio_dropped").to_dict()


class ClientStalled(Exception):
    """The client has stopped taking messages."""


@dataclass(frozen=True)
class _Message:
    frames: tuple[str | bytes, ...]  # an audio header and its PCM go out together
    audio_s: float = 0.0
    turn_id: int | None = None


class Outbox:
    """Outgoing messages for one connection; :meth:`run` is the only writer."""

    def __init__(self, send: Callable[[str | bytes], Awaitable[None]], max_audio_s: float = 5.0,
                 max_events: int = 1000, stall_s: float = 20.0,
                 dropped_notice: Callable[[int, str], dict[str, Any]] = _dropped_notice) -> None:
        """``dropped_notice(turn_id, message)``: the protocol's error event for dropped audio."""
        self._send = send
        self._dropped_notice = dropped_notice
        self.max_audio_s = max_audio_s
        self.max_events = max_events
        self.stall_s = stall_s
        self._queue: deque[_Message] = deque()
        self._ready = asyncio.Event()
        self._audio_s = 0.0
        self._events = 0
        self._dropping = False
        self.dropped_audio_frames = 0
        self.sent_messages = 0
        self._sending = False

    @property
    def waiting_audio_s(self) -> float:
        """Seconds of reply audio waiting to be sent."""
        return self._audio_s

    def put_event(self, event: dict[str, Any]) -> None:
        """Queue a JSON event (never blocks)."""
        self._events += 1
        self._queue.append(_Message((json.dumps(event),)))
        self._ready.set()

    def put_audio(self, audio: AudioOut) -> bool:
        """Queue a reply audio frame (with its header event, where the protocol has one); False if it was dropped."""
        seconds = audio.seconds
        if self._audio_s + seconds > self.max_audio_s:
            self.dropped_audio_frames += 1
            if not self._dropping:
                self._dropping = True
                message = (f"the client is not taking reply audio fast enough; more than "
                           f"{self.max_audio_s:g} s are waiting, newer audio is dropped")
                self.put_event(self._dropped_notice(audio.turn_id, message))
            return False
        self._dropping = False
        self._audio_s += seconds
        self._queue.append(_Message(audio.frames, seconds, audio.turn_id))
        self._ready.set()
        return True

    async def flushed(self, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until everything queued has been sent; True if it was."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (self._queue or self._sending) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        return not (self._queue or self._sending)

    def drop_audio_of(self, turn_id: int) -> None:
        """``turn_id`` was interrupted: its waiting audio goes."""
        kept = [m for m in self._queue if not (m.audio_s and m.turn_id == turn_id)]
        self._audio_s = sum(m.audio_s for m in kept)
        self._queue = deque(kept)

    async def run(self) -> None:
        """Send queued messages in order until cancelled; raises :class:`ClientStalled`."""
        while True:
            if not self._queue:
                self._ready.clear()
                await self._ready.wait()
                continue
            if self._events > self.max_events:
                raise ClientStalled(f"more than {self.max_events} events waiting")
            msg = self._queue.popleft()
            if msg.audio_s:
                self._audio_s = max(0.0, self._audio_s - msg.audio_s)
            else:
                self._events -= 1
            self._sending = True
            try:
                for frame in msg.frames:
                    try:
                        async with asyncio.timeout(self.stall_s):
                            await self._send(frame)
                    except TimeoutError:
                        raise ClientStalled(f"nothing taken for {self.stall_s:g} s") from None
            finally:
                self._sending = False
            self.sent_messages += 1
