"""The n-best intent classifier: features from every hypothesis, fused by their posteriors.

Features for one text: the mean-pooled states of all six MiniLM layers (2304
numbers; lower layers keep word-level cues the final sentence embedding blurs),
plus sparse TF-IDF word and character n-grams. A multinomial logistic-regression
head (trained by ``assistant.training``, weights in ``models/intent/``) maps them
to the 60 intents; a temperature fitted on MASSIVE dev calibrates its
probabilities.

For an n-best list the class distributions of the hypotheses are mixed with the
hypotheses' posteriors as weights: p(intent) = sum_h p(h | audio) p(intent | h).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..events import Hypothesis
from ..models import MODELS_ROOT
from .blas import OneBlasThread
from .encoder import SentenceEncoder
from .textfeatures import NgramTfidf

HEAD_DIR = MODELS_ROOT / "intent"


@dataclass(frozen=True)
class IntentResult:
    """The classifier's answer: best intent, its calibrated probability, and the runners-up."""

    intent: str
    confidence: float
    candidates: tuple[tuple[str, float], ...]
    coverage: float = 1.0
    """Fraction of the best hypothesis's words that the training data knew (low: out of scope)."""


def posterior_weights(posteriors: list[float]) -> np.ndarray:
    """Hypotheses' posteriors as mixture weights summing to 1 (equal when none is above 0)."""
    w = np.array([max(p, 0.0) for p in posteriors], dtype=np.float64)
    return w / w.sum() if w.sum() > 0 else np.full(len(w), 1 / len(w))


class IntentClassifier:
    """Encoder + TF-IDF features -> calibrated intent probabilities."""

    def __init__(self, encoder: SentenceEncoder, head_dir: Path = HEAD_DIR) -> None:
        try:
            head = np.load(head_dir / "head.npz")
            meta = json.loads((head_dir / "features.json").read_text())
        except FileNotFoundError:
            raise ModelError(f"intent head not found in {head_dir}; train it with `make train-intent`") from None
        self.encoder = encoder
        self.labels: list[str] = meta["labels"]
        self.temperature = float(meta["temperature"])
        self.vectorizers = [NgramTfidf.from_json(v) for v in meta["vectorizers"]]
        self.w_dense = head["w_dense"].astype(np.float32)  # (classes, 2304)
        self.w_sparse = [head[f"w_sparse{i}"].astype(np.float32) for i in range(len(self.vectorizers))]
        self.bias = head["bias"].astype(np.float32)
        self._one_blas_thread = OneBlasThread()

    def logits(self, texts: list[str]) -> np.ndarray:
        """Raw class scores, one row per text."""
        dense = self.encoder.pooled_layers(texts)
        with self._one_blas_thread():
            out = dense @ self.w_dense.T + self.bias
            for row, text in enumerate(texts):
                for vec, w in zip(self.vectorizers, self.w_sparse):
                    idx, val = vec.transform_one(text)
                    if idx.size:
                        out[row] += w[:, idx] @ val
        return out

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Calibrated class probabilities, one row per text."""
        z = self.logits(texts) / self.temperature
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def classify(self, nbest: tuple[Hypothesis, ...] | list[Hypothesis], top: int = 5) -> IntentResult:
        """Fuse the n-best list: posterior-weighted mixture of per-hypothesis distributions."""
        hyps = [h for h in nbest if h.text.strip()]
        if not hyps:
            raise ValueError("empty n-best list")
        weights = posterior_weights([h.posterior for h in hyps])
        probs = (weights[:, None] * self.probabilities([h.text for h in hyps])).sum(axis=0)
        order = np.argsort(-probs)[:top]
        cands = tuple((self.labels[i], round(float(probs[i]), 4)) for i in order)
        best = max(hyps, key=lambda h: h.posterior)
        return IntentResult(cands[0][0], cands[0][1], cands, self.coverage(best.text))

    def coverage(self, text: str) -> float:
        """Share of the words in ``text`` that occur in the word vocabulary (1.0 for no words)."""
        vocab = next((v.vocab for v in self.vectorizers if v.kind == "word"), {})
        words = text.lower().split()
        words = ["".join(ch for ch in w if ch.isalnum() or ch == "'") for w in words]
        words = [w.replace("'", "") for w in words if w]
        return sum(w in vocab for w in words) / len(words) if words else 1.0
