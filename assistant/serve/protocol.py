"""The client side of the ``/ws`` protocol: parse and validate what a client sends.

The commands (:data:`ClientEvent`) are the same for both protocols; the Realtime one
(:mod:`.realtime`) parses its own messages into them. Every message a client can
send becomes one typed :class:`ClientEvent`, or a
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
    """``session.update``: change this session's settings (validated by the session).

    ``extra``: what the protocol itself keeps (Realtime's output format, instructions),
    applied by it only once the session took ``settings``."""

    settings: dict[str, Any]
    extra: dict[str, Any] | None = None


@dataclass(frozen=True)
class Truncate:
    """``conversation.item.truncate``: ``audio_end_ms`` of ``turn_id``'s reply was played."""

    turn_id: int
    audio_end_ms: float


@dataclass(frozen=True)
class TextIn:
    """``conversation.item.create`` with a user message: a typed request (held unless ``respond``)."""

    text: str
    respond: bool
    item_id: str | None = None


@dataclass(frozen=True)
class Commit:
    """``input_audio_buffer.commit``: the utterance in progress is over."""


@dataclass(frozen=True)
class Clear:
    """``input_audio_buffer.clear``: forget the audio not yet taken as an utterance."""


@dataclass(frozen=True)
class Respond:
    """``response.create``: answer the held request."""


@dataclass(frozen=True)
class Cancel:
    """``response.cancel``: stop the reply under way."""


ClientEvent = AudioIn | InputEnd | SessionUpdate | Truncate | TextIn | Commit | Clear | Respond | Cancel

#: The client event types, for the error message that lists them.
CLIENT_EVENT_TYPES = ("input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear",
                      "input_audio_buffer.end", "session.update", "conversation.item.create",
                      "conversation.item.truncate", "response.create", "response.cancel")

#: Events with no fields to check, the same in both protocols.
BARE_EVENTS: dict[str, ClientEvent] = {"input_audio_buffer.commit": Commit(), "input_audio_buffer.clear": Clear(),
                                       "response.create": Respond(), "response.cancel": Cancel()}


def user_text(event: dict[str, Any]) -> tuple[str, str | None]:
    """The text and item id of ``conversation.item.create``: a user ``message`` with ``input_text``."""
    item = event.get("item")
    if not isinstance(item, dict) or item.get("type", "message") != "message" or item.get("role") != "user":
        raise ProtocolError("bad_event", "conversation.item.create needs 'item': a user message "
                            "({\"type\": \"message\", \"role\": \"user\", \"content\": [...]})")
    content = item.get("content")
    if not isinstance(content, list) or not content or not all(
            isinstance(c, dict) and c.get("type") == "input_text" and isinstance(c.get("text"), str) for c in content):
        raise ProtocolError("bad_event", "conversation.item.create: the message's 'content' must be parts "
                            "{\"type\": \"input_text\", \"text\": ...} (typed text; audio goes through "
                            "input_audio_buffer.append)")
    item_id = item.get("id")
    if item_id is not None and (not isinstance(item_id, str) or not 0 < len(item_id) <= 64):
        raise ProtocolError("bad_event", "conversation.item.create: 'id' must be a string of 1 to 64 characters")
    return " ".join(c["text"] for c in content), item_id


def b64_audio(event: dict[str, Any]) -> AudioIn:
    """The PCM of ``input_audio_buffer.append`` (``audio``: base64)."""
    data = event.get("audio")
    if not isinstance(data, str):
        raise ProtocolError("bad_event", "input_audio_buffer.append needs 'audio': base64 PCM16")
    try:
        return _audio(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        raise ProtocolError("bad_audio", "input_audio_buffer.append: 'audio' is not valid base64") from None


def _audio(pcm: bytes) -> AudioIn:
    if len(pcm) % 2:
        raise ProtocolError("bad_audio", f"audio must be 16-bit PCM: {len(pcm)} bytes is an odd length")
    return AudioIn(pcm)


def _short(message: str) -> str:
    # Echo a little of a bad message back to help the client's author, never all of it.
    return message if len(message) <= 80 else message[:77] + "..."


def audio_end_ms(value: object) -> float:
    """``conversation.item.truncate``'s ``audio_end_ms``: a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ProtocolError("bad_event", "conversation.item.truncate needs 'audio_end_ms': a number >= 0")
    return float(value)


def json_event(message: str) -> dict[str, Any]:
    """A text message as a JSON object with a string ``type``."""
    try:
        event = json.loads(message)
    except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        raise ProtocolError("bad_json", f"not JSON: {_short(message)!r}") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ProtocolError("bad_event", "an event is a JSON object with a string 'type'")
    return event


def parse_client_message(message: str | bytes) -> ClientEvent:
    """One WebSocket message from a client as a typed event.

    Raises :class:`ProtocolError` (codes ``bad_audio``, ``bad_json``, ``bad_event``)
    for anything that is not a valid client event.
    """
    if isinstance(message, bytes):
        return _audio(message)
    event = json_event(message)
    kind = event["type"]
    if kind == "input_audio_buffer.append":
        return b64_audio(event)
    if kind in BARE_EVENTS:
        return BARE_EVENTS[kind]
    if kind == "conversation.item.create":
        text, item_id = user_text(event)
        respond = event.get("respond", True)
        if not isinstance(respond, bool):
            raise ProtocolError("bad_event", "conversation.item.create: 'respond' must be true or false")
        return TextIn(text, respond, item_id)
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
        return Truncate(turn, audio_end_ms(end))
    raise unknown_type(kind, CLIENT_EVENT_TYPES)


def unknown_type(kind: str, known: tuple[str, ...]) -> ProtocolError:
    return ProtocolError("bad_event", f"unknown event type {_short(kind)!r}; expected one of {', '.join(known)}")
