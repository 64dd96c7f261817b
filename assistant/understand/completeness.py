"""Do these words read as a whole request? The transcript's cue to the end of a turn.

A logistic head over the sentence encoder's ending features (pooled layers plus the last
word piece's states, :meth:`SentenceEncoder.ending_features`), trained by
``assistant.understand.training --only complete`` on MASSIVE train: each utterance is a
whole request, a random cut of it ("set an alarm for", "what is the square root") is not,
unless that cut is itself a request of the data. Texts are read as the WER normaliser
writes them (lower case, numbers as words, no punctuation), so Whisper's "Set a timer
for 25 minutes." and MASSIVE's "set a timer for twenty five minutes" read alike, and
Whisper's habit of ending a fragment with "?" or "." tells it nothing.

It sees what the rules of ``listen.turn_end.trails_off`` cannot: a fragment Whisper heard
wrongly or "completed" ("What is the square root on?", "How do you spell?").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..events import Hypothesis
from ..textnorm import normalise_for_wer
from .blas import OneBlasThread
from .classifier import HEAD_DIR, posterior_weights
from .encoder import SentenceEncoder

COMPLETE_FILE = "complete.npz"


class TextCompleteness:
    """P(the words are a whole request), for the turn judge (``listen.turn_end.WordsCue``)."""

    def __init__(self, encoder: SentenceEncoder, head_dir: Path = HEAD_DIR) -> None:
        try:
            with np.load(head_dir / COMPLETE_FILE) as head:
                self._w = head["w"].astype(np.float32)
                self._b = float(head["b"])
        except FileNotFoundError:
            raise ModelError(f"{COMPLETE_FILE} not found in {head_dir}; train it with `make train-intent`") from None
        if self._w.shape != (2 * encoder.layers * encoder.dim,):
            raise ModelError(f"{head_dir / COMPLETE_FILE}: weights of shape {self._w.shape} do not fit the encoder")
        self.encoder = encoder
        self._one_blas_thread = OneBlasThread()

    @staticmethod
    def words(text: str) -> str:
        """The form the head reads (and was trained on)."""
        return normalise_for_wer(text)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """P(complete) of each text (already in :meth:`words` form)."""
        x = self.encoder.ending_features(texts)
        with self._one_blas_thread():
            z = x @ self._w + self._b
        return 1.0 / (1.0 + np.exp(-z))

    def p_complete(self, nbest: Sequence[Hypothesis]) -> float | None:
        """The n-best's P(complete), weighted by posterior; None when no hypothesis has words."""
        hyps = [(w, h.posterior) for h in nbest if (w := self.words(h.text))]
        if not hyps:
            return None
        return float(posterior_weights([p for _, p in hyps]) @ self.probabilities([w for w, _ in hyps]))

