"""WebSocket server carrying sessions, plus the static browser page from ``web/``.

Two protocols (docs/PROTOCOL.md), the same limits and access rules for both:

- ``/ws``: binary frames from the client are 16-bit little-endian mono PCM at 16 kHz,
  binary frames from the server reply audio at the rate in ``session.created``; text
  frames are JSON events with a ``type``.
- ``/v1/realtime``: OpenAI's Realtime protocol (:mod:`.realtime`), for stock clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import http
import logging
import mimetypes
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server as WsServer
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..api import Assistant
from ..conversation.session import Session
from ..errors import AssistantError
from ..events import Interrupted
from ..models import PROJECT_ROOT
from .dialects import AudioOut, Dialect, Outgoing, WsDialect
from .limits import ServerLimits, TokenBucket
from .memory import trimmer
from .outbox import ClientStalled, Outbox
from .protocol import (
    AudioIn,
    Cancel,
    Clear,
    ClientEvent,
    Commit,
    InputEnd,
    ProtocolError,
    Respond,
    SessionUpdate,
    TextIn,
    Truncate,
)
from .realtime import REALTIME_PATH, RealtimeDialect

__all__ = ["REALTIME_PATH", "WS_PATH", "Server", "ServerLimits", "serve", "start_server"]

log = logging.getLogger(__name__)

WEB_ROOT = PROJECT_ROOT / "web"
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


def _send(outbox: Outbox, messages: list[Outgoing]) -> None:
    for message in messages:
        if isinstance(message, AudioOut):
            outbox.put_audio(message)
        else:
            outbox.put_event(message)


@dataclass(frozen=True)
class Close:
    """Why the server ends a connection: a WebSocket close code and a reason."""

    code: int
    reason: str


@dataclass(frozen=True)
class Connection:
    """One client's session and its outgoing queue."""

    session: Session
    outbox: Outbox


