"""Supervision: a stage that dies is reported, a turn that stalls is ended, nothing goes silent.

Two guards, both owned by the session:

- :func:`supervised` wraps a stage loop. An exception that escapes one (a bug: every
  stage catches what one turn can cause) is logged with its traceback and handed to
  ``on_death``; the session then says ``error`` and closes, it never hangs.
- :class:`Watchdog` knows which turns still owe a reply. If the session shows no
  progress at all (no event of any kind) for ``stall_s`` while one does, the oldest
  is given up: cancelled, with an ``error`` event. Progress anywhere counts, so a
  turn queued behind a long reply that is playing is not stalled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ..events import ErrorEvent, Event, Interrupted, ReplyDone

log = logging.getLogger(__name__)


def supervised(name: str, run: Callable[[], Coroutine[Any, Any, None]],
               on_death: Callable[[str, BaseException], None]) -> Coroutine[Any, Any, None]:
    """``run()``, with an escaping exception logged and reported instead of lost."""

    async def guard() -> None:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.exception("the %s stage failed", name)
            on_death(name, err)

    return guard()


class Watchdog:
    """Turns that still owe a reply, and when the session last showed any progress (seconds)."""

    def __init__(self, stall_s: float) -> None:
        self.stall_s = stall_s
        self._owing: dict[int, float] = {}  # turn -> when it was opened
        self._progress = 0.0

    @property
    def owing(self) -> int:
        """How many turns still owe a reply."""
        return len(self._owing)

    @property
    def check_every_s(self) -> float:
        return max(0.02, min(1.0, self.stall_s / 10))

    def opened(self, turn_id: int, now: float) -> None:
        """``turn_id`` was understood as a request (or is an announcement): it owes a reply."""
        self._owing.setdefault(turn_id, now)
        if len(self._owing) == 1:
            self._progress = now  # nothing was owed before: the wait starts now

    def saw(self, event: Event, now: float) -> None:
        """An event left the session: progress; a reply, an error or an interruption ends its turn."""
        self._progress = now
        if isinstance(event, (ReplyDone, ErrorEvent, Interrupted)):
            self._owing.pop(event.turn_id, None)

    def due(self, now: float) -> int | None:
        """The turn to give up on now, if any (the oldest owing one, after a stall)."""
        if not self._owing or now - self._progress < self.stall_s:
            return None
        turn = min(self._owing)
        del self._owing[turn]
        self._progress = now  # the next one gets a full wait of its own
        return turn
