"""Speech recognition with the real Whisper tiny.en on real speech."""

from __future__ import annotations

import numpy as np

from assistant import Assistant, load_audio
from assistant.textnorm import normalise_for_wer
from conftest import SAMPLES, sample_transcripts


def test_real_speech_is_transcribed(assistant: Assistant) -> None:
    refs = sample_transcripts()
    for name in ("turn_on_the_living_room_lamp.wav", "go_forward_ten_meters.wav"):
        t = assistant.recognizer.transcribe(load_audio(SAMPLES / name))
        assert normalise_for_wer(t.text) == normalise_for_wer(refs[name])
        assert t.nbest and t.nbest[0].text == t.text


def test_silence_gives_no_words(assistant: Assistant) -> None:
    t = assistant.recognizer.transcribe(np.zeros(16000 * 2, dtype=np.float32))
    assert t.text == "" and t.empty and t.nbest == ()
