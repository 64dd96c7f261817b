"""A near-end talker over the reply, heard in the raw microphone through simulated rooms;
and how the endpointer uses the verdict (a fake VAD and a scripted verdict, named as such)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from assistant import load_audio
from assistant.config import VADConfig
from assistant.listen.presence import HOP, NearEndPresence
from assistant.listen.vad import FRAME_SAMPLES, Endpointer, FrameDecision, SpeechStart
from conftest import SAMPLES, through_room

REPLY = ("capital_of_france.wav", "who_wrote_romeo_and_juliet.wav", "turn_on_the_living_room_lamp.wav")


def verdicts(mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``sure`` after each 20 ms chunk of ``mic`` (with ``ref`` played at the same positions)."""
    presence = NearEndPresence()
    out = []
    for i in range(0, len(mic) - HOP + 1, HOP):
        presence.heard(mic[i : i + HOP], ref[i : i + HOP])
        out.append(presence.sure)
    return np.array(out)


def reply_parts() -> list[np.ndarray]:
    return [load_audio(SAMPLES / f) for f in REPLY] * 2


def reply_audio() -> np.ndarray:
    return np.concatenate(reply_parts())


@pytest.mark.parametrize("room", [0, 2, 4])  # RT60 0.2, 0.5 and 0.8 s
def test_the_replys_echo_alone_is_no_talker(room: int) -> None:
    mic, ref = through_room(room, reply_audio())
    assert not verdicts(mic, ref).any()


@pytest.mark.parametrize("room", [2, 4])
@pytest.mark.parametrize("level_db", [-6.0, 0.0, 6.0])
def test_a_person_over_the_reply_is_heard_within_half_a_second(room: int, level_db: float) -> None:
    mic, ref = through_room(room, reply_audio())
    user = load_audio(SAMPLES / "go_forward_ten_meters.wav")
    onset = int(np.argmax(np.abs(user) > 0.02))
    at = 3200 + 4 * 16000  # 4 s into the reply
    echo = mic[at : at + len(user)]
    user = user * 10 ** (level_db / 20) * float(np.std(echo) / np.std(user))
    mic[at : at + len(user)] += user
    sure = verdicts(mic, ref)
    first = (at + onset) // HOP
    assert not sure[:first].any()
    # Measured: 80-400 ms after their first sound. Their "Go" falls on the reply's quiet
    # reverberant tail and is often not loud enough above it for every band to count; "forward" is.
    assert sure[first : first + 25].any()


@pytest.mark.parametrize("room", range(5))
@pytest.mark.parametrize("jump", [640, -640])
def test_the_echos_lag_jumping_by_40_ms_between_sentences_is_no_talker(room: int, jump: int) -> None:
    # Playback timing moves the echo's lag by 20-40 ms within a reply (bench echo); at each
    # second sentence boundary here the echo comes 40 ms later (jump > 0) or sooner than before.
    # Without the model's lag tolerance, rooms 1 and 3 each had a false talker.
    parts = reply_parts()
    mic, ref = through_room(room, np.concatenate(parts))
    for boundary in (np.cumsum([len(p) for p in parts])[:-1] + 3200)[::2]:
        if jump > 0:
            mic = np.concatenate([mic[:boundary], mic[boundary - jump : boundary], mic[boundary:]])[: len(ref)]
        else:
            mic = np.concatenate([mic[:boundary], mic[boundary - jump :], np.zeros(-jump, np.float32)])
    assert not verdicts(mic, ref).any()


def test_nothing_played_and_quiet_is_no_talker() -> None:
    quiet = (np.random.default_rng(0).standard_normal(32000) * 1e-3).astype(np.float32)
    assert not verdicts(quiet, np.zeros_like(quiet)).any()


# -- the endpointer over the echo (fakes) -----------------------------------------------------

class AlwaysSpeech:
    """Fake VAD: every frame is speech (what AEC3's leak sounds like to Silero)."""

    def __call__(self, frame: np.ndarray) -> FrameDecision:
        return FrameDecision(True, 0.9)

    def reset(self) -> None:
        pass


@dataclass
class ScriptedPresence:
    """Scripted verdicts of the talker check."""

    sure: bool = False
    recent: bool = False


def starts(ep: Endpointer, seconds: float) -> list[int]:
    events = []
    for _ in range(int(seconds * 16000) // FRAME_SAMPLES):
        events += ep.feed(np.zeros(FRAME_SAMPLES, np.float32))
    return [e.start_ms for e in events if isinstance(e, SpeechStart)]


def test_speech_over_the_echo_with_no_talker_starts_only_after_the_long_wait() -> None:
    ep = Endpointer(AlwaysSpeech(), VADConfig())
    ep.over_echo = ScriptedPresence()
    assert starts(ep, 1.2) == []
    assert len(starts(ep, 0.5)) == 1  # 1.5 s in: a person the check missed is not ignored for good


def test_a_sure_talker_starts_speech_at_once_and_a_recent_one_lets_the_vad_start_it() -> None:
    sure = Endpointer(AlwaysSpeech(), VADConfig())
    sure.over_echo = ScriptedPresence(sure=True, recent=True)
    assert starts(sure, 0.04) == [0]  # the first frame, not start_ms later
    recent = Endpointer(AlwaysSpeech(), VADConfig(start_ms=64))
    recent.over_echo = ScriptedPresence(recent=True)
    assert starts(recent, 0.04) == [] and starts(recent, 0.04) == [0]


def test_without_the_echo_the_vad_alone_decides() -> None:
    ep = Endpointer(AlwaysSpeech(), VADConfig(start_ms=64))
    assert starts(ep, 0.07) == [0]


def test_where_the_canceller_explains_the_echo_the_vad_starts_speech_as_usual() -> None:
    ep = Endpointer(AlwaysSpeech(), VADConfig(start_ms=64))
    ep.over_echo, ep.echo_explained = ScriptedPresence(), True
    assert starts(ep, 0.07) == [0]
