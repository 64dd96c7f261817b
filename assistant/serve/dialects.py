"""What a protocol does between a WebSocket and a session, and the ``/ws`` protocol's own.

The server reads a message, asks the connection's :class:`Dialect` to parse it into a
command (:data:`~.protocol.ClientEvent`), carries the command out on the session, and
sends what the dialect makes of the result and of every session event. Two dialects:
:class:`WsDialect` (``/ws``: JSON events plus binary PCM frames) and
:class:`~.realtime.RealtimeDialect` (``/v1/realtime``: OpenAI's Realtime events).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from ..events import ErrorEvent, Event, ReplyAudio
from .protocol import ClientEvent, ProtocolError, SessionUpdate, parse_client_message


@dataclass(frozen=True)
class AudioOut:
    """Reply audio for the client: the frames that carry it, its length, its turn."""

    frames: tuple[str | bytes, ...]
    seconds: float
    turn_id: int


Outgoing = dict[str, Any] | AudioOut


class Dialect(Protocol):
    """One connection's protocol: how messages become commands, and events become messages."""

    def parse(self, message: str | bytes) -> ClientEvent:
        """Raises :class:`~.protocol.ProtocolError` for anything that is not a valid command."""
        ...

    def answered(self, command: ClientEvent, result: object) -> list[Outgoing]:
        """What to tell the client once ``command`` was carried out (``result``: the session's answer)."""
        ...

    def outgoing(self, event: Event) -> list[Outgoing]:
        """The messages a session event becomes."""
        ...

    def error(self, err: ProtocolError) -> dict[str, Any]:
        """The error event for a message that could not be used."""
        ...


class WsDialect:
    """``/ws``: the session's events as JSON (names after Realtime's), reply audio as binary frames."""

    def parse(self, message: str | bytes) -> ClientEvent:
        return parse_client_message(message)

    def answered(self, command: ClientEvent, result: object) -> list[Outgoing]:
        if isinstance(command, SessionUpdate):
            return [{"type": "session.updated", "turn_id": 0, "session": result}]
        return []

    def outgoing(self, event: Event) -> list[Outgoing]:
        if isinstance(event, ReplyAudio):
            return [AudioOut((json.dumps(event.to_dict()), event.pcm), len(event.pcm) / 2 / event.sample_rate,
                             event.turn_id)]
        return [event.to_dict()]

    def error(self, err: ProtocolError) -> dict[str, Any]:
        return ErrorEvent(0, str(err), err.code).to_dict()
