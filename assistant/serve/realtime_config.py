"""Realtime's session configuration: ``session.update`` into our settings, and the session object back.

A Realtime session object nests what our sessions keep flat: ``audio.input.format``
is our ``input_sample_rate``, ``audio.input.turn_detection`` our ``turn_detection``,
``output_modalities`` our text-only switch, ``instructions`` ours. The output format and
the voice name are the protocol's own (:class:`RealtimeOptions`). Parameters a stock
client sends that change nothing here (transcription model, noise reduction, tracing,
``max_output_tokens`` ...) are accepted and listed in docs/PROTOCOL.md; unknown ones
and those we cannot honour (tools, G.711 audio) are refused with a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..config import TurnConfig
from ..conversation.settings import INPUT_RATES
from .protocol import ProtocolError

#: Output rates we resample the voice to (Realtime's own ``audio/pcm`` is 24 kHz).
OUTPUT_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
REALTIME_RATE = 24000

#: Accepted and stored or ignored: they change nothing in this assistant.
_IGNORED = ("model", "tracing", "truncation", "max_output_tokens", "max_response_output_tokens", "include",
            "prompt", "temperature", "tool_choice", "input_audio_transcription", "input_audio_noise_reduction")


@dataclass(frozen=True)
class RealtimeOptions:
    """What the Realtime protocol keeps for a connection (the rest lives in the session's config)."""

    input_rate: int = REALTIME_RATE
    output_rate: int = REALTIME_RATE
    speaks: bool = True
    voice: str = "default"

    @property
    def modalities(self) -> list[str]:
        return ["audio"] if self.speaks else ["text"]

    def output_format(self) -> dict[str, Any]:
        return {"type": "audio/pcm", "rate": self.output_rate}

    def with_changes(self, extra: dict[str, Any], input_rate: int) -> RealtimeOptions:
        return replace(self, input_rate=input_rate, **extra)

    def session_object(self, session_id: str, input_rate: int, turn: TurnConfig, instructions: str) -> dict[str, Any]:
        detection: dict[str, Any] | None
        if turn.type == "none":
            detection = None
        elif turn.type == "semantic_vad":
            detection = {"type": "semantic_vad", "eagerness": turn.eagerness, "create_response": turn.create_response,
                         "interrupt_response": True}
        else:
            detection = {"type": "server_vad", "create_response": turn.create_response, "interrupt_response": True}
        return {
            "type": "realtime", "object": "realtime.session", "id": session_id, "model": "assistant",
            "output_modalities": self.modalities, "instructions": instructions,
            "audio": {
                "input": {"format": {"type": "audio/pcm", "rate": input_rate}, "turn_detection": detection,
                          "transcription": {"model": "whisper-tiny.en"}, "noise_reduction": None},
                "output": {"format": self.output_format(), "voice": self.voice, "speed": 1.0},
            },
            "tools": [], "tool_choice": "auto", "max_output_tokens": "inf", "tracing": None, "truncation": "auto",
        }


def _bad(message: str) -> ProtocolError:
    return ProtocolError("bad_setting", message)


def _rate(fmt: object, where: str, rates: tuple[int, ...]) -> int:
    """The rate of an ``audio/pcm`` format object (24 kHz when it names none)."""
    if fmt == "pcm16":  # the beta protocol's name for 24 kHz PCM
        return REALTIME_RATE
    if not isinstance(fmt, dict) or fmt.get("type", "audio/pcm") != "audio/pcm":
        kind = fmt.get("type") if isinstance(fmt, dict) else fmt
        raise _bad(f"{where}: only audio/pcm (16-bit little-endian mono) is supported, not {str(kind)[:20]!r}")
    rate = fmt.get("rate", REALTIME_RATE)
    if isinstance(rate, bool) or rate not in rates:
        raise _bad(f"{where}: rate {str(rate)[:20]!r} is not supported; use one of {', '.join(map(str, rates))}")
    return int(rate)


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{where} must be an object")
    return value


def _only(value: dict[str, Any], where: str, known: tuple[str, ...]) -> None:
    if extra := sorted(str(k)[:30] for k in value if k not in known):
        raise ProtocolError("unknown_parameter", f"{where}: unknown parameter {', '.join(extra)}; "
                            f"known: {', '.join(known)}")


def session_settings(value: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Realtime ``session.update``'s ``session`` as (our settings, the protocol's own options).

    Raises :class:`~.protocol.ProtocolError` naming what is wrong; nothing is applied then.
    """
    s = _object(value, "session.update 'session'")
    _only(s, "session", ("type", "output_modalities", "modalities", "instructions", "audio", "tools", "voice",
                         "turn_detection", "input_audio_format", "output_audio_format", *_IGNORED))
    if s.get("type", "realtime") != "realtime":
        raise _bad("session.type must be 'realtime' (transcription-only sessions are not offered)")
    if s.get("tools"):
        raise _bad("tools are not supported: the assistant's skills are its own")
    settings: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    audio = _object(s.get("audio", {}), "session.audio")
    _only(audio, "session.audio", ("input", "output"))
    inp = _object(audio.get("input", {}), "session.audio.input")
    _only(inp, "session.audio.input", ("format", "turn_detection", "transcription", "noise_reduction"))
    out = _object(audio.get("output", {}), "session.audio.output")
    _only(out, "session.audio.output", ("format", "voice", "speed"))
    for fmt in (inp.get("format"), s.get("input_audio_format")):
        if fmt is not None:
            settings["input_sample_rate"] = _rate(fmt, "session.audio.input.format", INPUT_RATES)
    for fmt in (out.get("format"), s.get("output_audio_format")):
        if fmt is not None:
            extra["output_rate"] = _rate(fmt, "session.audio.output.format", OUTPUT_RATES)
    for holder in (inp, s):
        if "turn_detection" in holder:
            settings["turn_detection"] = holder["turn_detection"]
    modalities = s.get("output_modalities", s.get("modalities"))
    if modalities is not None:
        if not isinstance(modalities, list) or not modalities or \
                not all(isinstance(m, str) and m in ("audio", "text") for m in modalities):
            raise _bad('output_modalities must be ["audio"] or ["text"]')
        # The beta protocol's ["text", "audio"] meant speech with its transcript: our ["audio"].
        settings["output_modalities"] = ["audio"] if "audio" in modalities else ["text"]
        extra["speaks"] = "audio" in modalities
    if "instructions" in s:
        settings["instructions"] = s["instructions"]
    for holder in (out, s):
        if "voice" in holder:
            if not isinstance(holder["voice"], str) or not 0 < len(holder["voice"]) <= 64:
                raise _bad("voice must be a name (a string of 1 to 64 characters)")
            extra["voice"] = holder["voice"]  # one voice here: the name is kept, not used
    if "speed" in out and out["speed"] != 1.0 and out["speed"] != 1:
        raise _bad("session.audio.output.speed: only 1.0 is supported")
    return settings, extra
