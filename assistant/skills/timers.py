"""A session's timers and alarms, which really fire: the session speaks up when one is due."""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Timer:
    """A timer or alarm owned by one session."""

    id: int
    label: str
    due: dt.datetime
    handle: asyncio.TimerHandle | None = field(default=None, repr=False)


class Timers:
    """A session's timers and alarms; ``on_fire`` is called in ``loop`` when one is due.

    Skills run in worker threads, so scheduling goes through the loop thread-safely.
    Without a loop (a plain script) timers are kept and listed but never fire.
    """

    def __init__(self, on_fire: Callable[[Timer], None] | None = None,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.on_fire = on_fire
        self.loop = loop
        self._timers: dict[int, Timer] = {}
        self._next = 1

    def add(self, label: str, due: dt.datetime) -> Timer:
        timer = Timer(self._next, label, due)
        self._next += 1
        self._timers[timer.id] = timer
        if self.loop is not None and not self.loop.is_closed():
            delay = max(0.0, (due - dt.datetime.now()).total_seconds())

            def schedule() -> None:
                if timer.id in self._timers:
                    timer.handle = self.loop.call_later(delay, self._fire, timer.id)  # type: ignore[union-attr]

            self.loop.call_soon_threadsafe(schedule)
        return timer

    def _fire(self, timer_id: int) -> None:
        timer = self._timers.pop(timer_id, None)
        if timer is not None and self.on_fire is not None:
            self.on_fire(timer)

    def list(self) -> builtins.list[Timer]:
        return sorted(self._timers.values(), key=lambda t: t.due)

    def remove(self, timer_id: int | None = None) -> builtins.list[Timer]:
        """Remove one timer, or all of them when ``timer_id`` is None; return what was removed."""
        ids = [timer_id] if timer_id is not None else list(self._timers)
        removed = [self._timers.pop(i) for i in ids if i in self._timers]
        for t in removed:
            if t.handle is not None and self.loop is not None and not self.loop.is_closed():
                self.loop.call_soon_threadsafe(t.handle.cancel)
        return removed

    def close(self) -> None:
        self.remove()
