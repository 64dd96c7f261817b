"""The official ``openai`` SDK's Realtime client against a real server on loopback, real models.

``AsyncOpenAI(base_url=..., api_key=...).realtime.connect(...)`` as a developer would
use it: a spoken turn (base64 audio in, transcript and audio out), a typed turn, an
interruption with ``response.cancel`` and ``conversation.item.truncate``, and bad events
answered with Realtime-shaped errors. The token is the SDK's API key (a bearer header).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from openai import AsyncOpenAI

from assistant import Assistant, load_audio
from assistant.audio import float_to_pcm16, resample
from assistant.serve.limits import ServerLimits
from assistant.serve.server import Server
from conftest import SAMPLES, story_bot

TOKEN = "s3cret-token"


@contextlib.asynccontextmanager
async def realtime(assistant: Assistant, api_key: str = TOKEN) -> AsyncIterator[Any]:
    """A server with a token, and the SDK's connection to it."""
    ws_server = await Server(assistant, limits=ServerLimits(token=TOKEN)).listen("127.0.0.1", 0)
    port = ws_server.sockets[0].getsockname()[1]
    client = AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=api_key)
    try:
        async with client.realtime.connect(model="assistant") as conn:
            yield conn
    finally:
        ws_server.close()
        await ws_server.wait_closed()


async def until(conn: Any, kind: str, seen: list[Any], timeout_s: float = 60) -> Any:
    """Read events (kept in ``seen``) until one of type ``kind``; returns it."""
    async with asyncio.timeout(timeout_s):
        while True:
            event = await conn.recv()
            seen.append(event)
            if event.type == kind:
                return event


def pcm24k(path: str, tail_s: float = 1.0) -> bytes:
    audio = resample(load_audio(SAMPLES / path), 16000, 24000)
    return float_to_pcm16(np.concatenate([audio, np.zeros(int(24000 * tail_s), np.float32)]))


async def send_audio(conn: Any, pcm: bytes, chunk_ms: int = 40, pace_s: float = 0.02) -> None:
    step = 24000 * 2 * chunk_ms // 1000
    for i in range(0, len(pcm), step):
        await conn.input_audio_buffer.append(audio=base64.b64encode(pcm[i : i + step]).decode())
        await asyncio.sleep(pace_s)


def audio_of(events: list[Any], response_id: str) -> bytes:
    return b"".join(base64.b64decode(e.delta) for e in events
                    if e.type == "response.output_audio.delta" and e.response_id == response_id)


def test_a_spoken_turn_through_the_openai_sdk(assistant: Assistant) -> None:
    async def run() -> list[Any]:
        seen: list[Any] = []
        async with realtime(assistant) as conn:
            created = await until(conn, "session.created", seen)
            assert created.session.audio.input.format.rate == 24000
            await send_audio(conn, pcm24k("what_time_is_it.wav"))
            await until(conn, "response.done", seen)
        return seen

    seen = asyncio.run(run())
    kinds = [e.type for e in seen]
    order = ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
             "conversation.item.input_audio_transcription.completed", "response.created",
             "response.output_audio.delta", "response.output_audio_transcript.done", "response.done"]
    assert [kinds.index(k) for k in order] == sorted(kinds.index(k) for k in order), kinds
    transcript = next(e for e in seen if e.type == "conversation.item.input_audio_transcription.completed")
    assert "time" in transcript.transcript.lower()
    done = seen[-1]
    assert done.response.status == "completed"
    spoken = done.response.output[0].content[0].transcript
    assert spoken and spoken == next(e for e in seen if e.type == "response.output_audio_transcript.done").transcript
    pcm = audio_of(seen, done.response.id)
    assert len(pcm) / 2 / 24000 > 0.5  # at least half a second of reply, at 24 kHz
    # Our extras ride along under names a stock client just passes through.
    nbest = next(e for e in seen if e.type == "assistant.input_audio_transcription.nbest")
    assert nbest.nbest and nbest.item_id == transcript.item_id


