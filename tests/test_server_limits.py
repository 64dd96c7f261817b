"""Server limits and access: session cap (1013), token, graceful SIGTERM (1001), the load benchmark."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from assistant import Assistant
from assistant.serve.server import ServerLimits, start_server
from conftest import ROOT


def test_extra_sessions_are_refused_with_1013(assistant: Assistant) -> None:
    async def run() -> tuple[int | None, str]:
        server = await start_server(assistant, port=0, limits=ServerLimits(max_sessions=1))
        port = server.sockets[0].getsockname()[1]
        try:
            async with connect(f"ws://127.0.0.1:{port}/ws") as first:
                assert json.loads(await first.recv())["type"] == "session.created"
                async with connect(f"ws://127.0.0.1:{port}/ws") as second:
                    with pytest.raises(ConnectionClosed) as closed:
                        await second.recv()
                    return closed.value.rcvd.code, closed.value.rcvd.reason
        finally:
            server.close()
            await server.wait_closed()

    code, reason = asyncio.run(run())
    assert code == 1013 and "server full" in reason


def test_a_token_is_required_when_set(assistant: Assistant) -> None:
    async def run() -> None:
        server = await start_server(assistant, port=0, limits=ServerLimits(token="s3cret"))
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://127.0.0.1:{port}/ws"):
                    pass
            assert refused.value.response.status_code == 401
            async with connect(f"ws://127.0.0.1:{port}/ws?token=s3cret") as ws:
                assert json.loads(await ws.recv())["type"] == "session.created"
            async with connect(f"ws://127.0.0.1:{port}/ws", additional_headers={"Authorization": "Bearer s3cret"}) as ws:
                assert json.loads(await ws.recv())["type"] == "session.created"
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(run())


# SIGTERM (drain, then 1001, exit 0): tests/test_operations.py.


def test_bench_load_runs_concurrent_sessions_against_a_server_process() -> None:
    out = subprocess.run([sys.executable, "-m", "assistant", "bench", "load", "--sessions", "2", "--turns", "1", "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("sessions", "sessions_ok", "sessions_failed", "v2v_ms_p50", "v2v_ms_p95", "rss_mb_peak", "errors"):
        assert key in result, key
    assert result["sessions"] == 2 and result["sessions_ok"] == 2 and result["errors"] == 0, result
    assert 0 < result["v2v_ms_p50"] < 10_000 and result["rss_mb_peak"] > 100
    assert result["server_exit_code"] == 0  # SIGTERM at the end is a clean exit
