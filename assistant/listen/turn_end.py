"""Is the person done? Two cues at the first short pause: prosody (smart-turn) and the words.

- **smart-turn v3.2** (pipecat-ai's BSD-2 ONNX, run here with onnxruntime): the Whisper
  log-mel (80 x 800) of the last 8 s of the utterance, left-padded with silence, in;
  P(turn complete) out. The features are faster-whisper's own log-mel over the
  zero-mean, unit-variance waveform, which matches the reference extractor to 3e-6.
  About 110 ms a call on one AVX2 core.
- **The transcript**: a request rarely ends in "for", "the", "and", "my" or a trailing
  comma; Whisper writes "..." or "," where speech trails off. Beyond these rules a learnt
  cue (``understand.completeness``, the ``WordsCue``) reads whether the words make a whole
  request: Whisper often hears a fragment wrongly or "completes" it ("What is the square
  root on?", "How do you spell?"), and no list of words catches that.

The model judges prosody, and synthetic voices have little: on espeak-ng fragments it calls
most of them complete. The words are the stronger cue when they say "unfinished", so they
win then; otherwise the two are mixed (weights measured with ``assistant bench turns``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import onnxruntime as ort
from faster_whisper.feature_extractor import FeatureExtractor

from ..config import EAGERNESS, INPUT_SAMPLE_RATE, TurnConfig
from ..events import Hypothesis
from .asr import word_key

_WINDOW = 8 * INPUT_SAMPLE_RATE  # the model sees the last 8 s
NO_MODEL_P = 0.9

#: Words a spoken request almost never ends on: articles, prepositions, conjunctions,
#: possessives, auxiliaries and fillers. "turn on the" / "set a timer for" / "call my".
#: Left out on purpose, because requests do end on them: "on", "off", "up" ("turn it on"),
#: "this"/"that" ("what's that"), "like" ("what does it look like"), "do", "no".
CANT_END = frozenset("""
a an the my your his her its our their some any every each another
for to of in at by with from into onto about than as near between until
and or but nor because if when while whether although though unless plus minus times
is are was were been am will would can could should shall must may might has
not very really just um uh er erm
what's whats what where who which how why whose
""".split())


class WordsCue(Protocol):
    """A learnt reading of the n-best: P(the words make a whole request), None without words."""

    def p_complete(self, nbest: Sequence[Hypothesis]) -> float | None: ...


@dataclass(frozen=True)
class Verdict:
    """The judgement at a pause: the combined P(complete), how long the pause may last, the
    model's P(complete), the n-best's share that trails off and the words cue's P(complete)."""

    score: float
    wait_ms: int
    model: float | None
    trailing: float | None
    words: float | None = None


_NUMBER = re.compile(r"^(\d+([.,]\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"\w+teen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand)$")


def trails_off(text: str) -> float | None:
    """How surely the words alone say "not done": 1 when they trail off ("for", "the", "and", a
    trailing comma or "..."), 0.5 for a number after "for" (its unit may follow), else 0; None
    when there are no words."""
    stripped = text.strip()
    if not stripped:
        return None
    if stripped.endswith(("...", "…", ",", "-", "—", ":", ";")):
        return 1.0
    words = word_key(stripped).split()
    if words and words[-1] in CANT_END:
        return 1.0
    if len(words) >= 2 and words[-2] == "for" and _NUMBER.match(words[-1]):
        return 0.5
    return 0.0


def trailing_share(words: Sequence[Hypothesis] | str) -> float | None:
    """:func:`trails_off` over the recogniser's n-best list, weighted by posterior. Whisper often
    "completes" a fragment in its best guess ("What is the capital?") and keeps the trailing word
    in another ("What is the capital of?"): the list knows more than its first line."""
    if isinstance(words, str):
        return trails_off(words)
    cues = [(h.posterior, c) for h in words if (c := trails_off(h.text)) is not None]
    mass = sum(p for p, _ in cues)
    return sum(p * c for p, c in cues) / mass if mass > 0 else None


class SmartTurn:
    """The smart-turn v3.2 ONNX model on one thread (it runs beside the recogniser's two)."""

    def __init__(self, model_path: Path) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._session = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
        self._features = FeatureExtractor(feature_size=80)

    def features(self, audio: np.ndarray) -> np.ndarray:
        """(80, 800) log-mel of the last 8 s of ``audio`` (16 kHz), silence-padded at the start."""
        x = np.asarray(audio, dtype=np.float32)[-_WINDOW:]
        x = np.pad(x, (_WINDOW - len(x), 0))
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        return self._features(x, padding=0).astype(np.float32)

    def p_complete(self, audio: np.ndarray) -> float:
        out = self._session.run(None, {"input_features": self.features(audio)[None]})[0]
        return float(np.asarray(out).reshape(-1)[0])


class TurnJudge:
    """Combines the cues into a verdict for one pause, by the session's settings."""

    def __init__(self, config: TurnConfig) -> None:
        self.config = config

    def verdict(self, model_p: float | None, words: Sequence[Hypothesis] | str, silence_ms: int = 300,
                words_p: float | None = None) -> Verdict:
        cfg = self.config
        trailing = trailing_share(words)
        # Without the model (none loaded, or it failed) prosody counts as "probably done", which is
        # what smart-turn says of most utterances anyway: the words then decide.
        prosody = NO_MODEL_P if model_p is None else model_p
        # The words say "done" as surely as the less sure of their two readings: the rules (a
        # trailing "for" is never done) and the learnt cue (``words_p``), when there is one.
        done = None if trailing is None else 1 - trailing
        if words_p is not None:
            done = words_p if done is None else min(done, words_p)
        score = prosody if done is None else cfg.model_weight * prosody + (1 - cfg.model_weight) * done
        wait = EAGERNESS[cfg.eagerness].wait_ms(score, silence_ms)
        return Verdict(round(score, 3), wait, model_p, None if trailing is None else round(trailing, 3),
                       None if words_p is None else round(words_p, 3))
