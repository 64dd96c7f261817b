"""The client side of the WebSocket protocol: parse and validate what a client sends.

Every message a client can send becomes one typed :class:`ClientEvent`, or a
:class:`ProtocolError` carrying the ``code`` and a message for the ``error`` event
sent back. Nothing else escapes :func:`parse_client_message`, whatever the input
(the fuzz tests hold it to that). Settings inside ``session.update`` are checked
by :meth:`assistant.session.Session.update`, which owns their ranges.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any

from ..errors import AssistantError


class ProtocolError(AssistantError):
    """A client message that cannot be used; ``code`` goes into the ``error`` event."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class AudioIn:
    """Microphone audio: 16-bit little-endian mono PCM (a binary frame, or base64 in
    ``input_audio_buffer.append``)."""

    pcm: bytes


@dataclass(frozen=True)
class InputEnd:
    """``input_audio_buffer.end``: no more audio; finish the utterance in progress."""


@dataclass(frozen=True)
class SessionUpdate:
    """``session.update``: change this session's settings (validated by the session)."""

    settings: dict[str, Any]


@dataclass(frozen=True)
class Truncate:
    """``conversation.item.truncate``: ``audio_end_ms`` of ``turn_id``'s reply was played."""

    turn_id: int
    audio_end_ms: float


ClientEvent = AudioIn | InputEnd | SessionUpdate | Truncate

#: The client event types, for the error message that lists them.
CLIENT_EVENT_TYPES = ("input_audio_buffer.append", "input_audio_buffer.end", "session.update",
                      "conversation.item.truncate")


def _audio(pcm: bytes) -> AudioIn:
    if len(pcm) % 2:
        raise ProtocolError("bad_audio", f"audio must be 16-bit PCM: {len(pcm)} bytes is an odd length")
    return AudioIn(pcm)


def _short(message: str) -> str:
    # Echo a little of a bad message back to help the client's author, never all of it.
    return message if len(message) <= 80 else message[:77] + "..."


def parse_client_message(message: str | bytes) -> ClientEvent:
    """One WebSocket message from a client as a typed event.

    Raises :class:`ProtocolError` (codes ``bad_audio``, ``bad_json``, ``bad_event``)
    for anything that is not a valid client event.
    """
    if isinstance(message, bytes):
        return _audio(message)
    try:
        event = json.loads(message)
    except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        raise ProtocolError("bad_json", f"not JSON: {_short(message)!r}") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ProtocolError("bad_event", "an event is a JSON object with a string 'type'")
    kind = event["type"]
    if kind == "input_audio_buffer.append":
        data = event.get("audio")
        if not isinstance(data, str):
            raise ProtocolError("bad_event", "input_audio_buffer.append needs 'audio': base64 PCM16")
        try:
            return _audio(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            raise ProtocolError("bad_audio", "input_audio_buffer.append: 'audio' is not valid base64") from None
    if kind == "input_audio_buffer.end":
        return InputEnd()
    if kind == "session.update":
        settings = event.get("session")
        if not isinstance(settings, dict):
            raise ProtocolError("bad_event", "session.update needs 'session': an object of settings")
        return SessionUpdate(settings)
    if kind == "conversation.item.truncate":
        turn, end = event.get("turn_id"), event.get("audio_end_ms")
        if isinstance(turn, bool) or not isinstance(turn, int) or turn < 0:
            raise ProtocolError("bad_event", "conversation.item.truncate needs 'turn_id': a turn number")
        if isinstance(end, bool) or not isinstance(end, (int, float)) or not math.isfinite(end) or end < 0:
            raise ProtocolError("bad_event", "conversation.item.truncate needs 'audio_end_ms': a number >= 0")
        return Truncate(turn, float(end))
    raise ProtocolError("bad_event", f"unknown event type {_short(kind)!r}; expected one of {', '.join(CLIENT_EVENT_TYPES)}")
