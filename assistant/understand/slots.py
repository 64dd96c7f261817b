"""Slot filling: a linear BIO tagger on the sentence encoder's contextual token states.

Each word-piece's states from all six MiniLM layers (2304 numbers, computed once
per request and shared with nothing else) go through a linear layer to a
B-/I-/O tag over the MASSIVE slot types; a word takes the tag of its first piece.
Trained by ``assistant.training`` on MASSIVE ``annot_utt``; weights in
``models/intent/slots.npz``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..models import MODELS_ROOT
from .blas import OneBlasThread
from .encoder import SentenceEncoder

HEAD_DIR = MODELS_ROOT / "intent"


@dataclass(frozen=True)
class Slot:
    """A slot value found in the text, with its character span."""

    type: str
    value: str
    start: int
    end: int


def word_starts(offsets: list[tuple[int, int]], text: str) -> list[bool]:
    """True for pieces that begin a whitespace-separated word (the tagged ones)."""
    out = []
    prev_end = -1
    for start, end in offsets:
        out.append(end > start and (start == 0 or text[start - 1].isspace() or prev_end < start))
        if end > start:
            prev_end = end
    return out


class SlotTagger:
    """Text in, typed slot values out."""

    def __init__(self, encoder: SentenceEncoder, head_dir: Path = HEAD_DIR) -> None:
        try:
            head = np.load(head_dir / "slots.npz")
            self.tags: list[str] = json.loads((head_dir / "slots.json").read_text())["tags"]
        except FileNotFoundError:
            raise ModelError(f"slot tagger not found in {head_dir}; train it with `make train-intent`") from None
        self.encoder = encoder
        self.w = head["w"].astype(np.float32)
        self.b = head["b"].astype(np.float32)
        self._one_blas_thread = OneBlasThread()

    def tag(self, text: str) -> list[Slot]:
        """Slots in ``text`` (spans follow the text as given)."""
        if not text.strip():
            return []
        states, offsets = self.encoder.token_states(text)
        with self._one_blas_thread():
            scores = states @ self.w.T + self.b
        tags = [self.tags[i] for i in scores.argmax(axis=1)]
        starts = word_starts(offsets, text)
        slots: list[Slot] = []
        current: list[int] | None = None  # [type index in tags, start, end]
        cur_type = ""
        for (start, end), tag, first in zip(offsets, tags, starts):
            if end <= start:
                continue
            if not first:  # continuation piece: extends whatever its word is part of
                if current is not None:
                    current[2] = end
                continue
            if tag.startswith("B-") or (tag.startswith("I-") and (current is None or tag[2:] != cur_type)):
                if current is not None:
                    slots.append(Slot(cur_type, text[current[1] : current[2]], current[1], current[2]))
                current, cur_type = [0, start, end], tag[2:]
            elif tag.startswith("I-") and current is not None:
                current[2] = end
            else:
                if current is not None:
                    slots.append(Slot(cur_type, text[current[1] : current[2]], current[1], current[2]))
                current, cur_type = None, ""
        if current is not None:
            slots.append(Slot(cur_type, text[current[1] : current[2]], current[1], current[2]))
        return slots
