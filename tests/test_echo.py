"""The reference-based echo suppressor on real speech."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import load_audio
from assistant.audio import rms_dbfs
from assistant.listen.echo import EchoSuppressor
from conftest import SAMPLES


def run(mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
    es = EchoSuppressor(max_delay_ms=600, history_s=20)
    es.played(ref, 0)
    return np.concatenate([es.process(mic[i : i + 320], i) for i in range(0, len(mic), 320)])


@pytest.mark.parametrize("delay_ms", [30, 55, 80, 250])
def test_echo_alone_is_removed(delay_ms: int) -> None:
    ref = load_audio(SAMPLES / "capital_of_france.wav")
    d = delay_ms * 16
    mic = np.zeros(len(ref) + d, np.float32)
    mic[d:] += 0.316 * ref  # -10 dB
    assert rms_dbfs(run(mic, ref)) < rms_dbfs(mic) - 40


def test_a_jump_in_the_delay_is_followed_at_once() -> None:
    # Playback stalled for 190 ms and went on: the echo delay grows from 60 to 250 ms.
    ref = load_audio(SAMPLES / "capital_of_france.wav")
    half = len(ref) // 2
    mic = np.zeros(len(ref) + 4000, np.float32)
    mic[960 : 960 + half] += 0.316 * ref[:half]
    mic[4000 + half : 4000 + len(ref)] += 0.316 * ref[half:]
    residual = run(mic, ref)
    after = slice(4000 + half + 2560, 4000 + len(ref))  # from 160 ms after playback goes on
    assert rms_dbfs(residual[after]) < rms_dbfs(mic[after]) - 30


def test_the_person_is_kept_while_the_echo_goes() -> None:
    ref = load_audio(SAMPLES / "capital_of_france.wav")
    user = load_audio(SAMPLES / "go_forward_ten_meters.wav")[: len(ref)]
    mic = np.zeros(len(ref) + 800, np.float32)
    mic[800:] += 0.316 * ref
    mic[: len(user)] += 0.5 * user
    residual = run(mic, ref)
    err = residual[: len(user)] - 0.5 * user
    assert rms_dbfs(err) < rms_dbfs(0.5 * user) - 15  # what remains is the person


def test_no_reference_means_no_change() -> None:
    mic = np.random.default_rng(0).standard_normal(3200).astype(np.float32) * 0.1
    es = EchoSuppressor()
    assert np.array_equal(es.process(mic, 0), mic)
