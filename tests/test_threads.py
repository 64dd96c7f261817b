"""Orchestration tests of iterate_in_thread: back-pressure, errors, early stop (no models)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from assistant.threads import AnyOf, Cancelled, ReadOnly, iterate_in_thread


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


def test_orchestration_a_producer_that_stops_its_own_work_still_delivers_its_last_item_and_end() -> None:
    # The responder's pattern: it stops its LLM with a signal of its own, then yields the
    # skill's reply. The bridge must deliver that reply and its end (an earlier bridge gave
    # the producer its own event, read it as "the consumer left" and went silent).
    def produce(cancel: Cancelled) -> Iterator[str]:
        own = threading.Event()
        work = AnyOf(cancel, ReadOnly(own))
        yield "intent"
        own.set()
        assert work.is_set() and not cancel.is_set()
        yield "the skill's reply"

    async def run() -> list[str]:
        return [x async for x in iterate_in_thread(produce)]

    assert asyncio.run(asyncio.wait_for(run(), 5)) == ["intent", "the skill's reply"]


def test_the_stop_view_cannot_be_set() -> None:
    view = ReadOnly(threading.Event())
    assert not hasattr(view, "set") and not view.is_set()
