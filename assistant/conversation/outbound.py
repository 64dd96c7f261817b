"""The session's outgoing event stream: in order, except that an interruption goes first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from ..events import Event, ReplyAudio


class EventStream:
    """Events for the client, one direction; ``live(turn_id)`` says whether a turn's audio may still leave.

    ``on_event`` sees every event as it is queued (the watchdog counts it as progress).
    """

    def __init__(self, live: Callable[[int], bool], on_event: Callable[[Event], None] = lambda _: None) -> None:
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._live = live
        self._on_event = on_event

    def emit(self, event: Event) -> None:
        self._on_event(event)
        self._queue.put_nowait(event)

    def emit_first(self, event: Event, drop_audio_of: int) -> None:
        """Queue ``event`` ahead of everything waiting, dropping the waiting audio of turn ``drop_audio_of``."""
        pending = []
        while not self._queue.empty():
            ev = self._queue.get_nowait()
            if not (isinstance(ev, ReplyAudio) and ev.turn_id == drop_audio_of):
                pending.append(ev)
        self.emit(event)
        for ev in pending:
            self._queue.put_nowait(ev)

    def end(self) -> None:
        """No more events: the stream ends once what is queued has been read."""
        self._queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while (event := await self._queue.get()) is not None:
            if isinstance(event, ReplyAudio) and not self._live(event.turn_id):
                continue  # audio of a cancelled turn never leaves, even if it was already queued
            yield event
