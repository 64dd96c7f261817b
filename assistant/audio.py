"""Audio I/O and format conversion: files in any common format to 16 kHz mono, PCM helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .config import INPUT_SAMPLE_RATE
from .errors import AudioInputError


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample float32 mono audio (soxr, high quality)."""
    if rate_in == rate_out:
        return audio.astype(np.float32, copy=False)
    return soxr.resample(audio, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


def load_audio(path: str | Path, rate: int = INPUT_SAMPLE_RATE) -> np.ndarray:
    """Read an audio file as float32 mono at ``rate``, converting channels and rate.

    Raises :class:`AudioInputError` with a readable message for a missing,
    empty or undecodable file.
    """
    p = Path(path)
    if not p.exists():
        raise AudioInputError(f"audio file not found: {p}")
    if p.is_dir():
        raise AudioInputError(f"expected an audio file, got a directory: {p}")
    try:
        data, file_rate = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioInputError(
            f"{p} is not a readable audio file (use wav, flac or ogg): {err}"
        ) from None
    if data.shape[0] == 0:
        raise AudioInputError(f"{p} contains no audio samples")
    mono = data.mean(axis=1)
    return resample(mono, file_rate, rate)


def write_wav(path: str | Path, audio: np.ndarray, rate: int) -> None:
    """Write float32 [-1, 1] or int16 mono audio as 16-bit PCM wav."""
    p = Path(path)
    if p.parent and not p.parent.exists():
        raise AudioInputError(f"output folder does not exist: {p.parent}")
    sf.write(str(p), audio, rate, subtype="PCM_16")


def float_to_pcm16(audio: np.ndarray) -> bytes:
    """float32 [-1, 1] to 16-bit little-endian PCM bytes."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def pcm16_to_float(pcm: bytes) -> np.ndarray:
    """16-bit little-endian PCM bytes to float32 [-1, 1]."""
    if len(pcm) % 2:
        raise AudioInputError("PCM16 audio must have an even number of bytes")
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def rms_dbfs(audio: np.ndarray) -> float:
    """Loudness of float audio in dB relative to full scale (-inf for silence)."""
    if audio.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")
