"""What operators rely on, on a real server with real models: /metrics, /healthz, /readyz, the drain."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from serving import next_event, running
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from assistant import Assistant, load_audio
from assistant.audio import float_to_pcm16
from assistant.config import Config
from conftest import ROOT, SAMPLES


async def http_get(url: str) -> tuple[int, str]:
    def get() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    return await asyncio.get_running_loop().run_in_executor(None, get)


def series(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + want + '}') if want else ''} (\S+)$"
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else 0.0


def test_metrics_move_with_a_spoken_turn_and_health_answers(assistant: Assistant) -> None:
    async def run() -> tuple[str, str, tuple[int, str], tuple[int, str]]:
        async with running(assistant) as (url, _app):
            base = url.removesuffix("/ws")
            http = base.replace("ws://", "http://")
            before = (await http_get(f"{http}/metrics"))[1]
            async with connect(url) as ws:
                await next_event(ws, "session.created")
                pcm = float_to_pcm16(np.concatenate([load_audio(SAMPLES / "what_time_is_it.wav"),
                                                     np.zeros(16000, np.float32)]))
                for i in range(0, len(pcm), 1280):
                    await ws.send(pcm[i : i + 1280])
                    await asyncio.sleep(0.02)
                await next_event(ws, "response.done")
                await ws.send("{not json")
                await next_event(ws, "error")
                during = (await http_get(f"{http}/metrics"))[1]
            return before, during, await http_get(f"{http}/healthz"), await http_get(f"{http}/readyz")

    before, during, health, ready = asyncio.run(run())
    assert series(before, "assistant_replies_total") == 0 and series(before, "assistant_sessions_active") == 0
    assert series(during, "assistant_sessions_active") == 1
    assert series(during, "assistant_sessions_total", protocol="ws") == 1
    assert series(during, "assistant_turns_total", route="skill") == 1
    assert series(during, "assistant_replies_total") == 1
    assert series(during, "assistant_errors_total", code="bad_json") == 1
    for stage in ("endpoint", "asr_final", "understand", "tts_first_audio", "speech_end_to_first_audio"):
        assert series(during, "assistant_stage_seconds_count", stage=stage) == 1, stage
        assert series(during, "assistant_stage_seconds_sum", stage=stage) > 0, stage
    assert health == (200, "ok\n") and ready == (200, "ready\n")


def test_readiness_fails_while_models_load_and_when_the_llm_server_is_down(assistant: Assistant) -> None:
    cfg = Config()
    cfg.llm.url = "http://127.0.0.1:9/v1"  # nothing listens on the discard port

    async def run() -> tuple[tuple[int, str], tuple[int, str]]:
        async with running(Assistant()) as (url, _):
            loading = await http_get(url.replace("ws://", "http://").removesuffix("/ws") + "/readyz")
        served = assistant.sharing_models(cfg)
        served.loaded = True
        async with running(served) as (url, _):
            down = await http_get(url.replace("ws://", "http://").removesuffix("/ws") + "/readyz")
        return loading, down

    loading, down = asyncio.run(run())
    assert loading == (503, "the models are still loading\n")
    assert down[0] == 503 and "unreachable" in down[1]


def test_sigterm_drains_the_reply_under_way_then_closes_with_1001() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    try:
        deadline = time.time() + 180
        assert proc.stdout is not None
        for line in proc.stdout:
            if "listening" in line or time.time() > deadline:
                break

        async def run() -> tuple[list[str], int | None, int, tuple[int, str]]:
            kinds: list[str] = []
            async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
                await next_event(ws, "session.created")
                await ws.send(json.dumps({"type": "conversation.item.create", "item": {
                    "type": "message", "role": "user",
                    "content": [{"type": "input_text", "text": "Who wrote Romeo and Juliet?"}]}}))
                await next_event(ws, "response.audio.delta")
                proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.3)
                ready = await http_get(f"http://127.0.0.1:{port}/readyz")
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(f"ws://127.0.0.1:{port}/ws"):
                        pass
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        msg = await ws.recv()
                        if isinstance(msg, str):
                            kinds.append(json.loads(msg)["type"])
                code = closed.value.rcvd.code if closed.value.rcvd else None
                return kinds, code, refused.value.response.status_code, ready

        kinds, code, refused, ready = asyncio.run(run())
        assert "response.done" in kinds  # the reply under way finished before the close
        assert code == 1001 and refused == 503 and ready[0] == 503 and "draining" in ready[1]
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
