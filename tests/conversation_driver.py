"""A scripted client for fake sessions: say phrase k (a tone), keep the microphone open until the turn ends."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from assistant.conversation.session import Session
from assistant.events import ErrorEvent, Event, Interrupted, ReplyDone, SpeechStarted
from fakes import silence, tone

CHUNK = 320  # 20 ms


class Driver:
    """Feeds a session at a few times real time and records every event it sends."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.events: list[Event] = []
        self._reader: asyncio.Task[None] | None = None
        self.ended = asyncio.Event()

    async def __aenter__(self) -> Driver:
        await self.session.start()
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()
        if self._reader:
            await self._reader

    async def _read(self) -> None:
        async for ev in self.session.events():
            self.events.append(ev)
        self.ended.set()

    async def feed(self, audio: np.ndarray, pace_s: float = 0.002) -> None:
        for i in range(0, len(audio), CHUNK):
            await self.session.send_audio(audio[i : i + CHUNK])
            await asyncio.sleep(pace_s)

    def of(self, kind: type[Event], turn_id: int | None = None) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind) and (turn_id is None or e.turn_id == turn_id)]

    def ends_of(self, turn_id: int) -> list[Event]:
        return [e for e in self.events if isinstance(e, (ReplyDone, ErrorEvent, Interrupted)) and e.turn_id == turn_id]

    async def say(self, k: int, timeout_s: float = 8.0) -> int | None:
        """Say phrase ``k``; return its turn id once it ended (None: no speech was detected)."""
        seen = len(self.events)
        await self.feed(np.concatenate([tone(k), silence(0.35)]))
        deadline = time.monotonic() + timeout_s
        turn: int | None = None
        while time.monotonic() < deadline:
            if turn is None:
                turn = next((e.turn_id for e in self.events[seen:] if isinstance(e, SpeechStarted)), None)
            finals = [e for e in self.events[seen:] if getattr(e, "transcript", None) is not None
                      and e.turn_id == turn]
            if turn is not None and (self.ends_of(turn) or (finals and not finals[-1].nbest)):  # type: ignore[attr-defined]
                break
            await self.feed(silence(0.02))
        await self.feed(silence(0.06), pace_s=0.02)  # the assistant falls silent (lead 20 ms) before the next request
        return turn
