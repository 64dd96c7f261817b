"""WebSocket server carrying sessions, plus the static browser page from ``web/``.

Protocol (see docs/PROTOCOL.md): connect to ``/ws``. Binary frames from the client
are 16-bit little-endian mono PCM at 16 kHz; binary frames from the server are reply
audio at the rate announced in ``session.created``. Text frames are JSON events with
a ``type``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import http
import json
import logging
import mimetypes
import os
import signal
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit
from pathlib import Path

from websockets.asyncio.server import Server as WsServer, ServerConnection, serve as ws_serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .api import Assistant
from .errors import AssistantError
from .events import ReplyAudio
from .session import Session

log = logging.getLogger(__name__)

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
WS_PATH = "/ws"


def _static_response(root: Path, url_path: str) -> Response:
    """Serve a file under ``root``; anything outside it (``..``, symlinks out) is a 404."""
    rel = url_path.split("?", 1)[0].lstrip("/") or "index.html"
    try:
        target = (root / rel).resolve()
        inside = target.is_relative_to(root.resolve()) and target.is_file()
    except (OSError, ValueError):
        inside = False
    if not inside:
        body = b"not found\n"
        status = http.HTTPStatus.NOT_FOUND
        ctype = "text/plain; charset=utf-8"
    else:
        body = target.read_bytes()
        status = http.HTTPStatus.OK
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
    headers = Headers(
        [
            ("Content-Type", ctype),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-cache"),
            ("X-Content-Type-Options", "nosniff"),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)


@dataclass
class ServerLimits:
    """What one server accepts."""

    max_sessions: int = 8
    """Further connections are refused with close code 1013 (try again later)."""
    token: str | None = None
    """When set, clients must send it (``?token=...`` or ``Authorization: Bearer ...``)."""


class Server:
    """Accepts WebSocket connections and runs one :class:`~assistant.session.Session` each."""

    def __init__(self, assistant: Assistant, web_root: Path = WEB_ROOT, limits: ServerLimits | None = None) -> None:
        self.assistant = assistant
        self.web_root = web_root
        self.limits = limits or ServerLimits()
        self.active = 0

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if request.path.split("?", 1)[0] == WS_PATH or upgrade:
            if self.limits.token and not self._authorised(request):
                return connection.respond(http.HTTPStatus.UNAUTHORIZED, "a valid token is required\n")
            return None  # go on with the WebSocket handshake (on /ws, or any path a client upgrades)
        return _static_response(self.web_root, request.path)

    def _authorised(self, request: Request) -> bool:
        query = parse_qs(urlsplit(request.path).query)
        bearer = request.headers.get("Authorization", "")
        given = query.get("token", [""])[0] or bearer.removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), (self.limits.token or "").encode())

    async def handle(self, ws: ServerConnection) -> None:
        if self.active >= self.limits.max_sessions:
            await ws.close(1013, f"server full ({self.limits.max_sessions} sessions); try again later")
            return
        self.active += 1
        try:
            await self._serve_session(ws)
        finally:
            self.active -= 1

    async def _serve_session(self, ws: ServerConnection) -> None:
        session = self.assistant.session()
        await session.start()

        async def pump_out() -> None:
            async for ev in session.events():
                if isinstance(ev, ReplyAudio):
                    await ws.send(json.dumps(ev.to_dict()))
                    await ws.send(ev.pcm)
                else:
                    await ws.send(json.dumps(ev.to_dict()))

        sender = asyncio.create_task(pump_out())
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    try:
                        await session.send_audio(message)
                    except AssistantError as err:
                        await ws.send(json.dumps({"type": "error", "turn_id": 0, "message": str(err), "code": "bad_audio"}))
                    continue
                await self._on_text(ws, session, message)
        except ConnectionClosed:
            pass
        finally:
            await session.close()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sender

    async def _on_text(self, ws: ServerConnection, session: Session, message: str) -> None:
        try:
            event = json.loads(message)
            kind = event["type"] if isinstance(event, dict) else None
        except (ValueError, KeyError):
            kind = None
        if kind == "input_audio_buffer.end":
            await session.end_audio()
        elif kind == "session.update" and isinstance(event.get("session"), dict):
            try:
                applied = session.update(event["session"])
            except AssistantError as err:
                await ws.send(json.dumps({"type": "error", "turn_id": 0, "code": "bad_setting", "message": str(err)}))
            else:
                await ws.send(json.dumps({"type": "session.updated", "turn_id": 0, "session": applied}))
        elif kind == "conversation.item.truncate" and isinstance(event.get("turn_id"), int) \
                and isinstance(event.get("audio_end_ms"), (int, float)):
            session.report_playback(event["turn_id"], float(event["audio_end_ms"]))
        else:
            await ws.send(
                json.dumps({"type": "error", "turn_id": 0, "code": "bad_event", "message": f"unsupported event: {message[:80]}"})
            )


async def start_server(
    assistant: Assistant, host: str = "127.0.0.1", port: int = 8765, limits: ServerLimits | None = None
) -> WsServer:
    """Start serving on ``host:port`` (port 0 picks a free one); close the returned server to stop."""
    server = Server(assistant, limits=limits)
    return await ws_serve(server.handle, host, port, process_request=server.process_request, max_size=1 << 20)


async def serve(
    host: str = "127.0.0.1", port: int = 8765, assistant: Assistant | None = None,
    max_sessions: int = 8, token: str | None = None,
) -> int:
    """Load the models, then serve until cancelled."""
    bot = assistant or Assistant()
    print("loading models ...", flush=True)
    bot.load(progress=lambda msg: print(f"  {msg}", flush=True))
    limits = ServerLimits(max_sessions=max_sessions, token=token or os.environ.get("ASSISTANT_TOKEN") or None)
    server = await start_server(bot, host, port, limits)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Graceful: stop accepting, close every session with 1001 (going away), exit.
        asyncio.get_running_loop().add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    print(f"assistant listening on http://{host}:{port}/ (WebSocket at ws://{host}:{port}{WS_PATH})", flush=True)
    await stop
    server.close()
    await server.wait_closed()
    print("stopped", flush=True)
    return 0
