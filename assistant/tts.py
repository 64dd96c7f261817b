"""Speech synthesis with Piper, streamed in short frames so a stop is immediate."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .config import TTSConfig


class Synthesizer:
    """A Piper voice. ``stream`` yields float32 frames of ``frame_ms`` each."""

    def __init__(self, voice_path: Path, config: TTSConfig) -> None:
        from piper import PiperVoice, SynthesisConfig

        config_path = Path(f"{voice_path}.json")
        self.config = config
        self.voice = PiperVoice.load(str(voice_path), config_path=str(config_path))
        self.sample_rate: int = int(json.loads(config_path.read_text())["audio"]["sample_rate"])
        self._syn_config = SynthesisConfig(length_scale=config.length_scale)

    @property
    def frame_samples(self) -> int:
        return self.sample_rate * self.config.frame_ms // 1000

    def stream(self, text: str, cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        """Synthesise ``text`` sentence by sentence, yielding fixed-size frames.

        Checking ``cancel`` between frames bounds a stop to one frame once the
        current sentence's audio exists.
        """
        n = self.frame_samples
        for chunk in self.voice.synthesize(text, self._syn_config):
            audio = chunk.audio_float_array
            for i in range(0, len(audio), n):
                if cancel is not None and cancel.is_set():
                    return
                yield audio[i : i + n]

    def synthesize(self, text: str) -> np.ndarray:
        """Whole utterance as one float32 array."""
        frames = list(self.stream(text))
        return np.concatenate(frames) if frames else np.zeros(0, dtype=np.float32)
