"""Per-turn timing marks, shared by the stages of one session."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class TurnClock:
    """Wall-clock marks (``time.perf_counter`` seconds) for one turn."""

    marks: dict[str, float] = field(default_factory=dict)
    info: dict[str, float] = field(default_factory=dict)
    """Facts about the turn that are not times (e.g. whether a speculative decode was used)."""

    def mark(self, name: str, at: float | None = None) -> None:
        """Record ``name`` once (the first time wins); from any thread (one ``dict.setdefault``)."""
        self.marks.setdefault(name, time.perf_counter() if at is None else at)

    def span_ms(self, a: str, b: str) -> float | None:
        """Milliseconds from mark ``a`` to mark ``b``, if both exist."""
        m = self.marks
        return round((m[b] - m[a]) * 1000, 1) if a in m and b in m else None

    def metrics(self) -> dict[str, float]:
        """Per-stage durations in ms, each measured from the mark it depends on."""
        spans = {
            "asr_final_ms": ("endpoint", "asr_done"),
            "understand_ms": ("asr_done", "understood"),
            # The LLM's own first token (its prompt evaluated), and the first words of the reply:
            # later after the intent label of an LLM-decides turn, or a checked first sentence.
            "llm_first_token_ms": ("understood", "llm_first_token"),
            "reply_text_ms": ("understood", "reply_text"),
            "first_text_ms": ("understood", "first_chunk"),
            "tts_first_audio_ms": ("first_chunk", "first_audio"),
            "response_ms": ("endpoint", "first_audio"),
            "reply_total_ms": ("endpoint", "done"),
        }
        out = {k: self.span_ms(a, b) for k, (a, b) in spans.items()}
        return {**{k: v for k, v in out.items() if v is not None}, **self.info}


class TurnClocks:
    """The clocks of a session's turns, by turn id."""

    def __init__(self) -> None:
        self._clocks: dict[int, TurnClock] = {}

    def __getitem__(self, turn_id: int) -> TurnClock:
        return self._clocks.setdefault(turn_id, TurnClock())

    def pop(self, turn_id: int) -> TurnClock:
        return self._clocks.pop(turn_id, TurnClock())

    def forget_before(self, turn_id: int) -> None:
        """Drop the clocks of turns older than ``turn_id`` (interrupted turns never pop theirs)."""
        for old in [t for t in self._clocks if t < turn_id]:
            del self._clocks[old]