class Server:
    """Accepts WebSocket connections and runs one :class:`~assistant.session.Session` each."""

    def __init__(self, assistant: Assistant, web_root: Path = WEB_ROOT, limits: ServerLimits | None = None) -> None:
        self.assistant = assistant
        self.web_root = web_root
        self.limits = limits or ServerLimits()
        self.active = 0
        self.connections: dict[str, Connection] = {}  # by session id
        self._background: set[asyncio.Task[None]] = set()

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if request.path.split("?", 1)[0] in (WS_PATH, REALTIME_PATH) or upgrade:
            if not self._origin_allowed(request):
                return connection.respond(http.HTTPStatus.FORBIDDEN, "origin not allowed\n")
            if self.limits.token and not self._authorised(request):
                return connection.respond(http.HTTPStatus.UNAUTHORIZED, "a valid token is required\n")
            return None  # go on with the WebSocket handshake (/v1/realtime, else /ws on any path)
        return _static_response(self.web_root, request.path)

    def _origin_allowed(self, request: Request) -> bool:
        # A browser always sends Origin: the page's own origin, or one on the allow-list.
        # This stops any web page the person visits from opening their microphone session.
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        allowed = self.limits.allowed_origins
        if "*" in allowed or origin in allowed:
            return True
        return urlsplit(origin).netloc.lower() == request.headers.get("Host", "").lower()

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
        sock = ws.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.limits.send_buffer_bytes)
        try:
            await self._serve_session(ws)
        finally:
            self.active -= 1

    async def _serve_session(self, ws: ServerConnection) -> None:
        session = self.assistant.session()
        realtime = ws.request is not None and ws.request.path.split("?", 1)[0] == REALTIME_PATH
        dialect: Dialect = RealtimeDialect(session) if realtime else WsDialect()
        await session.start()
        lim = self.limits
        outbox = Outbox(ws.send, lim.out_audio_s, lim.out_events, lim.stall_timeout_s,
                        lambda turn, message: dialect.error(ProtocolError("audio_dropped", message)))
        self.connections[session.id] = Connection(session, outbox)
        log.info("session %s opened (%s)", session.id, "realtime" if realtime else "ws")

        async def pump() -> None:
            async for ev in session.events():
                if isinstance(ev, Interrupted):
                    outbox.drop_audio_of(ev.turn_id)
                _send(outbox, dialect.outgoing(ev))

        pumper = asyncio.create_task(pump(), name=f"{session.id}:pump")
        reader = asyncio.create_task(self._read(ws, session, outbox, dialect), name=f"{session.id}:read")
        writer = asyncio.create_task(outbox.run(), name=f"{session.id}:write")
        close = Close(1000, "")
        try:
            done, _ = await asyncio.wait({reader, writer, pumper}, return_when=asyncio.FIRST_COMPLETED)
            if pumper in done and session.failure is None and pumper.exception() is None:
                # The input ended and every reply went out: the client may still read, then close.
                done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            failed = next((t.exception() for t in done if t.exception() is not None), None)
            if session.failure is not None:
                # A stage died (logged with its traceback): its error event goes out, then a clean close.
                await outbox.flushed(timeout_s=2.0)
                close = Close(1011, "internal error")
            elif isinstance(failed, ClientStalled):
                close = Close(1008, f"client not reading: {failed}")
            elif failed is not None and not isinstance(failed, ConnectionClosed):
                # A bug, not the client's doing: keep the traceback, end this session only.
                log.error("session %s failed", session.id, exc_info=failed)
                close = Close(1011, "internal error")
            elif reader in done and reader.result() is not None:
                close = reader.result()  # type: ignore[assignment]
        finally:
            for task in (reader, writer, pumper):
                task.cancel()
            await asyncio.gather(reader, writer, pumper, return_exceptions=True)
            await session.close()
            self.connections.pop(session.id, None)
            # Unread messages (a flood) would hide the client's answer to our close frame:
            # keep reading, and dropping, until the closing handshake is done.
            drain = asyncio.create_task(self._discard(ws))
            with contextlib.suppress(ConnectionClosed):
                await ws.close(close.code, close.reason)
            drain.cancel()
            log.info("session %s closed (%s %s)", session.id, ws.close_code, ws.close_reason or "")

    @staticmethod
    async def _discard(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                pass

    async def _read(self, ws: ServerConnection, session: Session, outbox: Outbox, dialect: Dialect) -> Close | None:
        """Read the client's messages until it goes; returns why the server closes, if it does."""
        lim = self.limits
        messages = TokenBucket(lim.messages_per_s, lim.messages_burst)
        audio = TokenBucket(lim.audio_speed, lim.audio_burst_s)
        refused = 0
        told: set[str] = set()  # rate errors are said once per run, not once per message
        while True:
            try:
                async with asyncio.timeout(lim.idle_timeout_s):
                    message = await ws.recv()
            except TimeoutError:
                return Close(1000, f"idle: nothing received for {lim.idle_timeout_s:g} s")
            except ConnectionClosed:
                return None
            try:
                event = dialect.parse(message)
                rate_error = self._rate_error(event, messages, audio, session)
                if rate_error is not None:
                    refused += 1
                    if refused >= lim.flood_close_after:
                        return Close(1008, f"too many messages: {rate_error.args[0]}")
                    if rate_error.code not in told:
                        told.add(rate_error.code)
                        raise rate_error
                    continue
                refused = 0
                told.clear()
                _send(outbox, dialect.answered(event, await self._apply(event, session)))
            except AssistantError as err:
                outbox.put_event(dialect.error(err if isinstance(err, ProtocolError) else ProtocolError("bad_audio",
                                                                                                       str(err))))

    def _rate_error(self, event: ClientEvent, messages: TokenBucket, audio: TokenBucket,
                    session: Session) -> ProtocolError | None:
        if not messages.take():
            return ProtocolError("rate_limited", f"more than {self.limits.messages_per_s:g} messages a second; "
                                 "messages are being ignored")
        if isinstance(event, AudioIn) and not audio.take(len(event.pcm) / 2 / session.input_sample_rate):
            return ProtocolError("audio_too_fast", f"audio is arriving more than {self.limits.audio_speed:g}x "
                                 "faster than real time; it is being dropped")
        return None

    @staticmethod
    async def _apply(event: ClientEvent, session: Session) -> object:
        """Carry a command out on the session; returns what the protocol may report of it."""
        if isinstance(event, AudioIn):
            if not session.input_open:
                raise ProtocolError("input_closed", "audio after input_audio_buffer.end is ignored; "
                                    "open a new session to talk again")
            await session.send_audio(event.pcm)
        elif isinstance(event, InputEnd):
            await session.end_audio()
        elif isinstance(event, SessionUpdate):
            try:
                return session.update(event.settings)
            except AssistantError as err:
                raise ProtocolError("bad_setting", str(err)) from None
        elif isinstance(event, Truncate):
            return session.report_playback(event.turn_id, event.audio_end_ms)
        elif isinstance(event, TextIn):
            try:
                return await session.send_text(event.text, event.respond)
            except AssistantError as err:
                raise ProtocolError("bad_text", str(err)) from None
        elif isinstance(event, Commit):
            await session.commit_audio()
        elif isinstance(event, Clear):
            await session.clear_audio()
        elif isinstance(event, Respond):
            session.respond()
        elif isinstance(event, Cancel):
            return session.cancel_reply()
        return None

    async def listen(self, host: str = "127.0.0.1", port: int = 8765) -> WsServer:
        """Start serving on ``host:port`` (port 0 picks a free one); close the returned server to stop."""
        # websockets logs whole handshakes (the token with them) at DEBUG: its logger stops at INFO.
        ws_log = logging.getLogger(f"{__name__}.websockets")
        ws_log.setLevel(logging.INFO)
        ws_server = await ws_serve(self.handle, host, port, process_request=self.process_request,
                                   max_size=self.limits.max_message_bytes, max_queue=8, logger=ws_log)
        trim = trimmer()
        if trim is not None and self.limits.trim_memory_every_s > 0:
            housekeeping = asyncio.create_task(self._trim_memory(trim), name="server:trim-memory")
            # It ends with the server (it is not a session's task).
            self._background = {housekeeping, asyncio.create_task(self._stop_with(ws_server, housekeeping))}
        return ws_server

    async def _trim_memory(self, trim: Callable[[], bool]) -> None:
        while True:
            await asyncio.sleep(self.limits.trim_memory_every_s)
            await asyncio.get_running_loop().run_in_executor(self.assistant.workers, trim)

    @staticmethod
    async def _stop_with(ws_server: WsServer, task: asyncio.Task[None]) -> None:
        try:
            await ws_server.wait_closed()
        finally:
            task.cancel()


async def start_server(
    assistant: Assistant, host: str = "127.0.0.1", port: int = 8765, limits: ServerLimits | None = None
) -> WsServer:
    """Start a :class:`Server` on ``host:port`` (port 0 picks a free one); close the returned server to stop."""
    return await Server(assistant, limits=limits).listen(host, port)


async def serve(
    host: str = "127.0.0.1", port: int = 8765, assistant: Assistant | None = None,
    limits: ServerLimits | None = None,
) -> int:
    """Load the models, then serve until SIGTERM or SIGINT."""
    bot = assistant or Assistant()
    print("loading models ...", flush=True)
    bot.load(progress=lambda msg: print(f"  {msg}", flush=True))
    server = await start_server(bot, host, port, limits)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Graceful: stop accepting, close every session with 1001 (going away), exit.
        asyncio.get_running_loop().add_signal_handler(sig, lambda: None if stop.done() else stop.set_result(None))
    print(f"assistant listening on http://{host}:{port}/ (WebSocket at ws://{host}:{port}{WS_PATH}, "
          f"OpenAI Realtime at ws://{host}:{port}{REALTIME_PATH})", flush=True)
    await stop
    server.close()
    await server.wait_closed()
    print("stopped", flush=True)
    return 0
