"""The WebSocket server and static page, driven by a real client over loopback."""

from __future__ import annotations

import asyncio
import json

import numpy as np
from serving import next_event, running
from websockets.asyncio.client import connect

from assistant import Assistant, load_audio
from assistant.audio import float_to_pcm16
from assistant.serve.server import start_server
from assistant.textnorm import normalise_for_wer
from conftest import SAMPLES


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_page_is_served_and_traversal_is_refused(assistant: Assistant) -> None:
    async def run() -> None:
        server = await start_server(assistant, port=0)
        port = server.sockets[0].getsockname()[1]
        try:
            status, body = await http_get(port, "/")
            assert status == 200 and b"<html" in body
            for bad in ("/../pyproject.toml", "/%2e%2e/pyproject.toml", "/../../etc/passwd", "/nope.js"):
                status, _ = await http_get(port, bad)
                assert status == 404, bad
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(run())


def test_spoken_turn_over_websocket(assistant: Assistant) -> None:
    audio = load_audio(SAMPLES / "turn_on_the_living_room_lamp.wav")
    audio = np.concatenate([audio, np.zeros(8000, np.float32)])

    async def run() -> tuple[list[dict], int]:
        server = await start_server(assistant, port=0)
        port = server.sockets[0].getsockname()[1]
        events: list[dict] = []
        audio_bytes = 0
        try:
            async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
                first = json.loads(await ws.recv())
                assert first["type"] == "session.created" and first["output_sample_rate"] == 22050
                for i in range(0, len(audio), 640):  # 40 ms frames
                    await ws.send(float_to_pcm16(audio[i : i + 640]))
                await ws.send(json.dumps({"type": "nonsense"}))
                async with asyncio.timeout(60):
                    async for msg in ws:
                        if isinstance(msg, bytes):
                            audio_bytes += len(msg)
                            continue
                        ev = json.loads(msg)
                        events.append(ev)
                        if ev["type"] == "response.done":
                            break
        finally:
            server.close()
            await server.wait_closed()
        return events, audio_bytes

    events, audio_bytes = asyncio.run(run())
    types = [e["type"] for e in events]
    assert "error" in types  # the unknown event got a clear error, and the session went on
    transcript = next(e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed")
    assert normalise_for_wer(transcript["transcript"]) == "turn on the living room lamp"
    assert audio_bytes > 22050  # more than half a second of 16-bit reply audio


def test_session_update_is_validated(assistant: Assistant) -> None:
    async def run() -> list[dict]:
        server = await start_server(assistant, port=0)
        port = server.sockets[0].getsockname()[1]
        replies = []
        try:
            async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
                await ws.recv()  # session.created
                for settings in ({"silence_ms": 500, "nbest": 3}, {"silence_ms": "long"}, {"volume": 11},
                                 {"nbest": 99}):
                    await ws.send(json.dumps({"type": "session.update", "session": settings}))
                    replies.append(json.loads(await ws.recv()))
        finally:
            server.close()
            await server.wait_closed()
        return replies

    ok, wrong_type, unknown, out_of_range = asyncio.run(run())
    assert ok == {"type": "session.updated", "turn_id": 0, "session": {"silence_ms": 500, "nbest": 3}}
    assert wrong_type["code"] == "bad_setting" and "integer" in wrong_type["message"]
    assert unknown["code"] == "bad_setting" and "volume" in unknown["message"]
    assert out_of_range["code"] == "bad_setting" and "between 1 and 10" in out_of_range["message"]
    # Settings belong to the session: the shared defaults are untouched.
    assert assistant.config.vad.silence_ms == 300


def test_ws_clients_hold_a_paused_reply_and_realtime_clients_play_it_out(assistant: Assistant) -> None:
    """/ws clients (the page, ``assistant talk``) stop playing on ``response.paused`` and keep
    their queue; OpenAI's Realtime protocol has no pause, so its clients play the queue out and
    the server must not take it out of the echo reference."""
    async def run() -> list[bool]:
        async with running(assistant) as (url, app):
            async with connect(url) as ws, connect(url.replace("/ws", "/v1/realtime")) as rt:
                await next_event(ws, "session.created")
                await next_event(rt, "session.created")
                return [c.session.config.duplex.client_holds_on_pause for c in app.connections.values()]

    assert asyncio.run(run()) == [True, False]
