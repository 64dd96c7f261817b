"""OpenAI's Realtime protocol (the GA event set a voice client needs) on ``/v1/realtime``.

Stock clients (the ``openai`` SDKs' ``realtime.connect``, the Agents SDK, web demos)
talk to the assistant through it: base64 PCM in ``input_audio_buffer.append`` and
``response.output_audio.delta``, conversation items with ids, responses with ids and
a status, and Realtime's ``error`` shape. Everything Realtime has no name for (the
n-best, what was understood, a paused reply, per-stage timings) rides along as
``assistant.*`` events, which a stock client ignores. docs/PROTOCOL.md has the map.

:class:`RealtimeDialect` parses the client's events into the commands both protocols
share (:mod:`.protocol`) and turns session events into Realtime ones. It keeps what
Realtime numbers: item and response ids, and per reply its resampler to the output rate.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import soxr

from ..events import (
    ErrorEvent,
    Event,
    Interrupted,
    ReplyAudio,
    ReplyDone,
    ReplyPaused,
    ReplyResumed,
    ReplyTextDelta,
    SessionCreated,
    SpeechStarted,
    SpeechStopped,
    TextInput,
    TranscriptFinal,
    TranscriptPartial,
    Understood,
)
from .dialects import AudioOut, Outgoing
from .protocol import (
    BARE_EVENTS,
    Cancel,
    Clear,
    ClientEvent,
    ProtocolError,
    SessionUpdate,
    TextIn,
    Truncate,
    audio_end_ms,
    b64_audio,
    json_event,
    unknown_type,
    user_text,
)
from .realtime_config import RealtimeOptions, session_settings

if TYPE_CHECKING:
    from ..conversation.session import Session

REALTIME_PATH = "/v1/realtime"

#: Realtime's client events we take, for the error that lists them.
REALTIME_EVENT_TYPES = ("session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
                        "input_audio_buffer.clear", "conversation.item.create", "conversation.item.truncate",
                        "response.create", "response.cancel")

#: Session errors after which a started response will not complete.
_FATAL = ("understand_error", "reply_timeout", "internal_error")

#: Items remembered for truncation (by id); older ones are forgotten.
_KEEP_ITEMS = 64


@dataclass
class _Reply:
    """One turn as Realtime sees it: its user item, and its response once one started."""

    turn_id: int
    user_item: str
    response_id: str = ""
    item_id: str = ""
    transcript_sent: str = ""  # the user transcript's deltas so far
    resampler: soxr.ResampleStream | None = None
    done: bool = False
    cancelled_by_client: bool = False
    text: list[str] = field(default_factory=list)


class RealtimeDialect:
    """One Realtime connection: the session it drives, and the ids it hands out."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.options = RealtimeOptions()
        self._ids = itertools.count(1)  # event ids
        self._responses = itertools.count(1)
        self._replies: OrderedDict[int, _Reply] = OrderedDict()
        self._items: OrderedDict[str, int] = OrderedDict()  # item id -> turn
        self._last_item: str | None = None
        self._event_id: str | None = None  # of the client event being handled, for its error
        self._tts_rate = session.assistant.synthesizer.sample_rate
        # Realtime's audio is 24 kHz unless the client says otherwise.
        session.update({"input_sample_rate": self.options.input_rate})

    # -- client -> server ------------------------------------------------------------

    def parse(self, message: str | bytes) -> ClientEvent:
        self._event_id = None
        if isinstance(message, bytes):
            raise ProtocolError("bad_event", "the Realtime protocol sends audio as base64 in "
                                "input_audio_buffer.append, not as binary frames")
        event = json_event(message)
        if isinstance(event.get("event_id"), str):
            self._event_id = event["event_id"][:64]
        kind = event["type"]
        if kind == "input_audio_buffer.append":
            return b64_audio(event)
        if kind in BARE_EVENTS:
            return BARE_EVENTS[kind]
        if kind == "session.update":
            settings, extra = session_settings(event.get("session"))
            return SessionUpdate(settings, extra)
        if kind == "conversation.item.create":
            text, item_id = user_text(event)
            if item_id is not None and item_id in self._items:
                raise ProtocolError("bad_event", f"conversation.item.create: an item {item_id!r} exists already")
            return TextIn(text, respond=False, item_id=item_id)  # Realtime answers on response.create
        if kind == "conversation.item.truncate":
            return self._truncate(event)
        raise unknown_type(kind, REALTIME_EVENT_TYPES)

    def _truncate(self, event: dict[str, Any]) -> Truncate:
        item_id, end = event.get("item_id"), event.get("audio_end_ms")
        turn = self._items.get(item_id) if isinstance(item_id, str) else None
        reply = self._replies.get(turn) if turn is not None else None
        if reply is None or reply.item_id != item_id:
            raise ProtocolError("bad_event", "conversation.item.truncate: 'item_id' must name an assistant "
                                "message of this session")
        return Truncate(turn, audio_end_ms(end))  # type: ignore[arg-type]

    def answered(self, command: ClientEvent, result: object) -> list[Outgoing]:
        if isinstance(command, SessionUpdate):
            self.options = self.options.with_changes(command.extra or {}, self.session.input_sample_rate)
            return [self._event("session.updated", session=self._session_object())]
        if isinstance(command, TextIn) and isinstance(result, int):
            item_id = command.item_id or f"item_{result:04d}_user"
            self._remember(result, _Reply(result, item_id))
            item = self._user_item(item_id, [{"type": "input_text", "text": command.text}])
            return [self._event("conversation.item.added", previous_item_id=self._advance(item_id), item=item),
                    self._event("conversation.item.done", item=item)]
        if isinstance(command, Truncate):
            item_id = self._replies[command.turn_id].item_id
            return [self._event("conversation.item.truncated", item_id=item_id, content_index=0,
                                audio_end_ms=int(command.audio_end_ms))]
        if isinstance(command, Cancel):
            if not isinstance(result, list) or not result:
                raise ProtocolError("response_cancel_not_active", "there is no response to cancel")
            for turn in result:
                if (cancelled := self._replies.get(turn)) is not None:
                    cancelled.cancelled_by_client = True
        if isinstance(command, Clear):
            return [self._event("input_audio_buffer.cleared")]
        return []

    def error(self, err: ProtocolError) -> dict[str, Any]:
        return self._error(err.code, str(err), self._event_id, "invalid_request_error")

    # -- server -> client ------------------------------------------------------------

    def outgoing(self, event: Event) -> list[Outgoing]:
        reply = self._replies.get(event.turn_id)
        if isinstance(event, SessionCreated):
            return [self._event("session.created", session=self._session_object())]
        if isinstance(event, SpeechStarted):
            opened = self._remember(event.turn_id, _Reply(event.turn_id, f"item_{event.turn_id:04d}_user"))
            return [self._event("input_audio_buffer.speech_started", audio_start_ms=event.audio_ms,
                                item_id=opened.user_item)]
        if isinstance(event, ErrorEvent):
            return self._turn_error(event, reply)
        if reply is None:
            return []  # a turn this connection never saw start (forgotten)
        if isinstance(event, SpeechStopped):
            return [self._event("input_audio_buffer.speech_stopped", audio_end_ms=event.audio_ms,
                                item_id=reply.user_item)]
        if isinstance(event, TranscriptPartial):
            return self._partial(event, reply)
        if isinstance(event, TranscriptFinal):
            return self._final(event, reply)
        if isinstance(event, TextInput):
            return []  # its items went out when the client created it
        if isinstance(event, Understood):
            return [*self._start(reply), self._event("assistant.understood", item_id=reply.user_item,
                                                    **{k: v for k, v in event.to_dict().items() if k != "type"})]
        if isinstance(event, ReplyTextDelta):
            reply.text.append(event.delta)
            return [*self._start(reply), self._part_event("delta", reply, delta=event.delta)]
        if isinstance(event, ReplyAudio):
            return [*self._start(reply), *self._audio(reply, event.pcm)]
        if isinstance(event, (ReplyPaused, ReplyResumed)):
            kind = "paused" if isinstance(event, ReplyPaused) else "resumed"
            return [self._event(f"assistant.response.{kind}", response_id=reply.response_id)]
        if isinstance(event, Interrupted):
            extra = self._event("assistant.interrupt", response_id=reply.response_id, item_id=reply.item_id,
                                heard_text=event.heard_text)
            if not reply.response_id or reply.done:
                return [extra]
            why = "client_cancelled" if reply.cancelled_by_client else "turn_detected"
            return [*self._finish(reply, "cancelled", event.heard_text, why), extra]
        if isinstance(event, ReplyDone):
            started = self._start(reply)
            return [*started, *self._finish(reply, "completed", event.text),
                    self._event("assistant.response.metrics", response_id=reply.response_id, metrics=event.metrics)]
        return []

    def _partial(self, event: TranscriptPartial, reply: _Reply) -> list[Outgoing]:
        # Realtime's deltas add up to the transcript: only words that will not change are sent as
        # deltas; the whole live guess rides along in our own event.
        out: list[Outgoing] = [self._event("assistant.input_audio_transcription.partial", item_id=reply.user_item,
                                           stable=event.stable, unstable=event.unstable)]
        if event.stable.startswith(reply.transcript_sent) and len(event.stable) > len(reply.transcript_sent):
            delta, reply.transcript_sent = event.stable[len(reply.transcript_sent):], event.stable
            out.insert(0, self._event("conversation.item.input_audio_transcription.delta", item_id=reply.user_item,
                                      content_index=0, delta=delta))
        return out

    def _final(self, event: TranscriptFinal, reply: _Reply) -> list[Outgoing]:
        item_id = reply.user_item
        previous = self._advance(item_id)
        item = self._user_item(item_id, [{"type": "input_audio", "transcript": event.transcript}])
        return [
            self._event("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id),
            self._event("conversation.item.added", previous_item_id=previous, item=item),
            self._event("conversation.item.input_audio_transcription.completed", item_id=item_id, content_index=0,
                        transcript=event.transcript),
            self._event("conversation.item.done", item=item),
            self._event("assistant.input_audio_transcription.nbest", item_id=item_id,
                        nbest=[{"text": h.text, "logprob": h.logprob, "posterior": h.posterior} for h in event.nbest],
                        echo_share=event.echo_share),
        ]

    def _turn_error(self, event: ErrorEvent, reply: _Reply | None) -> list[Outgoing]:
        out: list[Outgoing] = []
        kind = "invalid_request_error" if event.code in ("commit_empty", "no_request") else "server_error"
        if event.code == "commit_empty":
            event = ErrorEvent(event.turn_id, event.message, "input_audio_buffer_commit_empty")
        out.append(self._error(event.code, event.message, None, kind))
        if reply is not None and reply.response_id and not reply.done and event.code in _FATAL:
            out.extend(self._finish(reply, "failed", "".join(reply.text)))
        return out

    # -- responses ------------------------------------------------------------------

    def _start(self, reply: _Reply) -> list[Outgoing]:
        """The response's opening events, the first time anything of it goes out."""
        if reply.response_id:
            return []
        n = next(self._responses)
        reply.response_id, reply.item_id = f"resp_{n:04d}", f"item_{n:04d}_assistant"
        self._items[reply.item_id] = reply.turn_id
        if self.options.output_rate != self._tts_rate:
            reply.resampler = soxr.ResampleStream(self._tts_rate, self.options.output_rate, 1, dtype="int16")
        item = self._assistant_item(reply, "in_progress", [])
        return [
            self._event("response.created", response=self._response(reply, "in_progress", [])),
            self._event("response.output_item.added", response_id=reply.response_id, output_index=0, item=item),
            self._event("conversation.item.added", previous_item_id=self._advance(reply.item_id), item=item),
            self._event("response.content_part.added", response_id=reply.response_id, item_id=reply.item_id,
                        output_index=0, content_index=0, part=self._part(""))]

    def _audio(self, reply: _Reply, pcm: bytes, last: bool = False) -> list[Outgoing]:
        seconds = len(pcm) / 2 / self._tts_rate
        if reply.resampler is not None:
            pcm = reply.resampler.resample_chunk(np.frombuffer(pcm, np.int16), last=last).tobytes()
        if not pcm:
            return []
        message = self._part_event("audio", reply, delta=base64.b64encode(pcm).decode("ascii"))
        return [AudioOut((json.dumps(message),), seconds, reply.turn_id)]

    def _finish(self, reply: _Reply, status: str, text: str, reason: str | None = None) -> list[Outgoing]:
        reply.done = True
        out: list[Outgoing] = [*self._audio(reply, b"", last=True)] if status == "completed" else []
        rid, iid = reply.response_id, reply.item_id
        where = {"response_id": rid, "item_id": iid, "output_index": 0, "content_index": 0}
        if self.options.speaks:
            out += [self._event("response.output_audio.done", **where),
                    self._event("response.output_audio_transcript.done", **where, transcript=text)]
        else:
            out.append(self._event("response.output_text.done", **where, text=text))
        item = self._assistant_item(reply, "completed" if status == "completed" else "incomplete",
                                    [self._part(text, in_item=True)])
        details = {"type": status, "reason": reason} if reason else None
        out += [self._event("response.content_part.done", **where, part=self._part(text)),
                self._event("response.output_item.done", response_id=rid, output_index=0, item=item),
                self._event("conversation.item.done", item=item),
                self._event("response.done", response=self._response(reply, status, [item], details))]
        return out

    def _part(self, text: str, in_item: bool = False) -> dict[str, Any]:
        """The reply's content: a part event's ``audio``/``text``, an item's ``output_audio``/``output_text``."""
        prefix = "output_" if in_item else ""
        return {"type": f"{prefix}audio", "transcript": text} if self.options.speaks else \
            {"type": f"{prefix}text", "text": text}

    def _part_event(self, kind: str, reply: _Reply, **fields: Any) -> dict[str, Any]:
        """A delta of the reply: its ``audio``, or its text (the audio's transcript, or the text itself)."""
        name = {"audio": "response.output_audio.delta"}.get(kind) or (
            "response.output_audio_transcript.delta" if self.options.speaks else "response.output_text.delta")
        return self._event(name, response_id=reply.response_id, item_id=reply.item_id, output_index=0,
                           content_index=0, **fields)

    def _response(self, reply: _Reply, status: str, output: list[dict[str, Any]],
                  details: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"object": "realtime.response", "id": reply.response_id, "status": status, "status_details": details,
                "output": output, "output_modalities": self.options.modalities, "conversation_id": None,
                "metadata": None, "usage": None,
                "audio": {"output": {"format": self.options.output_format(), "voice": self.options.voice}}}

    def _assistant_item(self, reply: _Reply, status: str, content: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": reply.item_id, "object": "realtime.item", "type": "message", "role": "assistant",
                "status": status, "content": content}

    @staticmethod
    def _user_item(item_id: str, content: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": item_id, "object": "realtime.item", "type": "message", "role": "user", "status": "completed",
                "content": content}

    # -- bookkeeping ------------------------------------------------------------------

    def _session_object(self) -> dict[str, Any]:
        cfg = self.session.config
        return self.options.session_object(self.session.id, self.session.input_sample_rate, cfg.turn,
                                           cfg.llm.instructions)

    def _remember(self, turn_id: int, reply: _Reply) -> _Reply:
        self._replies[turn_id] = reply
        self._items[reply.user_item] = turn_id
        for table in (self._replies, self._items):
            while len(table) > _KEEP_ITEMS:
                table.popitem(last=False)
        return reply

    def _advance(self, item_id: str) -> str | None:
        """``item_id`` is the newest item; returns the one before it."""
        previous, self._last_item = self._last_item, item_id
        return previous if previous != item_id else None

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "event_id": f"event_{next(self._ids):05d}", **fields}

    def _error(self, code: str, message: str, event_id: str | None, kind: str) -> dict[str, Any]:
        return self._event("error", error={"type": kind, "code": code, "message": message, "param": None,
                                           "event_id": event_id})
