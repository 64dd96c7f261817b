"""Running blocking model calls off the event loop, including streamed ones.

The contract of the bridge, which a session relies on to never go silent:

- the worker always delivers its end, or the error it raised, unless the consumer
  has left (then nobody is listening and the worker just stops);
- only the bridge knows when the consumer has left. The producer gets a read-only
  :class:`Cancelled` view of that and can never set it: a producer that wants to
  stop its own work (the responder stopping its LLM once a skill answered) does so
  with a signal of its own, combined with the consumer's by :class:`AnyOf`.

An earlier version handed the producer the bridge's own ``threading.Event``. The
responder set it to stop the LLM, the bridge read it as "the consumer left",
dropped the skill's reply and never delivered its end: the session waited forever.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import Protocol, TypeVar

T = TypeVar("T")
_DONE = object()


class Cancelled(Protocol):
    """A stop request that blocking code polls between items; it cannot be set through this view."""

    def is_set(self) -> bool: ...


class ReadOnly:
    """A read-only view of a ``threading.Event``."""

    __slots__ = ("_event",)

    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def is_set(self) -> bool:
        return self._event.is_set()


class AnyOf:
    """Set as soon as any of its signals is set."""

    __slots__ = ("_signals",)

    def __init__(self, *signals: Cancelled) -> None:
        self._signals = signals

    def is_set(self) -> bool:
        return any(s.is_set() for s in self._signals)


#: A signal that is never set (a call nobody will stop early).
NEVER: Cancelled = ReadOnly(threading.Event())


async def iterate_in_thread(
    make: Callable[[Cancelled], Iterator[T]], *, buffer: int = 64, executor: Executor | None = None
) -> AsyncIterator[T]:
    """Iterate a blocking generator in a worker thread (of ``executor``, or the loop's
    default pool), yielding its items here.

    ``make`` receives a read-only signal that is set when the consumer stops early (or
    is cancelled), so that the worker stops at its next item instead of running on.
    Exceptions raised in the worker are re-raised in the consumer; otherwise the
    iteration ends when the generator does.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    room = threading.Semaphore(buffer)  # back-pressure: the worker waits while the buffer is full
    consumer_left = threading.Event()  # set by this bridge only

    def put(item: object, wait: bool = True) -> None:
        # Wait for room so a slow consumer applies back-pressure; give up if it left.
        while wait and not room.acquire(timeout=0.1):
            if consumer_left.is_set():
                return
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            consumer_left.set()

    def work() -> None:
        try:
            for item in make(ReadOnly(consumer_left)):
                if consumer_left.is_set():
                    return
                put(item)
        except BaseException as err:  # handed to the consumer
            put(err, wait=False)
            return
        if not consumer_left.is_set():
            put(_DONE, wait=False)

    worker = loop.run_in_executor(executor, work)
    try:
        while True:
            item = await queue.get()
            room.release()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        consumer_left.set()
        # Let the worker notice; don't block the loop waiting for it.
        worker.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
