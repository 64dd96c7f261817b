"""The understand stage: what the person asked, spoken or typed, becomes a request for the reply.

Speech events come from the listener (the barge-in policy sees each one first); typed
messages come from the client and take the floor at once (a reply under way stops, as
when someone cuts in). A request is understood and handed to the reply stage, or held
until the client asks for the reply (:meth:`Intake.respond`): Realtime clients do that
with ``create_response: false`` or a message they add and answer themselves. Requests
held together become one (as when a person goes on with a request).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..events import ErrorEvent, Event, Hypothesis, TextInput, TranscriptFinal, TranscriptPartial, Understood
from ..reply.history import History
from ..understand.understander import Understanding
from .floor import Floor
from .outbound import EventStream
from .supervisor import Watchdog
from .turns import Item, Turn, TurnTable, continue_request

#: A typed message longer than this is refused (the LLM's context holds the history too).
MAX_TEXT_CHARS = 2000


@dataclass(frozen=True)
class _Typed:
    event: TextInput
    respond: bool


@dataclass(frozen=True)
class _Respond:
    """Answer the held request now."""


class Intake:
    """Turns heard and typed requests into :class:`Understanding` items for the reply stage."""

    def __init__(self, config: Config, turns: TurnTable, floor: Floor, history: History, watchdog: Watchdog,
                 out: EventStream, warm: Callable[[str], None], final_came: Callable[[], None],
                 understand: Callable[[tuple[Hypothesis, ...]], Awaitable[Understanding]],
                 for_turn: Callable[[Turn, Coroutine[Any, Any, None], str, str], Awaitable[None]],
                 put: Callable[[Item[Understanding] | None], Awaitable[None]]) -> None:
        self.config = config
        self.turns = turns
        self.floor = floor
        self.history = history
        self.watchdog = watchdog
        self.out = out
        self._warm = warm
        self._final_came = final_came
        self._understand = understand
        self._for_turn = for_turn
        self._put = put
        self._inbox: asyncio.Queue[Event | _Typed | _Respond | None] = asyncio.Queue()
        self._held: TranscriptFinal | None = None

    # -- what comes in --------------------------------------------------------------

    async def forward(self, heard: asyncio.Queue[Event | None]) -> None:
        """Pass the listener's events on, up to its ``None`` (the input ended)."""
        while True:
            event = await heard.get()
            self._inbox.put_nowait(event)
            if event is None:
                return

    def typed(self, text: str, respond: bool = True) -> int:
        """A typed request (answered now, or held when ``respond`` is False); returns its turn id."""
        turn = self.turns.open()
        self._inbox.put_nowait(_Typed(TextInput(turn.id, text), respond))
        return turn.id

    def respond(self) -> None:
        """Answer the held request (an ``error`` with ``no_request`` if none is held by then)."""
        self._inbox.put_nowait(_Respond())

    # -- the stage ------------------------------------------------------------------

    async def run(self) -> None:
        while (item := await self._inbox.get()) is not None:
            if isinstance(item, _Typed):
                self.out.emit(item.event)
                self.floor.take()
                text = item.event.text
                await self._request(TranscriptFinal(item.event.turn_id, text, (Hypothesis(text, 0.0, 1.0),)),
                                    answer=item.respond)
            elif isinstance(item, _Respond):
                await self._release()
            else:
                await self._heard(item)
        await self._put(None)

    async def _heard(self, event: Event) -> None:
        not_a_request = self.floor.heard(event)
        if isinstance(event, TranscriptFinal) and (before := self.floor.continued(event.turn_id)) is not None:
            # The person went on with the request just answered: its reply was dropped, the
            # two are one request now.
            self.history.remove(before.exchange)
            event, not_a_request = continue_request(before.request, event), False
        self.out.emit(event)
        if isinstance(event, TranscriptPartial) and len(event.stable.split()) >= 2:
            self._warm(event.stable)  # the LLM reads what was said so far
        if not isinstance(event, TranscriptFinal) or (turn := self.turns.get(event.turn_id)) is None:
            return
        if not_a_request or not event.nbest:
            turn.ended = True
            return
        self.floor.request(turn.id)
        await self._request(event, answer=self.config.turn.create_response)

    async def _request(self, final: TranscriptFinal, answer: bool) -> None:
        if (turn := self.turns.get(final.turn_id)) is None:
            return
        if not answer:
            if self._held is not None and (earlier := self.turns.get(self._held.turn_id)) is not None:
                earlier.ended = True  # it lives on in this one
            self._held = final if self._held is None else continue_request(self._held.nbest, final)
            return
        turn.request = final.nbest
        self._final_came()
        self.watchdog.opened(turn.id, asyncio.get_running_loop().time())
        await self._for_turn(turn, self._understand_turn(turn, final), "understanding failed", "understand_error")

    async def _release(self) -> None:
        held, self._held = self._held, None
        if held is None:
            self.out.emit(ErrorEvent(0, "nothing to answer: no request came since the last reply", "no_request"))
            return
        self.floor.take()
        await self._request(held, answer=True)

    async def _understand_turn(self, turn: Turn, event: TranscriptFinal) -> None:
        u = await self._understand(event.nbest)
        turn.clock.mark("understood")
        slots = tuple((sl.type, sl.value) for sl in u.slots)
        self.out.emit(Understood(turn.id, u.text, u.intent, u.confidence, u.candidates, slots, u.route))
        await self._put(Item(turn.id, u))
