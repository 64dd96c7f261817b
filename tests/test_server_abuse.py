"""A real server on loopback against bad, hostile and careless clients.

Every case ends in an error event or a clean close with a code and a reason, and
another session on the same server keeps working.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from typing import Any

import numpy as np
import pytest
from serving import next_event, running
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from assistant import Assistant, load_audio
from assistant.audio import float_to_pcm16, resample
from conftest import SAMPLES, espeak, story_bot


async def closed_with(ws: ClientConnection, timeout: float = 30) -> tuple[int | None, str]:
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    rcvd = closed.value.rcvd
    return (rcvd.code, rcvd.reason) if rcvd else (None, "")


async def spoken_turn(url: str, audio: np.ndarray) -> tuple[str, str]:
    """One real turn over its own connection: (final transcript, reply text)."""
    async with connect(url) as ws:
        await next_event(ws, "session.created")
        pcm = float_to_pcm16(np.concatenate([audio, np.zeros(16000, np.float32)]))
        for i in range(0, len(pcm), 1280):
            await ws.send(pcm[i : i + 1280])
            await asyncio.sleep(0.02)
        final = await next_event(ws, "conversation.item.input_audio_transcription.completed")
        done = await next_event(ws, "response.done")
        return final["transcript"], done["text"]


BAD_MESSAGES: list[tuple[str | bytes, str]] = [
    ("{not json", "bad_json"),
    ("[1, 2]", "bad_event"),
    ('{"type": 7}', "bad_event"),
    ('{"type": "response.cancel!"}', "bad_event"),
    ('{"type": "response.create"}', "no_request"),  # nothing is held back to answer
    ('{"type": "conversation.item.create", "item": {"role": "user", "content": [{"type": "input_audio"}]}}',
     "bad_event"),
    ('{"type": "conversation.item.create", "item": {"role": "user", "content": [{"type": "input_text", '
     '"text": " "}]}}', "bad_text"),
    ('{"type": "conversation.item.truncate", "turn_id": "one", "audio_end_ms": 10}', "bad_event"),
    ('{"type": "conversation.item.truncate", "turn_id": 1, "audio_end_ms": -5}', "bad_event"),
    ('{"type": "session.update", "session": {"nbest": "five"}}', "bad_setting"),
    ('{"type": "session.update", "session": {"silence_ms": 1e9}}', "bad_setting"),
    ('{"type": "session.update", "session": {"input_sample_rate": 12345}}', "bad_setting"),
    ('{"type": "session.update", "session": {"input_audio_format": "mulaw"}}', "bad_setting"),
    ('{"type": "input_audio_buffer.append", "audio": "%%%"}', "bad_audio"),
    (b"\x01\x02\x03", "bad_audio"),
]


def test_bad_messages_get_error_events_while_another_session_talks(assistant: Assistant) -> None:
    async def abuse(url: str) -> list[str]:
        codes = []
        async with connect(url) as ws:
            await next_event(ws, "session.created")
            for message, _ in BAD_MESSAGES:
                await ws.send(message)
                codes.append((await next_event(ws, "error", 10))["code"])
            await ws.send(json.dumps({"type": "session.update", "session": {"nbest": 3}}))
            assert (await next_event(ws, "session.updated", 10))["session"] == {"nbest": 3}
        return codes

    async def run() -> tuple[list[str], tuple[str, str]]:
        async with running(assistant) as (url, _app):
            codes, turn = await asyncio.gather(abuse(url), spoken_turn(url, load_audio(SAMPLES / "what_time_is_it.wav")))
            return codes, turn

    codes, (transcript, reply) = asyncio.run(run())
    assert codes == [code for _, code in BAD_MESSAGES]
    assert "time" in transcript.lower() and reply


def test_a_message_over_the_size_limit_closes_with_1009(assistant: Assistant) -> None:
    async def run() -> tuple[int | None, str]:
        async with running(assistant, max_message_bytes=4096) as (url, _):
            async with connect(url) as ws:
                await next_event(ws, "session.created")
                await ws.send(b"\0" * 8192)
                return await closed_with(ws)

    code, _ = asyncio.run(run())
    assert code == 1009


def test_an_event_flood_is_refused_then_closed_with_1008(assistant: Assistant) -> None:
    async def run() -> tuple[list[str], tuple[int | None, str]]:
        async with running(assistant, messages_per_s=5, messages_burst=5, flood_close_after=50) as (url, _app):
            async with connect(url) as ws:
                await next_event(ws, "session.created")
                for _ in range(300):
                    await ws.send('{"type": "conversation.item.truncate", "turn_id": 1, "audio_end_ms": 0}')
                errors: list[str] = []
                with contextlib.suppress(ConnectionClosed):
                    while True:
                        msg = await asyncio.wait_for(ws.recv(), 10)
                        if isinstance(msg, str) and json.loads(msg)["type"] == "error":
                            errors.append(json.loads(msg)["code"])
                assert ws.close_code is not None
                return errors, (ws.close_code, ws.close_reason or "")

    errors, (code, reason) = asyncio.run(run())
    assert errors == ["rate_limited"]  # said once, not once per refused message
    assert code == 1008 and "too many messages" in reason


def test_audio_much_faster_than_real_time_is_refused(assistant: Assistant) -> None:
    async def run() -> dict[str, Any]:
        async with running(assistant, audio_speed=2.0, audio_burst_s=1.0) as (url, _):
            async with connect(url) as ws:
                await next_event(ws, "session.created")
                await ws.send(b"\0" * 64000)  # 2 s of audio at once, over the 1 s burst
                return await next_event(ws, "error", 10)

    assert asyncio.run(run())["code"] == "audio_too_fast"


def test_an_idle_session_is_closed(assistant: Assistant) -> None:
    async def run() -> tuple[int | None, str]:
        async with running(assistant, idle_timeout_s=0.5) as (url, app):
            async with connect(url) as ws:
                await next_event(ws, "session.created")
                result = await closed_with(ws, 10)
            await asyncio.sleep(0.1)
            assert app.active == 0
            return result

    code, reason = asyncio.run(run())
    assert code == 1000 and "idle" in reason


def test_only_the_pages_own_origin_or_listed_origins_may_connect(assistant: Assistant) -> None:
    async def run() -> None:
        async with running(assistant, allowed_origins=("https://app.example",)) as (url, _):
            own = url.replace("ws://", "http://").removesuffix("/ws")
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, origin="https://evil.example"):  # type: ignore[arg-type]
                    pass
            assert refused.value.response.status_code == 403
            for origin in (own, "https://app.example", None):
                async with connect(url, origin=origin) as ws:  # type: ignore[arg-type]
                    await next_event(ws, "session.created")

    asyncio.run(run())


def test_audio_after_the_end_of_input_is_an_error_not_a_crash(assistant: Assistant) -> None:
    async def run() -> dict[str, Any]:
        async with running(assistant) as (url, _):
            async with connect(url) as ws:
                await next_event(ws, "session.created")
                await ws.send(json.dumps({"type": "input_audio_buffer.end"}))
                await ws.send(b"\0\0" * 320)
                return await next_event(ws, "error", 10)

    assert asyncio.run(run())["code"] == "input_closed"


def test_audio_at_a_declared_48k_rate_is_understood(assistant: Assistant) -> None:
    audio = np.concatenate([load_audio(SAMPLES / "what_time_is_it.wav"), np.zeros(16000, np.float32)])
    pcm = float_to_pcm16(resample(audio, 16000, 48000))

    async def run() -> str:
        async with running(assistant) as (url, _):
            async with connect(url) as ws:
                await next_event(ws, "session.created")
                await ws.send(json.dumps({"type": "session.update", "session": {"input_sample_rate": 48000}}))
                await next_event(ws, "session.updated")
                for i in range(0, len(pcm), 3840):  # 40 ms at 48 kHz
                    await ws.send(pcm[i : i + 3840])
                    await asyncio.sleep(0.02)
                return (await next_event(ws, "conversation.item.input_audio_transcription.completed"))["transcript"]

    assert "what time is it" in asyncio.run(run()).lower()


def test_a_client_that_vanishes_mid_reply_leaves_nothing_behind(assistant: Assistant) -> None:
    bot = story_bot(assistant)
    ask = espeak(assistant, "Tell me a story.")

    async def run() -> None:
        async with running(bot) as (url, app):
            ws = await connect(url)
            sid = (await next_event(ws, "session.created"))["session_id"]
            pcm = float_to_pcm16(np.concatenate([ask, np.zeros(16000, np.float32)]))
            for i in range(0, len(pcm), 1280):
                await ws.send(pcm[i : i + 1280])
                await asyncio.sleep(0.02)
            await next_event(ws, "response.audio.delta")
            ws.transport.abort()  # no close handshake: the network went away
            for _ in range(100):
                if app.active == 0:
                    break
                await asyncio.sleep(0.05)
            assert app.active == 0 and not app.connections
            leftovers = [t for t in asyncio.all_tasks() if t.get_name().startswith(sid) and not t.done()]
            assert not leftovers, leftovers

    asyncio.run(run())


def test_a_client_that_never_reads_is_bounded_then_closed(assistant: Assistant) -> None:
    bot = story_bot(assistant)
    ask = espeak(assistant, "Tell me a story.")

    async def run() -> tuple[float, int, bool]:
        async with running(bot, out_audio_s=1.0, stall_timeout_s=2.0) as (url, app):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the client's kernel buffers little
            sock.connect(("127.0.0.1", int(url.split(":")[2].split("/")[0])))
            ws = await connect(url, sock=sock, max_queue=1)  # and reads nothing after the first message
            pcm = float_to_pcm16(np.concatenate([ask, np.zeros(16000, np.float32)]))
            for i in range(0, len(pcm), 1280):
                await ws.send(pcm[i : i + 1280])
                await asyncio.sleep(0.02)
            worst = 0.0
            for _ in range(400):  # up to 20 s: the story alone is 17 s of audio
                conns = list(app.connections.values())
                if not conns:
                    break
                worst = max(worst, conns[0].outbox.waiting_audio_s)
                dropped = conns[0].outbox.dropped_audio_frames
                await asyncio.sleep(0.05)
            given_up = not app.connections
            ws.transport.abort()
            return worst, dropped, given_up

    worst, dropped, given_up = asyncio.run(run())
    assert worst <= 1.0  # memory for a client that never reads stays bounded
    assert dropped > 0
    assert given_up  # after stall_timeout_s of taking nothing, the server closed it


def test_logs_hold_no_token_and_no_audio(assistant: Assistant, caplog: pytest.LogCaptureFixture) -> None:
    secret = "tok-3f9a7c2e"

    async def run() -> None:
        async with running(assistant, token=secret) as (url, _):
            async with connect(f"{url}?token={secret}") as ws:
                await next_event(ws, "session.created")
                await ws.send(b"\x11\x22" * 8000)
                await ws.send("{broken")
                await next_event(ws, "error", 10)

    with caplog.at_level(logging.DEBUG):
        asyncio.run(run())
    ours = [r for r in caplog.records if r.name.startswith("assistant")]  # the test's own client logs too
    assert ours  # the server did log the session
    assert not [r for r in ours if secret in r.getMessage() or len(r.getMessage()) > 500]
