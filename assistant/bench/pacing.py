"""Feeding audio into a session or listener, at real-time pace or as fast as possible."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import numpy as np

from ..config import INPUT_SAMPLE_RATE


async def feed_audio(
    send: Callable[[np.ndarray], Awaitable[None]],
    audio: np.ndarray,
    *,
    realtime: bool = True,
    chunk_ms: int = 20,
) -> None:
    """Send ``audio`` in ``chunk_ms`` pieces; with ``realtime`` each piece waits for its moment.

    The schedule is kept against the loop clock, not by sleeping a fixed time per
    chunk, so slow iterations do not accumulate drift.
    """
    loop = asyncio.get_running_loop()
    step = INPUT_SAMPLE_RATE * chunk_ms // 1000
    t0 = loop.time()
    for i in range(0, len(audio), step):
        if realtime:
            due = t0 + i / INPUT_SAMPLE_RATE
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)  # let the stages run between pieces
        await send(audio[i : i + step])


def silence(seconds: float) -> np.ndarray:
    """``seconds`` of 16 kHz digital silence."""
    return np.zeros(int(INPUT_SAMPLE_RATE * seconds), dtype=np.float32)
