"""VAD and endpointing on real speech, silence and noise."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import Assistant, load_audio
from assistant.config import VADConfig
from assistant.listen.vad import Dropped, Endpointer, FrameVAD, SpeechStart, Utterance
from conftest import SAMPLES, noise


def run(assistant: Assistant, audio: np.ndarray, config: VADConfig | None = None, chunk: int = 320) -> list:
    cfg = config or VADConfig()
    ep = Endpointer(FrameVAD(assistant.silero_path, cfg), cfg)
    events = []
    for i in range(0, len(audio), chunk):  # 20 ms pieces, as a live stream arrives
        events += ep.feed(audio[i : i + chunk])
    return events + ep.flush()


def test_one_utterance_with_preroll_on_real_speech(assistant: Assistant) -> None:
    speech = load_audio(SAMPLES / "turn_on_the_living_room_lamp.wav")
    audio = np.concatenate([np.zeros(16000, np.float32), speech, np.zeros(16000, np.float32)])
    events = run(assistant, audio)
    starts = [e for e in events if isinstance(e, SpeechStart)]
    utts = [e for e in events if isinstance(e, Utterance)]
    assert len(starts) == 1 and len(utts) == 1
    utt = utts[0]
    assert utt.start_ms >= 1000  # not before the leading second of silence
    assert 0.6 <= len(utt.audio) / 16000 <= 3.0
    # Pre-roll: the utterance audio starts before the detected start.
    assert len(utt.audio) / 16 > (utt.end_ms - utt.start_ms)
    assert not utt.forced


def test_two_requests_separated_by_silence_are_two_utterances(assistant: Assistant) -> None:
    a = load_audio(SAMPLES / "turn_on_the_living_room_lamp.wav")
    b = load_audio(SAMPLES / "go_forward_ten_meters.wav")
    gap = np.zeros(16000, np.float32)
    utts = [e for e in run(assistant, np.concatenate([a, gap, b, gap])) if isinstance(e, Utterance)]
    assert len(utts) == 2


@pytest.mark.parametrize("kind", ["silence", "white_noise", "hum"])
def test_no_speech_in_silence_or_noise(assistant: Assistant, kind: str) -> None:
    audio = noise(kind, 4.0)
    assert not [e for e in run(assistant, audio) if isinstance(e, Utterance)]


def test_max_utterance_length_cuts(assistant: Assistant) -> None:
    speech = load_audio(SAMPLES / "turn_on_the_living_room_lamp.wav")
    utts = [e for e in run(assistant, speech, VADConfig(max_utterance_s=0.5)) if isinstance(e, Utterance)]
    assert utts and utts[0].forced


def test_click_shorter_than_min_speech_is_dropped(assistant: Assistant) -> None:
    speech = load_audio(SAMPLES / "turn_on_the_living_room_lamp.wav")
    events = run(assistant, speech, VADConfig(min_speech_ms=5000))
    assert not [e for e in events if isinstance(e, Utterance)]
    assert [e for e in events if isinstance(e, Dropped)]
