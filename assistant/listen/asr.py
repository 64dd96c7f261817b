"""Speech recognition with Whisper (CTranslate2, through faster-whisper's model loader).

Three ways to decode, all on the same loaded model:

- :meth:`Recognizer.partial`: greedy decode of the audio so far, for live partials;
- :meth:`Recognizer.final`: beam search returning the N best hypotheses with
  posteriors that sum to 1 (faster-whisper's ``transcribe`` keeps only the best,
  so this calls CTranslate2's ``generate`` with ``num_hypotheses``);
- :meth:`Recognizer.transcribe`: faster-whisper's whole-file decode, the offline
  reference.

Whisper's encoder is built for 30 s windows. CTranslate2 accepts shorter inputs,
and encoding only what is needed is 3-5x faster, but very short windows make the
decoder repeat itself ("10 of close. 10 of close."). Padding to at least 15 s
(and 2 s past the audio) keeps the accuracy of the full window (measured on the
endpointed utterances of ../shared/eval/speech-dev: WER 9.7% at 15 s, 10.3% at
30 s, 12.4% at 10 s) for about a fifth of the encoder time.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer

from ..config import INPUT_SAMPLE_RATE, ASRConfig
from ..events import Hypothesis
from ..textnorm import normalise_for_wer

# Whisper's well-known inventions on silence and noise; never pass them on as speech.
_HALLUCINATIONS = {
    "you",
    "thank you",
    "thanks for watching",
    "thank you for watching",
    "thank you very much",
    "bye",
    "so",
    "okay",
    "oh",
    "uh",
    "um",
    "hmm",
}
_MIN_FRAMES = 1500  # 15 s of mel frames (100 per second)
_PAD_FRAMES = 200
_NON_WORD = re.compile(r"[^a-z0-9' ]+")


def word_key(text: str) -> str:
    """Case- and punctuation-free form, for comparing hypotheses and words."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


#: Words whose change alone does not change a request ("How many legs does the spider have?"
#: beside "... a spider ...", "Tell me a fun fact" beside "Tell me the fun fact").
_DETERMINERS = frozenset({"a", "an", "the", "this", "that", "these", "those"})


def gist(text: str) -> tuple[str, ...]:
    """The words of ``text`` that carry its meaning: two hypotheses with one gist ask the same."""
    return tuple(w for w in word_key(text).split() if w not in _DETERMINERS)


@dataclass(frozen=True)
class Transcript:
    """Final result for one utterance: best text, n-best list, and cost."""

    text: str
    nbest: tuple[Hypothesis, ...]
    audio_s: float
    compute_ms: float
    no_speech_prob: float = 0.0

    @property
    def empty(self) -> bool:
        return not self.text


def _is_hallucination(text: str, no_speech_prob: float, avg_logprob: float, audio_s: float) -> bool:
    key = word_key(text)
    if not key or key in _HALLUCINATIONS:
        return True
    # Whisper's own rule: "no speech" only counts when the decode is also unsure.
    if no_speech_prob > 0.6 and avg_logprob < -1.0:
        return True
    # More than ~6 words a second is not human speech: a decoder loop.
    return len(key.split()) > 6 * audio_s + 4


def posteriors(scores: list[float], temperature: float = 1.0) -> list[float]:
    """Softmax of hypothesis scores divided by ``temperature`` (sums to 1)."""
    if not scores:
        return []
    top = max(scores)
    exps = [math.exp((lp - top) / temperature) for lp in scores]
    s = sum(exps)
    return [e / s for e in exps]


