"""Typed events that a session emits, each stamped with the turn it belongs to.

Event names follow the OpenAI Realtime API where one fits, so the WebSocket
protocol reads familiar; ``to_dict`` gives the JSON form (audio excluded: it
travels as binary frames).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    """Base of every session event."""

    type: ClassVar[str] = "event"
    turn_id: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"type": ..., **fields}``."""
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True)
class SessionCreated(Event):
    """The session is ready; reply audio will arrive at ``output_sample_rate``."""

    type: ClassVar[str] = "session.created"
    session_id: str
    input_sample_rate: int
    output_sample_rate: int


@dataclass(frozen=True)
class SpeechStarted(Event):
    """The person started speaking at ``audio_ms`` (position in the input stream)."""

    type: ClassVar[str] = "input_audio_buffer.speech_started"
    audio_ms: int


@dataclass(frozen=True)
class SpeechStopped(Event):
    """The endpoint: the person stopped speaking at ``audio_ms``."""

    type: ClassVar[str] = "input_audio_buffer.speech_stopped"
    audio_ms: int


@dataclass(frozen=True)
class Hypothesis:
    """One ASR hypothesis with its log-probability and posterior among the n-best."""

    text: str
    logprob: float
    posterior: float


@dataclass(frozen=True)
class TranscriptPartial(Event):
    """Live transcript while the person speaks: ``stable`` words will not change, ``unstable`` may."""

    type: ClassVar[str] = "conversation.item.input_audio_transcription.partial"
    stable: str
    unstable: str
    audio_ms: int

    @property
    def text(self) -> str:
        return f"{self.stable} {self.unstable}".strip()


@dataclass(frozen=True)
class TranscriptFinal(Event):
    """Final transcript of an utterance: the best text and the n-best list."""

    type: ClassVar[str] = "conversation.item.input_audio_transcription.completed"
    transcript: str
    nbest: tuple[Hypothesis, ...]
    echo_share: float = 0.0
    """How surely the utterance was the assistant's own voice (0-1): how closely its loudness
    followed what was played. Near 1: only its echo was heard, not a person."""


@dataclass(frozen=True)
class TextInput(Event):
    """A typed request, answered like a spoken one (its turn has no speech events)."""

    type: ClassVar[str] = "conversation.item.input_text"
    text: str


@dataclass(frozen=True)
class Understood(Event):
    """What the assistant took the person to mean."""

    type: ClassVar[str] = "assistant.understood"
    text: str
    intent: str | None = None
    confidence: float | None = None
    candidates: tuple[tuple[str, float], ...] = ()
    slots: tuple[tuple[str, str], ...] = ()
    """(type, value) pairs found in the text."""
    route: str = "llm"
    """Who answers: ``skill``, ``llm``, or ``llm_decides`` (the LLM also picks the intent)."""
    decided_by: str = "classifier"
    """``classifier``, or ``llm`` when this event reports the LLM's choice of intent."""


@dataclass(frozen=True)
class ReplyTextDelta(Event):
    """A piece of the reply text as it is generated."""

    type: ClassVar[str] = "response.text.delta"
    delta: str


@dataclass(frozen=True)
class ReplyAudio(Event):
    """A frame of reply audio (16-bit mono PCM at the session's output rate)."""

    type: ClassVar[str] = "response.audio.delta"
    pcm: bytes = field(repr=False)
    sample_rate: int

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "turn_id": self.turn_id, "sample_rate": self.sample_rate, "bytes": len(self.pcm)}


@dataclass(frozen=True)
class ReplyDone(Event):
    """The turn's reply is complete; ``metrics`` holds per-stage timings in ms."""

    type: ClassVar[str] = "response.done"
    text: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class ReplyPaused(Event):
    """The person started speaking over the reply: its audio stops until we know more."""

    type: ClassVar[str] = "response.paused"


@dataclass(frozen=True)
class ReplyResumed(Event):
    """It was a false start (a cough, "mm-hm"): the reply carries on where it stopped."""

    type: ClassVar[str] = "response.resumed"


@dataclass(frozen=True)
class Interrupted(Event):
    """The person cut in: the reply is cancelled; the client must flush its playback now.

    ``heard_text`` is what the assistant's turn in the history was cut to (an
    estimate until the client reports its playback position).
    """

    type: ClassVar[str] = "interrupt"
    heard_text: str


@dataclass(frozen=True)
class ErrorEvent(Event):
    """Something went wrong in a turn; the session carries on."""

    type: ClassVar[str] = "error"
    message: str
    code: str = "error"
