"""Piper (VITS, ONNX) voices, such as the embedded en_US joe medium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ..config import TTSConfig
from . import Engine, Piece


class PiperEngine(Engine):
    """A Piper voice; one audio piece per sentence, as Piper synthesises them."""

    def __init__(self, voice_path: Path, config: TTSConfig) -> None:
        from piper import PiperVoice, SynthesisConfig

        config_path = Path(f"{voice_path}.json")
        self.voice = PiperVoice.load(str(voice_path), config_path=str(config_path))
        self.sample_rate = int(json.loads(config_path.read_text())["audio"]["sample_rate"])
        self._syn = SynthesisConfig(length_scale=config.length_scale)

    def pieces(self, text: str) -> Iterator[Piece]:
        # Phonemise everything first (cheap) so each sentence's share of the text is known.
        sentences = [p for p in self.voice.phonemize(text) if p]
        total = sum(len(p) for p in sentences) or 1
        for phonemes in sentences:
            audio = self.voice.phoneme_ids_to_audio(self.voice.phonemes_to_ids(phonemes), self._syn)
            peak = float(abs(audio).max()) if audio.size else 0.0
            if peak > 1e-8:  # Piper's own normalisation: full scale per sentence
                audio = audio / peak
            yield Piece(audio.astype("float32", copy=False) * 0.9, len(phonemes) / total)
