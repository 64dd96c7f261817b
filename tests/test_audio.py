"""Audio loading and conversion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assistant.audio import float_to_pcm16, load_audio, pcm16_to_float, rms_dbfs
from assistant.errors import AudioInputError

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_stereo_44k_is_converted_to_16k_mono(tmp_path: Path) -> None:
    mono, _ = sf.read(SAMPLES / "go_forward_ten_meters.wav", dtype="float32")
    import soxr

    up = soxr.resample(mono, 16000, 44100)
    stereo = np.stack([up, up], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, 44100)
    out = load_audio(path)
    assert out.ndim == 1 and out.dtype == np.float32
    assert abs(len(out) - len(mono)) <= 2
    # Same signal after the round trip (correlation near 1).
    n = min(len(out), len(mono))
    assert np.corrcoef(out[:n], mono[:n])[0, 1] > 0.99


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.wav", "not found"),
        (lambda p: (p / "notes.wav").write_text("hello, not audio") and p / "notes.wav", "not a readable audio file"),
        (lambda p: p, "directory"),
    ],
)
def test_bad_files_get_clear_errors(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(AudioInputError, match=message):
        load_audio(make(tmp_path))


def test_pcm_round_trip_and_odd_length() -> None:
    x = np.array([0.0, 0.5, -0.5, 0.999], dtype=np.float32)
    y = pcm16_to_float(float_to_pcm16(x))
    assert np.allclose(x, y, atol=1e-4)
    with pytest.raises(AudioInputError):
        pcm16_to_float(b"\x00\x01\x02")
    assert rms_dbfs(np.zeros(10, dtype=np.float32)) == float("-inf")
