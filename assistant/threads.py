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
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=buffer)
    cancel = threading.Event()

    def put(item: object) -> None:
        fut = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        # Wait for room so a slow consumer applies back-pressure; give up if cancelled.
        while not cancel.is_set():
            try:
                fut.result(timeout=0.1)
                return
            except TimeoutError:
                continue
        fut.cancel()

    def work() -> None:
        try:
            for item in make(cancel):
                if cancel.is_set():
                    break
                put(item)
        except BaseException as err:  # handed to the consumer
            put(err)
        finally:
            if not cancel.is_set():
                put(_DONE)

    worker = loop.run_in_executor(executor, work)
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        cancel.set()
        # Let the worker notice the cancel; don't block the loop waiting for it.
        worker.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
