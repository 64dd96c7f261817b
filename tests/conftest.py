"""Shared fixtures: the real models, loaded once per test run, and the samples."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant
from assistant.audio import resample
from assistant.bench.common import LONG_REPLY
from assistant.skills import default_registry
from assistant.speak.espeak import EspeakEngine
from assistant.speak.synthesizer import Synthesizer

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def sample_transcripts() -> dict[str, str]:
    """File name -> reference transcript for every sample."""
    with (SAMPLES / "samples.tsv").open(newline="") as fh:
        return {row["file"]: row["transcript"] for row in csv.DictReader(fh, delimiter="\t")}


def noise(kind: str, seconds: float, seed: int = 0) -> np.ndarray:
    """Non-speech test audio at 16 kHz: silence, white noise, mains hum or sparse clicks."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    return {
        "silence": np.zeros_like(t),
        "white_noise": 0.05 * rng.standard_normal(t.size),
        "hum": 0.1 * np.sin(2 * np.pi * 50 * t),
        "clicks": (rng.random(t.size) > 0.999) * 0.8,
    }[kind].astype(np.float32)


def through_room(spec_index: int, reply: np.ndarray, lead: int = 3200) -> tuple[np.ndarray, np.ndarray]:
    """(microphone, reference) for ``reply`` played into a simulated room, heard ``lead`` after it was sent."""
    from assistant.bench.rooms import ROOMS, RoomPath

    room = RoomPath(ROOMS[spec_index], seed=3)
    spk = np.concatenate([np.zeros(lead, np.float32), reply])
    mic = np.concatenate([room(spk[i : i + 320]) for i in range(0, len(spk), 320)])
    return mic, np.concatenate([reply, np.zeros(lead, np.float32)])[: len(mic)]


@pytest.fixture(scope="session")
def assistant() -> Assistant:
    """All real models, loaded once (a few seconds)."""
    return Assistant().load()


def story_bot(assistant: Assistant) -> Assistant:
    """The shared models, with a skill that tells a long story (a long, deterministic reply)."""
    skills = default_registry()
    skills.register("general_quirky", lambda req: LONG_REPLY, trigger=r"\bstory\b")
    return assistant.sharing_models(skills=skills)


def espeak(assistant: Assistant, text: str) -> np.ndarray:
    """``text`` spoken by espeak-ng, at 16 kHz (a second, different voice from Piper's)."""
    v = Synthesizer(EspeakEngine(assistant.config.tts), assistant.config.tts)
    return resample(v.synthesize(text), v.sample_rate, 16000)
