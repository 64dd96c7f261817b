"""Sparse TF-IDF n-gram features for the intent classifier, with no run-time dependency but numpy.

Two kinds: word n-grams and character n-grams inside word boundaries (robust to
ASR misspellings). Sublinear term frequency, smoothed IDF and L2 normalisation,
as the usual TF-IDF recipe has it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import numpy as np

_WORD = re.compile(r"\w+")


def _ngrams(text: str, kind: str, lo: int, hi: int) -> list[str]:
    text = text.lower()
    out: list[str] = []
    if kind == "word":
        toks = _WORD.findall(text)
        for n in range(lo, hi + 1):
            out += [" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1)]
        return out
    for w in text.split():
        w = f" {w} "
        for n in range(lo, hi + 1):
            if len(w) < n:
                out.append(w)
                break
            out += [w[i : i + n] for i in range(len(w) - n + 1)]
    return out


@dataclass
class NgramTfidf:
    """A fitted vocabulary with IDF weights; turns a text into sparse (indices, values)."""

    kind: str
    lo: int
    hi: int
    vocab: dict[str, int]
    idf: np.ndarray

    @classmethod
    def fit(cls, texts: Iterable[str], kind: str, lo: int, hi: int, max_features: int, min_df: int = 2) -> NgramTfidf:
        texts = list(texts)
        df: Counter[str] = Counter()
        for t in texts:
            df.update(set(_ngrams(t, kind, lo, hi)))
        kept = sorted((g for g, c in df.items() if c >= min_df), key=lambda g: (-df[g], g))[:max_features]
        kept.sort()
        n = len(texts)
        idf = np.array([math.log((1 + n) / (1 + df[g])) + 1.0 for g in kept], dtype=np.float32)
        return cls(kind, lo, hi, {g: i for i, g in enumerate(kept)}, idf)

    @property
    def size(self) -> int:
        return len(self.vocab)

    def transform_one(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(g for g in _ngrams(text, self.kind, self.lo, self.hi) if g in self.vocab)
        if not counts:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        idx = np.fromiter((self.vocab[g] for g in counts), dtype=np.int64, count=len(counts))
        val = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float32, count=len(counts))
        val *= self.idf[idx]
        val /= max(float(np.linalg.norm(val)), 1e-12)
        return idx, val

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "lo": self.lo, "hi": self.hi, "vocab": sorted(self.vocab, key=self.vocab.__getitem__),
                "idf": [round(float(x), 5) for x in self.idf]}

    @classmethod
    def from_json(cls, d: dict[str, object]) -> NgramTfidf:
        vocab = cast(list[str], d["vocab"])
        return cls(str(d["kind"]), cast(int, d["lo"]), cast(int, d["hi"]), {g: i for i, g in enumerate(vocab)},
                   np.asarray(d["idf"], dtype=np.float32))
