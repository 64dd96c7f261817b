"""Debian's haproxy, with the config `bench cluster` writes, in front of a real server and a dead one.

A WebSocket session goes through the balancer (the tunnel carries it), sessions are only
routed to the replica whose /readyz says 200, and a draining replica gets no new ones.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from serving import next_event, running
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from assistant import Assistant
from assistant.bench.cluster import Child, haproxy_config, http_ok
from assistant.bench.load import free_port

HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").is_file() else None)

pytestmark = pytest.mark.skipif(HAPROXY is None, reason="Debian's haproxy is not installed (make test installs it)")


async def typed_turn(url: str) -> str:
    async with connect(url) as ws:
        await next_event(ws, "session.created")
        await ws.send(json.dumps({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": "What is 12 times 3?"}]}}))
        return str((await next_event(ws, "response.done"))["text"])


def test_sessions_go_through_haproxy_to_the_ready_replica_only(assistant: Assistant) -> None:
    async def run() -> tuple[list[str], int]:
        async with running(assistant) as (url, app):
            replica = int(url.rsplit(":", 1)[1].split("/")[0])
            lb_port, dead = free_port(), free_port()
            while dead in (lb_port, replica):  # a port just released may be handed out again
                dead = free_port()
            cfg = Path(tempfile.mkstemp(suffix=".cfg")[1])
            cfg.write_text(haproxy_config(lb_port, [replica, dead]))  # the second one is dead
            balancer = Child.start("haproxy", [str(HAPROXY), "-f", str(cfg), "-db"])
            try:
                lb = f"ws://127.0.0.1:{lb_port}/ws"
                # Until it answers through the balancer: a fixed 1.5 s once left the first session
                # refused on a loaded machine. Its log is in the error if it does not come up.
                await http_ok(f"http://127.0.0.1:{lb_port}/readyz", balancer, 15)
                await asyncio.sleep(1.5)  # the health checks mark the dead replica down
                replies = [await typed_turn(lb) for _ in range(3)]  # leastconn would try both
                await app.drain()  # nothing under way: returns at once, and /readyz now fails
                await asyncio.sleep(1.0)
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(lb):
                        pass
                return replies, refused.value.response.status_code
            finally:
                balancer.stop(timeout_s=10)

    replies, status = asyncio.run(run())
    assert all("thirty-six" in r.lower() or "36" in r for r in replies), replies
    assert status == 503  # no replica ready: the balancer says so, it does not hang
