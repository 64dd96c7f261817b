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
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server as WsServer
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..api import Assistant
from ..conversation.session import Session
from ..errors import AssistantError
from ..events import Interrupted
from ..models import PROJECT_ROOT
from .dialects import AudioOut, Dialect, Outgoing, WsDialect
from .endpoints import HEALTH_PATH, METRICS_PATH, READY_PATH, plain_response, static_response
from .limits import ServerLimits, TokenBucket
from .memory import trimmer
from .monitoring import CONTENT_TYPE, ServerMetrics
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
#: How long a readiness answer about the served LLM holds (probes come every few seconds).
LLM_CHECK_EVERY_S = 5.0


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
        self.metrics = ServerMetrics()
        self.draining = False
        self._llm_checked: tuple[float, str | None] | None = None  # (when, why not reachable)

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        path = request.path.split("?", 1)[0]
        if path in (WS_PATH, REALTIME_PATH) or upgrade:
            if (refusal := self._refusal(request)) is not None:
                status, reason, message = refusal
                self.metrics.refused.labels(reason).inc()
                return connection.respond(status, message)
            return None  # go on with the WebSocket handshake (/v1/realtime, else /ws on any path)
        if path == METRICS_PATH:
            return plain_response(http.HTTPStatus.OK, self.metrics.render(), CONTENT_TYPE)
        if path == HEALTH_PATH:
            return plain_response(http.HTTPStatus.OK, b"ok\n")
        if path == READY_PATH:
            why = await self.not_ready()
            return plain_response(http.HTTPStatus.SERVICE_UNAVAILABLE if why else http.HTTPStatus.OK,
                                  f"{why or 'ready'}\n".encode())
        return static_response(self.web_root, request.path)

    async def not_ready(self) -> str | None:
        """Why this server should get no new sessions now (None: it is ready)."""
        if self.draining:
            return "draining: the server is shutting down"
        if not self.assistant.loaded:
            return "the models are still loading"
        if self.active >= self.limits.max_sessions:
            return f"full: {self.active} sessions"
        loop = asyncio.get_running_loop()
        if self._llm_checked is None or loop.time() - self._llm_checked[0] > LLM_CHECK_EVERY_S:
            why = await loop.run_in_executor(self.assistant.workers, self.assistant.llm_unreachable)
            self._llm_checked = (loop.time(), why)
        return self._llm_checked[1]

    async def drain(self) -> None:
        """Take no new sessions (``/readyz`` fails) and let the replies under way finish, at most
        ``limits.drain_s``; the caller then closes the server (every session gets 1001)."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.drain_s
        while loop.time() < deadline and any(c.session.owes_reply for c in self.connections.values()):
            await asyncio.sleep(0.05)
        for c in list(self.connections.values()):  # the end of each reply is still on its way out
            await c.outbox.flushed(max(0.0, deadline - loop.time()))

    def _refusal(self, request: Request) -> tuple[http.HTTPStatus, str, str] | None:
        """Why this WebSocket handshake is refused (status, metric label, message), if it is."""
        if self.draining:
            return http.HTTPStatus.SERVICE_UNAVAILABLE, "draining", "the server is shutting down; connect again\n"
        if not self._origin_allowed(request):
            return http.HTTPStatus.FORBIDDEN, "origin", "origin not allowed\n"
        if self.limits.token and not self._authorised(request):
            return http.HTTPStatus.UNAUTHORIZED, "token", "a valid token is required\n"
        return None

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
            self.metrics.refused.labels("full").inc()
            await ws.close(1013, f"server full ({self.limits.max_sessions} sessions); try again later")
            return
        self.active += 1
        self.metrics.sessions_active.set(self.active)
        sock = ws.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.limits.send_buffer_bytes)
        try:
            await self._serve_session(ws)
        finally:
            self.active -= 1
            self.metrics.sessions_active.set(self.active)

    async def _serve_session(self, ws: ServerConnection) -> None:
        realtime = ws.request is not None and ws.request.path.split("?", 1)[0] == REALTIME_PATH
        # Realtime clients know no pause: they play their queue out (the session's default is a
        # client that holds it, as /ws's do). The session deep-copies what it is given.
        base = self.assistant.config
        session = self.assistant.session(
            replace(base, duplex=replace(base.duplex, client_holds_on_pause=not realtime)))
        dialect: Dialect = RealtimeDialect(session) if realtime else WsDialect()
        await session.start()
        lim = self.limits
        outbox = Outbox(ws.send, lim.out_audio_s, lim.out_events, lim.stall_timeout_s,
                        lambda turn, message: dialect.error(ProtocolError("audio_dropped", message)))
        self.connections[session.id] = Connection(session, outbox)
        protocol = "realtime" if realtime else "ws"
        self.metrics.sessions.labels(protocol).inc()
        log.info("session %s opened (%s)", session.id, protocol)

        async def pump() -> None:
            async for ev in session.events():
                self.metrics.saw(ev)
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
            self.metrics.audio_dropped.inc(outbox.dropped_audio_frames)
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
                perr = err if isinstance(err, ProtocolError) else ProtocolError("bad_audio", str(err))
                self.metrics.errors.labels(perr.code).inc()
                outbox.put_event(dialect.error(perr))

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
    app = Server(bot, limits=limits)
    server = await app.listen(host, port)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Graceful: refuse new sessions, let replies under way finish (drain_s at most), then
        # close every session with 1001 (going away) and exit.
        asyncio.get_running_loop().add_signal_handler(sig, lambda: None if stop.done() else stop.set_result(None))
    print(f"assistant listening on http://{host}:{port}/ (WebSocket at ws://{host}:{port}{WS_PATH}, "
          f"OpenAI Realtime at ws://{host}:{port}{REALTIME_PATH})", flush=True)
    await stop
    print("draining ...", flush=True)
    await app.drain()
    server.close()
    await server.wait_closed()
    print("stopped", flush=True)
    return 0
