"""Named fakes for orchestration tests: no models, deterministic, milliseconds per turn.

The fakes stand in for the models only; the session, the listener, the endpointer,
the responder, the chunker, the barge-in policy and the playback clock are the real ones.

Speech is a sine tone whose frequency says which phrase it is ("phrase k" is
``300 + 60 k`` Hz): :class:`FakeVAD` hears any tone as speech, and
:class:`FakeRecognizer` finds the tone's frequency and returns the phrase. Every
fake looks for a tag like ``t17`` in the text it handles and, if the :class:`Faults`
plan says so, fails, hangs or is slow at that point: chaos on purpose.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant import Assistant, Config
from assistant.events import Hypothesis
from assistant.listen.asr import Transcript
from assistant.listen.listener import Listener
from assistant.listen.vad import FrameDecision
from assistant.metrics import TurnClock
from assistant.reply.llm import Message
from assistant.reply.responder import Responder
from assistant.skills import Timers
from assistant.speak.synthesizer import SpeechFrame
from assistant.threads import Cancelled
from assistant.understand.understander import Understanding

RATE = 16_000
_TAG = re.compile(r"\bt(\d+)\b")

#: What a fault does: raise at once, hang (until the work is stopped, or for good: 'stuck'), be slow.
#: The detector runs on the event loop, where a hang would stop everything: it only raises or is slow.
KINDS = ("raise", "hang", "stuck", "slow")
VAD_KINDS = ("raise", "slow")
#: Where it happens.
STAGES = ("vad", "asr", "understand", "llm", "tts")


class FakeFailure(RuntimeError):
    """The error a fake raises on purpose."""


@dataclass
class Faults:
    """Turn tag -> (stage, kind). ``hang_s`` bounds every hang so no test can block for good."""

    plan: dict[int, tuple[str, str]] = field(default_factory=dict)
    hang_s: float = 1.0
    slow_s: float = 0.05

    def hit(self, stage: str, text: str, stop: Cancelled | None = None) -> None:
        """Act out the fault planned for ``text``'s tag at ``stage``, if any."""
        m = _TAG.search(text)
        fault = self.plan.get(int(m.group(1))) if m else None
        if fault is None or fault[0] != stage:
            return
        kind = fault[1]
        if stage == "vad":  # the detector runs on the event loop, frame by frame: once is enough
            del self.plan[int(m.group(1))]  # type: ignore[union-attr]
        if kind == "raise":
            raise FakeFailure(f"fake {stage} failure on t{m.group(1)}")  # type: ignore[union-attr]
        if kind == "slow":
            time.sleep(self.slow_s)
            return
        deadline = time.monotonic() + self.hang_s
        while time.monotonic() < deadline and not (kind == "hang" and stop is not None and stop.is_set()):
            time.sleep(0.005)


def tag_of(text: str) -> str:
    """The turn tag in ``text`` ("t17"), or ""."""
    m = _TAG.search(text)
    return m.group(0) if m else ""


def tone(k: int, seconds: float = 0.35, amplitude: float = 0.3) -> np.ndarray:
    """Phrase ``k`` "spoken": a sine at its own frequency."""
    t = np.arange(int(RATE * seconds)) / RATE
    return (amplitude * np.sin(2 * np.pi * (300 + 60 * k) * t)).astype(np.float32)


def _phrase_index(audio: np.ndarray) -> int | None:
    if len(audio) < 256 or float(np.sqrt(np.mean(audio**2))) < 0.01:
        return None
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    freq = float(np.argmax(spectrum)) * RATE / len(audio)
    return max(0, round((freq - 300) / 60))


class FakeVAD:
    """A tone is speech, silence is not; fails on the frames of a planned 'vad' fault."""

    def __init__(self, phrases: list[str], faults: Faults) -> None:
        self.phrases, self.faults = phrases, faults

    def __call__(self, frame: np.ndarray) -> FrameDecision:
        loud = float(np.sqrt(np.mean(frame**2))) > 0.01
        k = _phrase_index(frame) if loud else None
        if k is not None and k < len(self.phrases):
            self.faults.hit("vad", self.phrases[k])
        return FrameDecision(loud, 1.0 if loud else 0.0)

    def reset(self) -> None:
        pass


class FakeRecognizer:
    """Returns the phrase whose tone it hears, with a two-hypothesis n-best list."""

    def __init__(self, phrases: list[str], faults: Faults) -> None:
        self.phrases, self.faults = phrases, faults

    def _text(self, audio: np.ndarray) -> str:
        k = _phrase_index(audio)
        return self.phrases[k] if k is not None and k < len(self.phrases) else ""

    def partial(self, audio: np.ndarray) -> str:
        return " ".join(self._text(audio).split()[:2])

    def final(self, audio: np.ndarray, n: int | None = None) -> Transcript:
        text = self._text(audio)
        self.faults.hit("asr", text)
        nbest = (Hypothesis(text, -0.1, 0.9), Hypothesis(text + " too", -2.0, 0.1)) if text else ()
        return Transcript(text, nbest, len(audio) / RATE, 1.0)


@dataclass(frozen=True)
class Route:
    """How the fake understander routes a phrase (by its first word)."""

    SKILL = "skill"  # "skill t3": a skill answers at once
    DECIDES = "decides"  # "decides t3": the classifier is unsure, the LLM picks an intent with a skill
    LLM = "llm"  # anything else: the LLM answers


