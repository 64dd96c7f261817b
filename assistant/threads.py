"""Running blocking model calls off the event loop, including streamed ones."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


async def iterate_in_thread(
    make: Callable[[threading.Event], Iterator[T]], *, buffer: int = 64, executor: Executor | None = None
) -> AsyncIterator[T]:
    """Iterate a blocking generator in a worker thread (of ``executor``, or the loop's
    default pool), yielding its items here.

    ``make`` receives a cancel event; it is set when the consumer stops early (or
    is cancelled) so that the worker stops at its next item instead of running on.
    Exceptions raised in the worker are re-raised in the consumer.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    room = threading.Semaphore(buffer)  # back-pressure: the worker waits while the buffer is full
    cancel = threading.Event()

    def put(item: object, wait: bool = True) -> None:
        # Wait for room so a slow consumer applies back-pressure; give up if cancelled.
        while wait and not room.acquire(timeout=0.1):
            if cancel.is_set():
                return
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            cancel.set()

    def work() -> None:
        try:
            for item in make(cancel):
                if cancel.is_set():
                    break
                put(item)
        except BaseException as err:  # handed to the consumer
            put(err, wait=False)
        finally:
            if not cancel.is_set():
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
        cancel.set()
        # Let the worker notice the cancel; don't block the loop waiting for it.
        worker.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
