"""CorePriority: speech synthesis goes first, the LLM's background work waits between its steps."""

from __future__ import annotations

import threading
import time

from assistant.cores import CorePriority


def test_a_background_step_waits_while_urgent_work_runs() -> None:
    cores = CorePriority()
    order: list[str] = []
    inside, release = threading.Event(), threading.Event()

    def synthesis() -> None:
        with cores.urgent():
            inside.set()
            release.wait(5)
            order.append("synthesis done")

    t = threading.Thread(target=synthesis)
    t.start()
    inside.wait(5)
    def token() -> None:
        with cores.step():
            order.append("token")

    stepper = threading.Thread(target=token)
    stepper.start()
    stepper.join(0.2)
    assert order == []  # the token waits
    release.set()
    t.join(5)
    stepper.join(5)
    assert order == ["synthesis done", "token"]


def test_urgent_work_lets_a_step_under_way_finish_first() -> None:
    cores = CorePriority(step_wait_s=5.0)
    order: list[str] = []
    stepping, release = threading.Event(), threading.Event()

    def token() -> None:
        with cores.step():
            stepping.set()
            release.wait(5)
            order.append("token done")

    t = threading.Thread(target=token)
    t.start()
    stepping.wait(5)
    threading.Timer(0.1, release.set).start()
    with cores.urgent():
        order.append("synthesis")
    t.join(5)
    assert order == ["token done", "synthesis"]


def test_every_wait_is_bounded() -> None:
    # A hung synthesis must not stall the LLM for good, nor a hung token the voice.
    cores = CorePriority(max_wait_s=0.05, step_wait_s=0.05)
    with cores.urgent():
        t0 = time.monotonic()
        with cores.step():
            pass
        cores.give_way()
        assert time.monotonic() - t0 < 2.0
    with cores.step():
        t0 = time.monotonic()
        with cores.urgent():
            pass
        assert time.monotonic() - t0 < 2.0
