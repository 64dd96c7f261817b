"""Debian's haproxy, with the config `bench cluster` writes, in front of a real server and a dead one.

A WebSocket session goes through the balancer (the tunnel carries it), sessions are only
routed to the replica whose /readyz says 200, and a draining replica gets no new ones.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from serving import next_event, running
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from assistant import Assistant
from assistant.bench.cluster import haproxy_config
from assistant.bench.load import free_port

HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").is_file() else None)

pytestmark = pytest.mark.skipif(HAPROXY is None, reason="Debian's haproxy is not installed (make test installs it)")


async def typed_turn(url: str) -> str:
    async with connect(url) as ws:
        await next_event(ws, "session.created")
        await ws.send(json.dumps({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": "What is 12 times 3?"}]}}))
        return str((await next_event(ws, "response.done"))["text"])


async def listening(proc: subprocess.Popen[bytes], port: int, timeout_s: float = 15.0) -> None:
    """Wait until haproxy accepts connections on ``port`` (it once took longer than a fixed
    1.5 s on a loaded machine: the first session was refused); its errors if it exited."""
    for _ in range(int(timeout_s / 0.1)):
        if proc.poll() is not None:
            pytest.fail(f"haproxy exited ({proc.returncode}): {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    pytest.fail(f"haproxy did not listen on {port} within {timeout_s} s")


def test_sessions_go_through_haproxy_to_the_ready_replica_only(assistant: Assistant) -> None:
    async def run() -> tuple[list[str], int]:
        async with running(assistant) as (url, app):
            replica = int(url.rsplit(":", 1)[1].split("/")[0])
            lb_port, dead = free_port(), free_port()
            while dead in (lb_port, replica):  # a port just released may be handed out again
                dead = free_port()
            cfg = Path(tempfile.mkstemp(suffix=".cfg")[1])
            cfg.write_text(haproxy_config(lb_port, [replica, dead]))  # the second one is dead
            proc = subprocess.Popen([str(HAPROXY), "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            try:
                lb = f"ws://127.0.0.1:{lb_port}/ws"
                await listening(proc, lb_port)
                await asyncio.sleep(1.5)  # the health checks mark the dead replica down
                replies = [await typed_turn(lb) for _ in range(3)]  # leastconn would try both
                await app.drain()  # nothing under way: returns at once, and /readyz now fails
                await asyncio.sleep(1.0)
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(lb):
                        pass
                return replies, refused.value.response.status_code
            finally:
                proc.terminate()
                proc.wait(timeout=10)

    replies, status = asyncio.run(run())
    assert all("thirty-six" in r.lower() or "36" in r for r in replies), replies
    assert status == 503  # no replica ready: the balancer says so, it does not hang