class FakeUnderstander:
    """Routes by the first word; the LLM's intent ``alarm_set`` has a skill, so that route ends in a skill."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults

    def understand(self, nbest: tuple[Hypothesis, ...], timers: Timers | None = None) -> Understanding:
        text = nbest[0].text
        self.faults.hit("understand", text)
        tag = tag_of(text)
        first = text.split()[0] if text.split() else ""
        base = Understanding(text, nbest, "general_quirky", 0.9, (("general_quirky", 0.9), ("alarm_set", 0.1)))
        if first == Route.SKILL:
            return Understanding(text, nbest, "datetime_query", 0.99, base.candidates, skill_reply=f"Skill answer {tag}.")
        if first == Route.DECIDES:
            return Understanding(text, nbest, "general_quirky", 0.2, base.candidates, llm_decides=True)
        return base

    def preview(self, nbest: tuple[Hypothesis, ...]) -> Understanding | None:
        text = nbest[0].text
        if text.split()[:1] == [Route.SKILL]:
            return None
        decides = text.split()[:1] == [Route.DECIDES]
        return Understanding(text, nbest, "general_quirky", 0.2 if decides else 0.9,
                             (("general_quirky", 0.9), ("alarm_set", 0.1)), llm_decides=decides)

    def rescored(self, nbest: tuple[Hypothesis, ...], wait: bool = True) -> tuple[Hypothesis, ...]:
        return nbest

    def run_skill(self, intent: str, u: Understanding, timers: Timers | None = None) -> str | None:
        tag = tag_of(u.text)
        return f"The skill for {intent} answers {tag}." if intent == "alarm_set" else None


class FakeLLM:
    """Streams a short reply word by word; under a grammar it writes ``intent: alarm_set`` first."""

    def __init__(self, faults: Faults, words: int = 8) -> None:
        self.faults, self.words = faults, words
        self.calls = 0
        self.seen: list[Message] = []  # the messages of the latest call
        self.prefills: list[tuple[int, str | None]] = []
        self.on_prefill: Callable[[int, str | None], None] = lambda messages, open_user: None
        self.user_messages: list[str] = []  # the user message of every call, in order

    def stream(self, messages: list[Message], cancel: Cancelled, grammar: str | None = None,
               max_tokens: int | None = None) -> Iterator[str]:
        self.calls += 1
        self.seen = messages
        request = messages[-1].content
        self.user_messages.append(request)
        tag = tag_of(request)
        if grammar:
            yield "intent: alarm_set\nreply: "
        yield "Reply"
        self.faults.hit("llm", request, cancel)
        for i in range(self.words):
            if cancel.is_set():
                return
            yield f" {tag}" if i == 0 else f" word{i}"
        yield "."

    def prefill(self, messages: list[Message], open_user: str | None = None) -> int:
        self.on_prefill(len(messages), open_user)
        self.prefills.append((len(messages), open_user))
        return 0


class FakeSynthesizer:
    """Silence in 20 ms frames, 60 ms per word (zeros: the echo suppressor has nothing to subtract)."""

    sample_rate = RATE

    def __init__(self, faults: Faults, ms_per_word: int = 60) -> None:
        self.faults, self.ms_per_word = faults, ms_per_word

    def frames(self, text: str, cancel: Cancelled | None = None, urgent: bool = False) -> Iterator[SpeechFrame]:
        self.faults.hit("tts", text, cancel)
        n = RATE * self.ms_per_word * max(1, len(text.split())) // 1000
        step = RATE // 50
        for i in range(0, n, step):
            if cancel is not None and cancel.is_set():
                return
            yield SpeechFrame(np.zeros(min(step, n - i), np.float32), round(len(text) * min(n, i + step) / n))


class FakeAssistant(Assistant):
    """An :class:`Assistant` whose models are all fakes (the pipeline around them is real)."""

    def __init__(self, phrases: list[str], faults: Faults | None = None, config: Config | None = None) -> None:
        super().__init__(config or Config())
        self.faults = faults or Faults()
        self.phrases = phrases
        self.fake_llm = FakeLLM(self.faults)
        self.__dict__.update(
            recognizer=FakeRecognizer(phrases, self.faults),
            understander=FakeUnderstander(self.faults),
            responder=Responder(self.fake_llm),
            synthesizer=FakeSynthesizer(self.faults),
        )

    def listener(self, config: Config, next_turn: Any = None, clock: Any = None) -> Listener:
        def turn_clock(turn_id: int) -> TurnClock:
            return clock(turn_id) if clock else TurnClock()

        return Listener(self.recognizer, None, config, next_turn, turn_clock, self.workers,  # type: ignore[arg-type]
                        vad=FakeVAD(self.phrases, self.faults))


def fast_config(stall_s: float = 0.4) -> Config:
    """Settings for fake sessions: unpaced output, short watchdog and decode timeouts."""
    cfg = Config()
    cfg.duplex.realtime_output = False
    cfg.duplex.reply_stall_s = stall_s
    cfg.asr.decode_timeout_s = stall_s
    cfg.turn.type = "server_vad"  # the fixed endpoint: turn-taking has tests of its own
    return cfg


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(RATE * seconds), np.float32)

