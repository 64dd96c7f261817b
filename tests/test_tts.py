"""Speech synthesis with the real Piper voice and the espeak-ng fallback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np

from assistant import Assistant
from assistant.audio import resample
from assistant.config import Config
from assistant.textnorm import word_error_rate
from conftest import ROOT


def test_frames_are_short_and_speech_is_intelligible(assistant: Assistant) -> None:
    synth = assistant.synthesizer
    assert synth.sample_rate == 22050
    frames = list(synth.stream("The capital of France is Paris."))
    assert all(len(f) <= synth.frame_samples for f in frames)
    assert synth.frame_samples == 441  # 20 ms
    audio = np.concatenate(frames)
    assert 1.0 < len(audio) / synth.sample_rate < 5.0
    texts = ["The timer rings at 7:30 pm.", "Your timer for five minutes is set."]
    heard = [
        assistant.recognizer.transcribe(resample(synth.synthesize(t), synth.sample_rate, 16000)).text
        for t in texts
    ]
    # The normaliser speaks "7:30 pm"; Whisper tiny may slip on a word, no more.
    assert word_error_rate(texts, heard) <= 0.25, heard


def test_cancel_stops_within_one_frame(assistant: Assistant) -> None:
    cancel = threading.Event()
    got = 0
    for _ in assistant.synthesizer.stream("One sentence here. And a second one there.", cancel):
        got += 1
        if got == 3:
            cancel.set()
    assert got == 3


def test_timing_marks_grow_to_the_whole_text(assistant: Assistant) -> None:
    text = "First sentence is here. Then a second, longer sentence follows it."
    marks = [f.spoken_chars for f in assistant.synthesizer.frames(text)]
    assert marks == sorted(marks)
    assert marks[-1] == len(text)
    # Halfway through the audio, roughly halfway through the text.
    assert 0.25 * len(text) < marks[len(marks) // 2] < 0.75 * len(text)


def test_espeak_fallback_engine_speaks() -> None:
    cfg = Config.from_env()
    cfg.tts.engine = "espeak"
    bot = Assistant(cfg)
    synth = bot.synthesizer
    audio = synth.synthesize("Set a timer for 5 minutes.")
    assert 1.0 < len(audio) / synth.sample_rate < 5.0
    assert float(np.sqrt(np.mean(audio**2))) > 0.01


def test_bench_tts_reports_every_key() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "assistant", "bench", "tts", "--repeats", "1", "--json"],
        capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(), timeout=600,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert {"ttfa_ms_p50", "ttfa_ms_p95", "stream_ttfa_ms_p50", "rtf", "cancel_ms_p95", "intelligibility_wer"} <= set(out)
    assert out["first_chunk_words_max"] <= 6
    assert out["intelligibility_wer"] <= 0.2
