"""What a client may change in its session, checked all or nothing, and how its audio arrives."""

from __future__ import annotations

import math

import numpy as np
import soxr

from ..config import EAGERNESS, INPUT_SAMPLE_RATE, Config
from ..errors import AssistantError

#: Settings a client may change: name -> (section, field, type, min, max).
UPDATABLE: dict[str, tuple[str, str, type, float, float]] = {
    "silence_ms": ("vad", "silence_ms", int, 100, 3000),
    "min_speech_ms": ("vad", "min_speech_ms", int, 0, 2000),
    "max_utterance_s": ("vad", "max_utterance_s", float, 1.0, 60.0),
    "speech_threshold": ("vad", "speech_threshold", float, 0.1, 0.95),
    "nbest": ("asr", "nbest", int, 1, 10),
    "partial_interval_ms": ("asr", "partial_interval_ms", int, 200, 5000),
    "confirm_ms": ("duplex", "confirm_ms", int, 100, 3000),
}

#: Input rates a client may declare (``input_sample_rate``); audio is resampled to 16 kHz.
INPUT_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)

#: Instructions longer than this are refused (~1000 tokens: half the LLM's context).
MAX_INSTRUCTIONS = 4000

_STREAM = ("input_audio_format", "input_sample_rate")  # how the audio arrives, not a config field


def _turn_detection(value: object) -> dict[str, object]:
    """Check a Realtime ``turn_detection`` object (or null: the client commits); return the config changes."""
    if value is None:
        return {"turn.type": "none"}
    if not isinstance(value, dict) or value.get("type") not in ("semantic_vad", "server_vad"):
        raise AssistantError("turn_detection must be {\"type\": \"semantic_vad\", \"eagerness\": ...}, "
                             "{\"type\": \"server_vad\", \"silence_duration_ms\": ...} or null")
    kind = value["type"]
    common = {"type", "create_response", "interrupt_response"}
    allowed = common | ({"eagerness"} if kind == "semantic_vad" else
                        {"silence_duration_ms", "threshold", "prefix_padding_ms", "idle_timeout_ms"})
    if extra := sorted(str(k)[:30] for k in value if k not in allowed):
        raise AssistantError(f"turn_detection of type {kind} takes {', '.join(sorted(allowed))}; not {', '.join(extra)}")
    changes: dict[str, object] = {"turn.type": kind}
    if kind == "semantic_vad":
        eagerness = value.get("eagerness", "auto")
        if not isinstance(eagerness, str) or eagerness not in EAGERNESS:  # a list is no key
            raise AssistantError(f"turn_detection eagerness must be one of {', '.join(EAGERNESS)}")
        changes["turn.eagerness"] = eagerness
    for name, field_name in (("silence_duration_ms", "silence_ms"), ("threshold", "speech_threshold")):
        if name in value:
            changes[f"vad.{field_name}"] = _number(f"turn_detection {name}", value[name], *UPDATABLE[field_name][2:])
    if "prefix_padding_ms" in value:  # accepted, for clients that always send it: the pre-roll stays 300 ms
        _number("turn_detection prefix_padding_ms", value["prefix_padding_ms"], int, 0, 1000)
    if not isinstance(value.get("create_response", True), bool):
        raise AssistantError("turn_detection create_response must be true or false")
    changes["turn.create_response"] = value.get("create_response", True)
    if value.get("idle_timeout_ms") is not None:  # clients send null; the server's idle timeout is its own
        raise AssistantError("turn_detection idle_timeout_ms is not supported (send null or leave it out)")
    if value.get("interrupt_response", True) is not True:
        # Barge-in is how the assistant listens while it talks; it cannot be turned off.
        raise AssistantError("turn_detection interrupt_response can only be true here")
    return changes


def _instructions(value: object) -> dict[str, object]:
    if not isinstance(value, str) or len(value) > MAX_INSTRUCTIONS:
        raise AssistantError(f"instructions must be a string of at most {MAX_INSTRUCTIONS} characters")
    return {"llm.instructions": value.strip()}


def _modalities(value: object) -> dict[str, object]:
    """Realtime's ``output_modalities``: ``["audio"]`` (speech, with its transcript) or ``["text"]``."""
    if value not in (["audio"], ["text"]):
        raise AssistantError('output_modalities must be ["audio"] or ["text"]')
    return {"tts.speak": value == ["audio"]}


#: Settings in OpenAI Realtime's shapes, each checked by its own function.
_SHAPED = {"turn_detection": _turn_detection, "output_modalities": _modalities, "instructions": _instructions}


def _number(name: str, value: object, kind: type, lo: float, hi: float) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (kind is int and value != int(value)):
        raise AssistantError(f"setting {name!r} must be {'an integer' if kind is int else 'a number'}")
    if not lo <= value <= hi:
        raise AssistantError(f"setting {name!r} must be between {lo} and {hi}")
    return int(value) if kind is int else float(value)


class InputFormat:
    """The rate the client sends at, and the resampler that brings it to 16 kHz."""

    def __init__(self) -> None:
        self.rate = INPUT_SAMPLE_RATE
        self._to_16k: soxr.ResampleStream | None = None

    def set_rate(self, rate: int) -> None:
        if rate != self.rate:
            self.rate = rate
            self._to_16k = None if rate == INPUT_SAMPLE_RATE else soxr.ResampleStream(
                rate, INPUT_SAMPLE_RATE, 1, dtype="float32")

    def to_16k(self, samples: np.ndarray) -> np.ndarray:
        return samples if self._to_16k is None else self._to_16k.resample_chunk(samples)


def apply_settings(settings: dict[str, object], config: Config, stream: InputFormat) -> dict[str, object]:
    """Check every setting, then apply them all to ``config`` and ``stream``; return what was applied.

    Raises :class:`~assistant.errors.AssistantError` naming the first bad setting (nothing changes then).
    """
    rate = settings.get("input_sample_rate", stream.rate)
    if isinstance(rate, bool) or rate not in INPUT_RATES:
        raise AssistantError(f"input_sample_rate {str(rate)[:20]!r} is not supported; use one of "
                             f"{', '.join(map(str, INPUT_RATES))} (16000 needs no resampling)")
    if settings.get("input_audio_format", "pcm16") != "pcm16":
        raise AssistantError("input_audio_format must be 'pcm16' (16-bit little-endian mono)")
    checked: dict[str, object] = {}
    changes: dict[str, object] = {}  # "section.field" -> value
    for name, value in settings.items():
        if name in _STREAM:
            continue
        if name in _SHAPED:
            changes.update(_SHAPED[name](value))
            checked[name] = value
            continue
        if name not in UPDATABLE:
            raise AssistantError(f"unknown setting {str(name)[:40]!r}; settable: "
                                 f"{', '.join([*UPDATABLE, *_SHAPED, *_STREAM])}")
        section, attr, kind, lo, hi = UPDATABLE[name]
        checked[name] = changes[f"{section}.{attr}"] = _number(name, value, kind, lo, hi)
    for key, value in changes.items():
        section, attr = key.split(".")
        setattr(getattr(config, section), attr, value)
    stream.set_rate(int(rate))  # type: ignore[call-overload]
    checked.update({k: settings[k] for k in _STREAM if k in settings})
    return checked
