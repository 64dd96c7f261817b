"""Turns: one record per turn, in a bounded table, with one cancel scope each.

A turn is everything one request brings about: its timing marks, its exchange in
the history, the reply as written, what of it was played, and the work (asyncio
tasks in this loop, blocking calls in worker threads) done for it. Cancelling a
turn is one call, :meth:`Turn.cancel`; every stage, and the event stream, asks
the same question, :meth:`TurnTable.live`, before it does anything for a turn.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from ..events import Hypothesis, TranscriptFinal
from ..metrics import TurnClock
from ..reply.history import Exchange
from ..threads import Cancelled, ReadOnly


def cut_to_words(text: str, chars: int) -> str:
    """``text`` cut at ``chars``, back to the last whole word."""
    if chars >= len(text):
        return text
    head = text[:chars]
    if not text[chars].isspace():
        head = head[: head.rfind(" ")] if " " in head else ""
    return head.strip()


P = TypeVar("P")


@dataclass(frozen=True)
class Item(Generic[P]):
    """A payload crossing a queue, stamped with its turn."""

    turn_id: int
    payload: P


def continue_request(before: tuple[Hypothesis, ...], final: TranscriptFinal) -> TranscriptFinal:
    """``final`` as the rest of the request ``before``: the earlier best text, then each hypothesis."""
    head = max(before, key=lambda h: h.posterior).text.rstrip(" .?!…") if before else ""
    nbest = tuple(Hypothesis(f"{head} {h.text}".strip(), h.logprob, h.posterior) for h in final.nbest) or before
    return replace(final, transcript=nbest[0].text if nbest else final.transcript, nbest=nbest)


@dataclass
class Playback:
    """What was sent of one turn's reply: samples, and text marks to map samples to words."""

    rate: int
    samples: int = 0
    marks: list[tuple[int, int]] = field(default_factory=list)  # (samples at frame end, reply chars)

    def add(self, samples: int, chars: int) -> None:
        """A frame of ``samples`` was sent; by its end ``chars`` of the reply were spoken."""
        self.samples += samples
        self.marks.append((self.samples, chars))

    def chars_at(self, sample: int) -> int:
        """Reply characters spoken by ``sample``."""
        chars = 0
        for end, c in self.marks:
            if end > sample:
                break
            chars = c
        return chars


@dataclass(eq=False)
class Turn:
    """One turn of the conversation and its cancel scope."""

    id: int
    clock: TurnClock = field(default_factory=TurnClock)
    exchange: Exchange | None = None
    """Its entry in the history (None for announcements, which are not part of the dialogue)."""
    request: tuple[Hypothesis, ...] = ()
    """The n-best list of what the person asked (empty for announcements)."""
    reply: str = ""
    """The reply as written so far (the history may hold less: what was heard)."""
    playback: Playback | None = None
    ended: bool = False
    """It reached ``response.done`` or an ``error`` (or was interrupted)."""
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set, repr=False)

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    @property
    def stop_signal(self) -> Cancelled:
        """What blocking work for this turn (LLM, TTS threads) polls to stop early."""
        return ReadOnly(self._stop)

    @property
    def answering(self) -> bool:
        """Its request was understood (or it is an announcement) and its reply has not ended."""
        return "understood" in self.clock.marks and not self.ended

    def cancel(self) -> bool:
        """Stop every piece of work for this turn; True the first time."""
        if self._stop.is_set():
            return False
        self._stop.set()
        self.ended = True
        for task in list(self._tasks):
            task.cancel()
        return True

    def attach(self, task: asyncio.Task[Any]) -> None:
        """``task`` works for this turn: cancelling the turn cancels it."""
        if self.cancelled:
            task.cancel()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def set_reply(self, text: str) -> None:
        """The reply written so far; the history follows it until the turn is cut."""
        self.reply = text.strip()
        if self.exchange is not None and not self.cancelled:
            self.exchange.assistant = self.reply

    def cut_to(self, sample: int) -> str:
        """Keep in the history only the words heard by ``sample`` of the reply audio; return them."""
        if self.exchange is None:
            return ""
        chars = self.playback.chars_at(sample) if self.playback else 0
        self.exchange.assistant = cut_to_words(self.reply or self.exchange.assistant, chars)
        return self.exchange.assistant


class TurnTable:
    """A session's turns by id, oldest forgotten beyond ``keep`` (a long talk stays bounded)."""

    def __init__(self, keep: int = 16) -> None:
        self.keep = keep
        self._turns: OrderedDict[int, Turn] = OrderedDict()
        self._last = 0

    def open(self) -> Turn:
        """A new turn with the next id."""
        self._last += 1
        turn = Turn(self._last)
        self._turns[turn.id] = turn
        if len(self._turns) > self.keep:
            # Forget the oldest finished turns; one still running is kept unless it is very
            # old (the watchdog ends every turn long before that).
            for old in list(self._turns.values())[: len(self._turns) - self.keep]:
                if old.ended or old.id <= self._last - 4 * self.keep:
                    old.cancel()
                    del self._turns[old.id]
        return turn

    def open_id(self) -> int:
        """:meth:`open`, for a caller that only numbers turns (the listener)."""
        return self.open().id

    def get(self, turn_id: int) -> Turn | None:
        return self._turns.get(turn_id)

    def clock(self, turn_id: int) -> TurnClock:
        """The turn's clock (a throwaway one for a turn already forgotten)."""
        turn = self._turns.get(turn_id)
        return turn.clock if turn is not None else TurnClock()

    def live(self, turn_id: int) -> bool:
        """Work for ``turn_id`` should go on: it is known and not cancelled."""
        turn = self._turns.get(turn_id)
        return turn is not None and not turn.cancelled

    def __len__(self) -> int:
        return len(self._turns)

    def __iter__(self) -> Iterator[Turn]:
        return iter(list(self._turns.values()))

    def answering(self) -> list[Turn]:
        """The turns whose reply is under way (being written, queued or played)."""
        return [t for t in self._turns.values() if t.answering]

    def cancel_all(self) -> None:
        for turn in self._turns.values():
            turn.cancel()
