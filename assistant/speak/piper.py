"""Piper (VITS, ONNX) voices, such as the embedded en_US joe medium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..config import TTSConfig
from .synthesizer import Engine, Piece


class PiperEngine(Engine):
    """A Piper voice; one audio piece per sentence, as Piper synthesises them."""

    def __init__(self, voice_path: Path, config: TTSConfig) -> None:
        import onnxruntime as ort
        from piper import PiperVoice, SynthesisConfig
        from piper.config import PiperConfig

        config_path = Path(f"{voice_path}.json")
        voice_config = json.loads(config_path.read_text())
        # Our own ONNX session rather than PiperVoice.load's: without the CPU memory arena.
        # Every sentence has a new input length, and the arena kept growing with them (RSS
        # +120 MB over 150 sentences of varied length, still rising); plain allocations
        # return to the allocator after each run at no measurable cost in speed.
        options = ort.SessionOptions()
        options.enable_cpu_mem_arena = False
        options.log_severity_level = 3
        session = ort.InferenceSession(str(voice_path), sess_options=options, providers=["CPUExecutionProvider"])
        self.voice = PiperVoice(session=session, config=PiperConfig.from_dict(voice_config))
        self.sample_rate = int(voice_config["audio"]["sample_rate"])
        self._syn = SynthesisConfig(length_scale=config.length_scale)

    def pieces(self, text: str) -> Iterator[Piece]:
        # Phonemise everything first (cheap) so each sentence's share of the text is known.
        sentences = [p for p in self.voice.phonemize(text) if p]
        total = sum(len(p) for p in sentences) or 1
        for phonemes in sentences:
            out = self.voice.phoneme_ids_to_audio(self.voice.phonemes_to_ids(phonemes), self._syn)
            audio = np.asarray(out[0] if isinstance(out, tuple) else out)  # (audio, alignments) in some modes
            peak = float(abs(audio).max()) if audio.size else 0.0
            if peak > 1e-8:  # Piper's own normalisation: full scale per sentence
                audio = audio / peak
            yield Piece(audio.astype("float32", copy=False) * 0.9, len(phonemes) / total)
