"""Regenerate the synthetic sample requests in this folder.

Run from the repository root: ``.venv/bin/python samples/make_samples.py``.
Each request is spoken by the embedded Piper voice (en_US joe medium), resampled
to 16 kHz mono, with 0.3 s of silence before and 0.6 s after, as a person would
leave before and after a request.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from assistant import Assistant, write_wav
from assistant.audio import resample

HERE = Path(__file__).resolve().parent
REQUESTS = {
    "what_time_is_it": "What time is it?",
    "set_a_timer": "Set a timer for five minutes.",
    "capital_of_france": "What is the capital of France?",
    "twelve_times_seven": "What is twelve times seven?",
    "weather_tomorrow": "What will the weather be like tomorrow?",
    "who_wrote_romeo_and_juliet": "Who wrote Romeo and Juliet?",
    "tallest_mountain": "What is the tallest mountain in the world?",
    "fact_about_octopuses": "Tell me a fun fact about octopuses.",
}

# Real recordings, copied from ../shared/eval/speech-dev (see README.md for sources).
REAL = [
    ("turn_on_the_living_room_lamp.wav", "turn on the living room lamp",
     "real speech: rhasspy/wyoming-faster-whisper tests, MIT"),
    ("go_forward_ten_meters.wav", "go forward ten meters",
     "real speech: cmusphinx/pocketsphinx test/data/goforward.raw, BSD-2-Clause"),
]


def main() -> None:
    synth = Assistant().synthesizer
    rows = []
    for name, text in REQUESTS.items():
        audio = resample(synth.synthesize(text), synth.sample_rate, 16000)
        pad = lambda s: np.zeros(int(16000 * s), dtype=np.float32)  # noqa: E731
        write_wav(HERE / f"{name}.wav", np.concatenate([pad(0.3), 0.8 * audio, pad(0.6)]), 16000)
        rows.append((f"{name}.wav", text, "synthetic: Piper en_US joe medium, CC0 voice"))
    rows += REAL
    with (HERE / "samples.tsv").open("w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(["file", "transcript", "origin"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
