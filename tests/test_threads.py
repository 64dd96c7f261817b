"""Orchestration tests of iterate_in_thread: back-pressure, errors, early stop (no models)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from assistant.threads import iterate_in_thread


def test_orchestration_the_worker_stays_within_the_buffer_and_stops_when_the_consumer_does() -> None:
    made: list[int] = []
    stopped = threading.Event()

    def count(cancel: threading.Event) -> Iterator[int]:
        i = 0
        while not cancel.is_set():
            made.append(i)
            yield i
            i += 1
        stopped.set()

    async def run() -> list[int]:
        got = []
        async for x in iterate_in_thread(count, buffer=4):
            got.append(x)
            await asyncio.sleep(0.05)  # a slow consumer
            if len(got) == 5:
                break
        return got

    assert asyncio.run(run()) == [0, 1, 2, 3, 4]
    assert len(made) <= 5 + 4 + 2  # never far ahead of what was taken
    assert stopped.wait(2)  # the worker noticed and ended


def test_orchestration_an_error_in_the_worker_reaches_the_consumer() -> None:
    def boom(cancel: threading.Event) -> Iterator[int]:
        yield 1
        raise ValueError("model failed")

    async def run() -> list[int]:
        return [x async for x in iterate_in_thread(boom)]

    with pytest.raises(ValueError, match="model failed"):
        asyncio.run(run())
