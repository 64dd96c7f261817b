"""bench echo's recordings replayed offline: a reply through a simulated room, recorded chunk by
chunk as the listener hands them over, with and without a person over it (real Silero, real AEC3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant, load_audio
from assistant.bench.echo_replay import Recorder, parse_overrides, replay
from assistant.errors import AssistantError
from assistant.listen.echo import EchoChunk
from conftest import SAMPLES, through_room

REPLY = ("capital_of_france.wav", "who_wrote_romeo_and_juliet.wav", "turn_on_the_living_room_lamp.wav") * 2


def record(folder: Path, name: str, person_db: float | None) -> None:
    mic, ref = through_room(2, np.concatenate([load_audio(SAMPLES / f) for f in REPLY]))  # the living room, RT60 0.5 s
    facts: dict[str, object] = {"row": {"level": person_db, "room": "living room"}}
    if person_db is not None:
        user = load_audio(SAMPLES / "go_forward_ten_meters.wav")
        at = 3200 + 4 * 16000
        user = user * 10 ** (person_db / 20) * float(np.std(mic[at : at + len(user)]) / np.std(user))
        mic[at : at + len(user)] += user
        loud = np.flatnonzero(np.abs(user) > 0.02)
        facts |= {"begun": at, "onset": at + int(loud[0]), "last": at + int(loud[-1]), "live_stop": None}
    recorder = Recorder()
    for i in range(0, len(mic), 320):
        recorder.add(EchoChunk(i, mic[i : i + 320], ref[i : i + 320], agent_speaking=True))
    recorder.save(folder / name, facts)


def test_a_replay_hears_the_person_over_the_reply_and_not_the_reply_alone(assistant: Assistant,
                                                                           tmp_path: Path) -> None:
    record(tmp_path, "alone.npz", None)
    record(tmp_path, "person.npz", 6.0)
    out = replay(tmp_path, assistant.config, assistant.silero_path, {})
    assert out["alone_trials"] == 1 and out["self_pause_rate"] == 0.0
    # Stop measured: 596 ms (their "Go" falls under the echo).
    assert out["started_+6db"] == 1.0 and out["stop_ms_p50"] is not None and out["stop_ms_p50"] < 1000


def test_a_replay_with_a_talker_check_that_hears_everything_pauses_on_the_reply(assistant: Assistant,
                                                                                  tmp_path: Path) -> None:
    record(tmp_path, "alone.npz", None)
    # A band "carries a talker" at a tenth of the echo's prediction: the reply's own echo does.
    out = replay(tmp_path, assistant.config, assistant.silero_path, parse_overrides("RATIO=0.1,SHARE=0.1"))
    assert out["self_pause_rate"] == 1.0


def test_replay_options_are_checked(tmp_path: Path, assistant: Assistant) -> None:
    with pytest.raises(AssistantError, match="not one of"):
        parse_overrides("WINDOW=3")
    with pytest.raises(AssistantError, match="a number"):
        parse_overrides("RATIO=three")
    with pytest.raises(AssistantError, match="no recorded trials"):
        replay(tmp_path, assistant.config, assistant.silero_path, {})