def test_a_typed_turn_in_a_text_only_session(assistant: Assistant) -> None:
    async def run() -> list[Any]:
        seen: list[Any] = []
        async with realtime(assistant) as conn:
            await until(conn, "session.created", seen)
            await conn.session.update(session={"type": "realtime", "output_modalities": ["text"],
                                               "instructions": "Keep answers short."})
            updated = await until(conn, "session.updated", seen)
            assert updated.session.output_modalities == ["text"]
            assert updated.session.instructions == "Keep answers short."
            await conn.conversation.item.create(item={
                "type": "message", "role": "user", "content": [{"type": "input_text", "text": "What is 12 times 3?"}]})
            await until(conn, "conversation.item.done", seen)
            await conn.response.create()
            await until(conn, "response.done", seen)
        return seen

    seen = asyncio.run(run())
    text = "".join(e.delta for e in seen if e.type == "response.output_text.delta")
    assert "36" in text or "thirty-six" in text.lower(), text
    assert not [e for e in seen if e.type == "response.output_audio.delta"]
    done = seen[-1]
    assert done.response.status == "completed" and done.response.output[0].content[0].text == text.strip()


def test_an_interruption_with_response_cancel_and_truncate(assistant: Assistant) -> None:
    async def run() -> tuple[list[Any], Any, Any]:
        seen: list[Any] = []
        async with realtime(story_bot(assistant)) as conn:
            await until(conn, "session.created", seen)
            await conn.conversation.item.create(item={
                "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Tell me a story."}]})
            await conn.response.create()
            first = await until(conn, "response.output_audio.delta", seen)
            await asyncio.sleep(1.0)  # about a second of the story is played
            await conn.response.cancel()
            done = await until(conn, "response.done", seen)
            await conn.conversation.item.truncate(item_id=first.item_id, content_index=0, audio_end_ms=1000)
            truncated = await until(conn, "conversation.item.truncated", seen)
            return seen, done, truncated

    seen, done, truncated = asyncio.run(run())
    assert done.response.status == "cancelled" and done.response.status_details.reason == "client_cancelled"
    assert truncated.audio_end_ms == 1000
    interrupt = next(e for e in seen if e.type == "assistant.interrupt")
    assert len(interrupt.heard_text.split()) < 40  # the story was cut, not played out


BAD_EVENTS: list[tuple[dict[str, Any], str]] = [
    ({"type": "conversation.item.delete", "item_id": "x"}, "bad_event"),
    ({"type": "input_audio_buffer.append", "audio": "%%%not base64"}, "bad_audio"),
    ({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
        "format": {"type": "audio/pcm", "rate": 11025}}}}}, "bad_setting"),
    ({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
        "format": {"type": "audio/pcmu"}}}}}, "bad_setting"),
    ({"type": "session.update", "session": {"type": "realtime", "colour": "blue"}}, "unknown_parameter"),
    ({"type": "conversation.item.truncate", "item_id": "nope", "content_index": 0, "audio_end_ms": 5}, "bad_event"),
    ({"type": "response.cancel"}, "response_cancel_not_active"),
    ({"type": "input_audio_buffer.commit"}, "input_audio_buffer_commit_empty"),
]


def test_bad_events_get_realtime_shaped_errors(assistant: Assistant) -> None:
    async def run() -> list[Any]:
        errors: list[Any] = []
        async with realtime(assistant) as conn:
            await until(conn, "session.created", [])
            for i, (event, _) in enumerate(BAD_EVENTS):
                await conn.send({**event, "event_id": f"client_{i}"})  # type: ignore[arg-type]
                errors.append(await until(conn, "error", [], 20))
        return errors

    errors = asyncio.run(run())
    assert [e.error.code for e in errors] == [code for _, code in BAD_EVENTS]
    assert all(e.error.type == "invalid_request_error" and e.error.message for e in errors)
    # The error names the client event that caused it (where the server knew it at once).
    assert [e.error.event_id for e in errors[:7]] == [f"client_{i}" for i in range(7)]


def test_a_wrong_api_key_is_refused_before_the_socket_opens(assistant: Assistant) -> None:
    async def run() -> None:
        async with realtime(assistant, api_key="wrong"):
            pass

    with pytest.raises(Exception, match="401"):
        asyncio.run(run())
