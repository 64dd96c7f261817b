"""A real server on loopback for tests, and reading its events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection

from assistant import Assistant
from assistant.serve.limits import ServerLimits
from assistant.serve.server import Server


@contextlib.asynccontextmanager
async def running(assistant: Assistant, **limits: Any) -> AsyncIterator[tuple[str, Server]]:
    app = Server(assistant, limits=ServerLimits(**limits))
    ws_server = await app.listen("127.0.0.1", 0)
    port = ws_server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/ws", app
    finally:
        ws_server.close()
        await ws_server.wait_closed()


async def next_event(ws: ClientConnection, kind: str, timeout: float = 60) -> dict[str, Any]:
    """The next text event of type ``kind`` (others and audio are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.recv()
            if isinstance(msg, str) and (ev := json.loads(msg))["type"] == kind:
                return ev
