"""Speech synthesis: engines behind one interface, streamed in short frames.

An engine turns normalised text into pieces of audio (Piper: one per sentence).
:class:`Synthesizer` wraps any engine with what every engine needs: text
normalisation, fixed-size frames (20 ms by default) so a stop is immediate, a
cancel check before every frame, and a timing mark on every frame saying how
much of the chunk's text has been spoken by the end of it.

Adding an engine means adding one module here with an :class:`Engine` subclass
and one line in :data:`ENGINES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import TTSConfig
from ..cores import CorePriority
from ..threads import Cancelled
from .normalize import normalize


@dataclass(frozen=True)
class Piece:
    """Audio for part of a text; ``share`` is the fraction of the text it covers."""

    audio: np.ndarray
    share: float


class Engine(ABC):
    """A speech synthesizer: normalised text in, float32 audio pieces out."""

    sample_rate: int

    @abstractmethod
    def pieces(self, text: str) -> Iterator[Piece]:
        """Synthesise ``text``, yielding audio as soon as each piece exists."""


@dataclass(frozen=True)
class SpeechFrame:
    """One frame of speech and how many characters of its chunk were spoken by its end."""

    audio: np.ndarray
    spoken_chars: int


class Synthesizer:
    """An engine plus normalisation, framing, cancellation and timing marks."""

    def __init__(self, engine: Engine, config: TTSConfig, cores: CorePriority | None = None) -> None:
        self.engine = engine
        self.config = config
        # The first words of a reply are urgent work: a person waits for them (see ..cores).
        self.cores = cores or CorePriority()
        self.sample_rate = engine.sample_rate

    @property
    def frame_samples(self) -> int:
        return self.sample_rate * self.config.frame_ms // 1000

    def frames(self, text: str, cancel: Cancelled | None = None, urgent: bool = False) -> Iterator[SpeechFrame]:
        """Speak ``text`` (as written; it is normalised here) in fixed-size frames.

        ``spoken_chars`` is estimated within each engine piece in proportion to
        its audio, which is close enough to cut a reply at the word being said.
        The cancel check before each frame bounds a stop to one frame. ``urgent``: the
        synthesis goes first on the cores (:mod:`..cores`), as a reply's first words do.
        """
        n = self.frame_samples
        done_share = 0.0
        pieces = self.engine.pieces(normalize(text))
        for piece in self._urgent(pieces) if urgent else pieces:
            total = max(1, len(piece.audio))
            for i in range(0, len(piece.audio), n):
                if cancel is not None and cancel.is_set():
                    return
                frame = piece.audio[i : i + n]
                covered = done_share + piece.share * (i + len(frame)) / total
                yield SpeechFrame(frame, min(len(text), round(len(text) * covered)))
            done_share += piece.share

    def _urgent(self, pieces: Iterator[Piece]) -> Iterator[Piece]:
        """The engine's pieces, each synthesised as urgent work (not the frames' pacing after it)."""
        while True:
            with self.cores.urgent():
                piece = next(pieces, None)
            if piece is None:
                return
            yield piece

    def stream(self, text: str, cancel: Cancelled | None = None) -> Iterator[np.ndarray]:
        """Like :meth:`frames`, audio only."""
        for frame in self.frames(text, cancel):
            yield frame.audio

    def synthesize(self, text: str) -> np.ndarray:
        """Whole utterance as one float32 array."""
        frames = list(self.stream(text))
        return np.concatenate(frames) if frames else np.zeros(0, dtype=np.float32)


def _piper(path: Path, config: TTSConfig) -> Engine:
    from .piper import PiperEngine

    return PiperEngine(path, config)


def _espeak(path: Path | None, config: TTSConfig) -> Engine:
    from .espeak import EspeakEngine

    return EspeakEngine(config)


#: Engine name -> factory(voice path, config).
ENGINES: dict[str, Callable[..., Engine]] = {"piper": _piper, "espeak": _espeak}
