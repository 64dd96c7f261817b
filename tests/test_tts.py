"""Speech synthesis with the real Piper voice."""

from __future__ import annotations

import threading

import numpy as np

from assistant import Assistant
from assistant.audio import resample
from assistant.textnorm import word_error_rate


def test_frames_are_short_and_speech_is_intelligible(assistant: Assistant) -> None:
    synth = assistant.synthesizer
    assert synth.sample_rate == 22050
    frames = list(synth.stream("The capital of France is Paris."))
    assert all(len(f) <= synth.frame_samples for f in frames)
    assert synth.frame_samples == 441  # 20 ms
    audio = np.concatenate(frames)
    assert 1.0 < len(audio) / synth.sample_rate < 5.0
    texts = ["The capital of France is Paris.", "Your timer for five minutes is set."]
    heard = [
        assistant.recognizer.transcribe(resample(synth.synthesize(t), synth.sample_rate, 16000)).text
        for t in texts
    ]
    # Whisper tiny may merge "France is" into "Francis"; a word or two of slack, no more.
    assert word_error_rate(texts, heard) <= 0.25, heard


def test_cancel_stops_within_one_frame(assistant: Assistant) -> None:
    cancel = threading.Event()
    got = 0
    for _ in assistant.synthesizer.stream("One sentence here. And a second one there.", cancel):
        got += 1
        if got == 3:
            cancel.set()
    assert got == 3
