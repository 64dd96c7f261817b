"""Orchestration tests of the outgoing queue's policy, with a stand-in client (no models)."""

from __future__ import annotations

import asyncio
import json

import pytest

from assistant.serve.dialects import AudioOut
from assistant.serve.outbox import ClientStalled, Outbox

FRAME_S = 0.02


def frame(turn: int, pcm: bytes) -> AudioOut:
    return AudioOut((json.dumps({"type": "response.audio.delta", "turn_id": turn}), pcm), FRAME_S, turn)


def test_orchestration_audio_beyond_the_cap_is_dropped_and_said_once() -> None:
    async def run() -> tuple[Outbox, list[str | bytes]]:
        sent: list[str | bytes] = []
        gate = asyncio.Event()

        async def slow_client(msg: str | bytes) -> None:
            await gate.wait()  # reads nothing until the gate opens
            sent.append(msg)

        box = Outbox(slow_client, max_audio_s=1.0, stall_s=10)
        writer = asyncio.create_task(box.run())
        kept = [box.put_audio(frame(1, b"\0" * 640)) for _ in range(200)]  # 4 s of audio
        assert sum(kept) <= 51 and box.waiting_audio_s <= 1.0  # memory stays bounded
        assert box.dropped_audio_frames >= 149
        box.put_event({"type": "response.done", "turn_id": 1})
        gate.set()
        while box.waiting_audio_s > 0 or box._queue:
            await asyncio.sleep(0.01)
        writer.cancel()
        return box, sent

    _box, sent = asyncio.run(run())
    errors = [m for m in sent if isinstance(m, str) and "audio_dropped" in m]
    assert len(errors) == 1  # one notice per run of drops, not one per frame
    assert isinstance(sent[-1], str) and "response.done" in sent[-1]  # events are never dropped


def test_orchestration_an_interrupt_removes_the_waiting_audio_of_its_turn() -> None:
    async def run() -> list[str | bytes]:
        sent: list[str | bytes] = []
        gate = asyncio.Event()

        async def client(msg: str | bytes) -> None:
            await gate.wait()
            sent.append(msg)

        box = Outbox(client, max_audio_s=5.0)
        writer = asyncio.create_task(box.run())
        for _ in range(20):
            box.put_audio(frame(1, b"\1\0" * 320))
        box.drop_audio_of(1)
        box.put_event({"type": "interrupt", "turn_id": 1, "heard_text": ""})
        box.put_audio(frame(2, b"\2\0" * 320))
        await asyncio.sleep(0)
        gate.set()
        while box._queue:
            await asyncio.sleep(0.01)
        writer.cancel()
        return sent

    sent = asyncio.run(run())
    turn1_audio = [m for m in sent if isinstance(m, bytes) and m[:1] == b"\1"]
    assert len(turn1_audio) <= 1  # at most the frame already being sent
    assert any(isinstance(m, bytes) and m[:1] == b"\2" for m in sent)


def test_orchestration_a_client_that_never_reads_is_given_up() -> None:
    async def run() -> None:
        async def never(msg: str | bytes) -> None:
            await asyncio.Event().wait()

        box = Outbox(never, stall_s=0.2)
        box.put_event({"type": "session.created", "turn_id": 0})
        with pytest.raises(ClientStalled):
            await asyncio.wait_for(box.run(), 5)

    asyncio.run(run())
