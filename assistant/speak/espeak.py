"""espeak-ng (formant synthesis) through its command line: robotic but tiny and always there.

The fallback engine, and a second voice for tests that must not hear the
assistant's own voice. Needs the Debian package ``espeak-ng``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator

import numpy as np
import soundfile as sf

from ..config import TTSConfig
from ..errors import AssistantError
from .synthesizer import Engine, Piece


class EspeakEngine(Engine):
    """espeak-ng speaking US English at 22.05 kHz."""

    sample_rate = 22050

    def __init__(self, config: TTSConfig, voice: str = "en-us", words_per_minute: int = 170) -> None:
        if shutil.which("espeak-ng") is None:
            raise AssistantError("espeak-ng is not installed: run `apt-get install espeak-ng` (or `make setup`)")
        self.voice = voice
        self.words_per_minute = words_per_minute

    def pieces(self, text: str) -> Iterator[Piece]:
        proc = subprocess.run(
            ["espeak-ng", "-v", self.voice, "-s", str(self.words_per_minute), "--stdout", text],
            capture_output=True,
            check=True,
            timeout=60,
        )
        audio, rate = sf.read(io.BytesIO(proc.stdout), dtype="float32")
        if rate != self.sample_rate:
            from ..audio import resample

            audio = resample(audio, rate, self.sample_rate)
        yield Piece(np.asarray(audio, dtype=np.float32), 1.0)