class Recognizer:
    """A loaded Whisper model shared by every session.

    CTranslate2 queues concurrent calls on its single worker, so calls from many
    sessions are safe and do not oversubscribe the two cores.
    """

    def __init__(self, model_dir: Path, config: ASRConfig) -> None:
        self.config = config
        self.model = WhisperModel(
            str(model_dir), device="cpu", compute_type=config.compute_type, cpu_threads=config.cpu_threads
        )
        self._tokenizer = Tokenizer(
            self.model.hf_tokenizer, self.model.model.is_multilingual, task="transcribe", language=config.language
        )
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]

    def _features(self, audio: np.ndarray) -> ctranslate2.StorageView:
        mel = self.model.feature_extractor(audio)
        frames = max(mel.shape[1] + _PAD_FRAMES, _MIN_FRAMES)
        mel = np.pad(mel, ((0, 0), (0, frames - mel.shape[1]))) if mel.shape[1] < frames else mel[:, :frames]
        return ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None], dtype=np.float32))

    def _generate(self, audio: np.ndarray, beam: int, n: int) -> ctranslate2.models.WhisperGenerationResult:
        audio_s = len(audio) / INPUT_SAMPLE_RATE
        return self.model.model.generate(
            self._features(audio),
            [self._prompt],
            beam_size=beam,
            num_hypotheses=n,
            return_scores=True,
            return_no_speech_prob=True,
            # Bounded by what a person can say in that time: stops decoder loops early.
            max_length=int(8 * audio_s + 12),
            suppress_blank=True,
        )[0]

    def partial(self, audio: np.ndarray) -> str:
        """Fast greedy transcript of the audio so far ('' when it is not speech)."""
        if len(audio) < INPUT_SAMPLE_RATE // 4:
            return ""
        result = self._generate(audio, beam=1, n=1)
        text = self._tokenizer.decode(result.sequences_ids[0]).strip()
        audio_s = len(audio) / INPUT_SAMPLE_RATE
        return "" if _is_hallucination(text, result.no_speech_prob, result.scores[0], audio_s) else text

    def final(self, audio: np.ndarray, n: int | None = None) -> Transcript:
        """Beam search with the N best hypotheses and their posteriors.

        Posteriors are a softmax over the beam's length-normalised scores (the
        ranking beam search itself uses), sharpened by ``posterior_temperature``.
        Hypotheses that read the same once normalised ("5" and "five.") are
        merged and their probability mass adds up, so the list holds distinct
        word sequences.
        """
        t0 = time.perf_counter()
        n = n or self.config.nbest
        audio_s = len(audio) / INPUT_SAMPLE_RATE
        result = self._generate(audio, beam=max(self.config.beam_size, n), n=n)
        texts = [self._tokenizer.decode(ids).strip() for ids in result.sequences_ids]
        scores = list(result.scores)
        silent = bool(texts) and _is_hallucination(texts[0], result.no_speech_prob, scores[0], audio_s)
        merged: dict[str, Hypothesis] = {}
        for text, score, post in zip(texts, scores, posteriors(scores, self.config.posterior_temperature)):
            key = normalise_for_wer(text)
            if silent or not key or _is_hallucination(text, 0.0, score, audio_s):
                continue
            if key in merged:
                prev = merged[key]
                merged[key] = Hypothesis(prev.text, prev.logprob, prev.posterior + post)
            else:
                merged[key] = Hypothesis(text, score, post)
        mass = sum(h.posterior for h in merged.values())
        nbest = tuple(
            sorted(
                (Hypothesis(h.text, round(h.logprob, 3), round(h.posterior / mass, 4)) for h in merged.values()),
                key=lambda h: -h.posterior,
            )
        ) if mass > 0 else ()
        return Transcript(
            text=nbest[0].text if nbest else "",
            nbest=nbest,
            audio_s=audio_s,
            compute_ms=(time.perf_counter() - t0) * 1000,
            no_speech_prob=result.no_speech_prob,
        )

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """Offline reference: faster-whisper's whole-file decode (30 s windows, beam search)."""
        t0 = time.perf_counter()
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
        audio_s = len(audio) / INPUT_SAMPLE_RATE
        if _is_hallucination(text, no_speech, logprob, audio_s):
            text = ""
        return Transcript(
            text=text,
            nbest=(Hypothesis(text=text, logprob=logprob, posterior=1.0),) if text else (),
            audio_s=audio_s,
            compute_ms=(time.perf_counter() - t0) * 1000,
            no_speech_prob=no_speech,
        )


class LocalAgreement:
    """LocalAgreement-2: a word is stable once two consecutive decodes agree on it.

    Feed the full hypothesis of the growing utterance after each decode; get back
    the stable prefix and the unstable tail. Stable words never change again.
    """

    def __init__(self) -> None:
        self.stable: list[str] = []
        self._previous: list[str] = []

    def update(self, text: str) -> tuple[str, str]:
        words = text.split()
        keys = [word_key(w) for w in words]
        prev = [word_key(w) for w in self._previous]
        agree = 0
        while agree < min(len(keys), len(prev)) and keys[agree] == prev[agree]:
            agree += 1
        # Only ever extend the stable prefix, and only where the new decode still starts with it.
        n = len(self.stable)
        if agree > n and [word_key(w) for w in self.stable] == keys[:n]:
            self.stable = words[:agree]
        self._previous = words
        return " ".join(self.stable), " ".join(words[len(self.stable) :])
