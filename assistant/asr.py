"""Speech recognition with faster-whisper (CTranslate2 Whisper)."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel

from .config import ASRConfig
from .events import Hypothesis

# Whisper's well-known inventions on silence and noise; never pass them on as speech.
_HALLUCINATIONS = {
    "",
    "you",
    "thank you",
    "thanks for watching",
    "thank you for watching",
    "bye",
    "so",
}


@dataclass(frozen=True)
class Transcript:
    """Result of recognising one utterance."""

    text: str
    nbest: tuple[Hypothesis, ...]
    audio_s: float
    compute_ms: float

    @property
    def empty(self) -> bool:
        return not self.text


def _normalise_key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum() or ch == " ").strip()


class Recognizer:
    """Whole-utterance Whisper decoding.

    One instance serves many sessions: CTranslate2 runs concurrent calls safely,
    but on two cores they only fight, so calls are serialised by a lock.
    """

    def __init__(self, model_dir: Path, config: ASRConfig) -> None:
        self.config = config
        self.model = WhisperModel(
            str(model_dir), device="cpu", compute_type=config.compute_type, cpu_threads=config.cpu_threads
        )
        self._lock = threading.Lock()

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """Decode float32 16 kHz mono audio with beam search; 1-best for now."""
        t0 = time.perf_counter()
        with self._lock:
            segments, _info = self.model.transcribe(
                audio,
                language=self.config.language,
                beam_size=self.config.beam_size,
                condition_on_previous_text=False,
                without_timestamps=True,
                vad_filter=False,
            )
            segs = list(segments)
        text = " ".join(s.text.strip() for s in segs).strip()
        logprob = sum(s.avg_logprob for s in segs) / len(segs) if segs else -math.inf
        no_speech = min((s.no_speech_prob for s in segs), default=1.0)
        if _normalise_key(text) in _HALLUCINATIONS or (no_speech > 0.6 and logprob < -1.0):
            text = ""
        nbest = (Hypothesis(text=text, logprob=logprob, posterior=1.0),) if text else ()
        return Transcript(
            text=text,
            nbest=nbest,
            audio_s=len(audio) / 16000,
            compute_ms=(time.perf_counter() - t0) * 1000,
        )
