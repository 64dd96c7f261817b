"""The reference-based echo suppressor on real speech."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import load_audio
from assistant.audio import rms_dbfs
from assistant.listen.echo import EchoSuppressor
from conftest import SAMPLES, through_room


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


def test_a_gap_in_playback_is_silence_in_the_reference() -> None:
    # The ring keeps history_s of reference; a gap must not bring back what it held that long ago.
    from assistant.listen.echo import PlayedAudio

    played = PlayedAudio(history_s=1.0)
    tone = np.ones(12000, np.float32)
    played.played(tone, 0)  # 0.75 s
    played.played(tone[:4000], 20000)  # after a 0.5 s gap (the ring wrapped within it)
    assert not np.any(played.reference(12000, 8000))
    assert np.all(played.reference(20000, 4000) == 1.0)


def test_no_reference_means_no_change() -> None:
    mic = np.random.default_rng(0).standard_normal(3200).astype(np.float32) * 0.1
    es = EchoSuppressor()
    assert np.array_equal(es.process(mic, 0), mic)


# -- WebRTC's AEC3 through simulated rooms --------------------------------------------------------

def cancel(mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
    from assistant.listen.aec import LATENCY_SAMPLES, EchoCanceller

    ec = EchoCanceller(history_s=30)
    ec.played(ref, 0)
    out = np.concatenate([ec.process(mic[i : i + 320], i) for i in range(0, len(mic), 320)])
    return np.concatenate([out[LATENCY_SAMPLES:], np.zeros(LATENCY_SAMPLES, np.float32)])  # realigned


@pytest.mark.parametrize("room", [0, 2, 4])  # RT60 0.2, 0.5 and 0.8 s
def test_aec3_takes_a_rooms_echo_out(room: int) -> None:
    reply = np.concatenate([load_audio(SAMPLES / f) for f in ("capital_of_france.wav", "go_forward_ten_meters.wav",
                                                               "who_wrote_romeo_and_juliet.wav")])
    mic, ref = through_room(room, reply)
    assert abs(rms_dbfs(mic[3200:]) - rms_dbfs(reply)) < 6  # the echo is about as loud as the reply
    residual = cancel(mic, ref)
    settled = slice(3200 + 24000, len(mic))  # after 1.5 s of reply
    assert rms_dbfs(residual[settled]) < rms_dbfs(mic[settled]) - 12


def test_aec3_keeps_the_person_over_the_echo() -> None:
    reply = np.concatenate([load_audio(SAMPLES / "capital_of_france.wav")] * 3)
    user = load_audio(SAMPLES / "go_forward_ten_meters.wav")
    mic, ref = through_room(2, reply)
    at = len(mic) - len(user) - 1600
    user = user * float(np.std(mic[at : at + len(user)]) / np.std(user))  # as loud as the echo: 0 dB
    mic[at : at + len(user)] += user
    residual = cancel(mic, ref)[at : at + len(user)]
    corr = float(residual @ user) / (np.linalg.norm(residual) * np.linalg.norm(user))
    # Measured: correlation 0.36-0.52 with the person (the microphone's own: 0.71), 6-7 dB
    # quieter: in double talk AEC3's suppressor takes some of the person with the echo, and
    # leaves enough for the recogniser (bench echo: the requests are heard).
    assert corr > 0.3
    assert rms_dbfs(residual) > rms_dbfs(user) - 10


def test_aec3_leaves_the_microphone_alone_when_nothing_was_played() -> None:
    from assistant.listen.aec import EchoCanceller

    mic = np.random.default_rng(0).standard_normal(3200).astype(np.float32) * 0.1
    assert np.array_equal(EchoCanceller().process(mic, 0), mic)


# -- the default: the canceller that explains the echo ----------------------------------------

def chosen(mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, bool]:
    """The chosen canceller's residual (realigned) and whether it ended on the subtraction."""
    from assistant.listen.aec import LATENCY_SAMPLES
    from assistant.listen.canceller import ChosenCanceller

    cc = ChosenCanceller(max_delay_ms=600, history_s=30)
    cc.played(ref, 0)
    out = np.concatenate([cc.process(mic[i : i + 320], i) for i in range(0, len(mic), 320)])
    return np.concatenate([out[LATENCY_SAMPLES:], np.zeros(LATENCY_SAMPLES, np.float32)]), cc.subtracting


def test_a_plain_echo_is_subtracted_and_the_person_over_it_kept_whole() -> None:
    # AEC3 alone, 2 s into its first reply, took most of such a person with the echo.
    reply = np.concatenate([load_audio(SAMPLES / "capital_of_france.wav")] * 3)
    user = load_audio(SAMPLES / "go_forward_ten_meters.wav")
    mic = np.zeros(len(reply) + 800, np.float32)
    mic[800:] += 0.316 * reply  # -10 dB, 50 ms late
    at = 40000  # 2.5 s into the reply
    mic[at : at + len(user)] += 0.5 * user
    residual, subtracting = chosen(mic, reply)
    assert subtracting
    person = slice(at, at + len(user))
    assert np.allclose(residual[person], run(mic, reply)[person], atol=1e-6)  # the subtraction's own residual
    err = residual[person] - 0.5 * user
    assert rms_dbfs(err) < rms_dbfs(0.5 * user) - 12  # what remains is the person (measured: 13.9 dB)


def test_a_rooms_echo_goes_to_aec3() -> None:
    reply = np.concatenate([load_audio(SAMPLES / f) for f in ("capital_of_france.wav", "go_forward_ten_meters.wav",
                                                               "who_wrote_romeo_and_juliet.wav")])
    mic, ref = through_room(2, reply)
    residual, subtracting = chosen(mic, ref)
    assert not subtracting
    settled = slice(3200 + 24000, len(mic))
    assert rms_dbfs(residual[settled]) < rms_dbfs(mic[settled]) - 12


def test_an_unknown_echo_canceller_is_a_clear_error() -> None:
    from assistant.config import DuplexConfig
    from assistant.errors import AssistantError
    from assistant.listen.canceller import echo_canceller

    with pytest.raises(AssistantError, match="unknown echo canceller 'webrtc'; choose one of auto, aec3, subtract"):
        echo_canceller(DuplexConfig(echo_canceller="webrtc"))


# -- is what was heard the echo? -------------------------------------------------------------

def likeness(residual: np.ndarray, played: np.ndarray, speech_from: int = 3200) -> float:
    """EchoMatch's verdict on ``residual`` heard in 20 ms chunks while ``played`` played from
    sample 0, for speech that started at sample ``speech_from``."""
    from assistant.listen.echo import EchoMatch, PlayedAudio

    ref, match = PlayedAudio(history_s=10), EchoMatch()
    ref.played(played, 0)
    for i in range(0, len(residual), 320):
        match.heard(residual[i : i + 320], i)
    match.speech_started(speech_from)
    return match.likeness(ref.reference)


def test_what_follows_the_reply_syllable_by_syllable_is_its_echo() -> None:
    reply = load_audio(SAMPLES / "capital_of_france.wav")
    leak = np.concatenate([np.zeros(1600, np.float32), 0.05 * reply])  # 100 ms late, much quieter
    assert likeness(leak, reply) > 0.8


def test_a_person_over_the_reply_is_not_its_echo() -> None:
    reply = load_audio(SAMPLES / "capital_of_france.wav")
    person = load_audio(SAMPLES / "go_forward_ten_meters.wav")
    assert likeness(0.5 * person, reply) < 0.3
    assert likeness(0.5 * person, np.zeros(16000, np.float32)) == 0.0  # nothing played


@pytest.mark.parametrize("sure_frames", [0, 1, 2])
def test_speech_the_talker_check_was_sure_of_over_two_frames_is_not_the_echo(sure_frames: int) -> None:
    from assistant.listen.echo import OwnVoice, PlayedAudio

    reply = load_audio(SAMPLES / "capital_of_france.wav")
    leak = np.concatenate([np.zeros(1600, np.float32), 0.05 * reply])  # follows the reply: its echo
    ref, own = PlayedAudio(history_s=10), OwnVoice()
    ref.played(reply, 0)
    for i in range(0, len(leak), 320):
        # Sure frames before the speech do not count; those in the chunk it starts in do.
        own.heard(leak[i : i + 320], i, 5 if i == 1600 else sure_frames if i == 3200 else 0)
        if i == 3200:
            own.speech_started(i)
    assert own.share(ref.reference) == (0.0 if sure_frames >= OwnVoice.TALKER_FRAMES else
                                        pytest.approx(likeness(leak, reply)))


def test_likeness_of_speech_of_any_length_is_a_number_in_range() -> None:
    reply = load_audio(SAMPLES / "capital_of_france.wav")
    for frames in (0, 4, 5, 6, 14, 15, 16, 40, 400):  # 10 ms frames since the speech started
        assert 0.0 <= likeness(0.1 * reply[: 16000 + frames * 160], reply, speech_from=16000) <= 1.0


def test_a_simulated_room_is_the_same_room_every_time() -> None:
    """bench echo's rooms are reproducible: pyroomacoustics' own generator (which draws the
    randomised image sources) is seeded with the room, whatever was drawn from it before."""
    import pyroomacoustics as pra

    from assistant.bench.rooms import ROOMS, impulse_response

    first = impulse_response(ROOMS[2], seed=3)
    pra.random.get_rng().uniform(size=100)  # another simulation's draws
    assert np.array_equal(first, impulse_response(ROOMS[2], seed=3))
    assert not np.array_equal(first, impulse_response(ROOMS[2], seed=4))


def test_the_echo_bench_counts_pauses_by_room_and_before_the_person() -> None:
    from assistant.bench.echo import summary

    def row(level: float | None, room: str, paused: bool = False, interrupted: bool = False,
            stop_ms: float | None = None, before: bool = False) -> dict[str, object]:
        return {"ok": True, "level": level, "room": room, "paused": paused, "interrupted": interrupted,
                "stop_ms": stop_ms, "erle_db": 20.0, "paused_before": before}

    rows = [row(None, "office"), row(None, "hall", paused=True), row(None, "hall", interrupted=True),
            row(None, "office"), {"ok": False, "level": None, "room": "hall"},
            row(0.0, "office", paused=True, interrupted=True, stop_ms=120.0),
            row(0.0, "hall", paused=True, interrupted=True, stop_ms=900.0, before=True),
            row(-6.0, "hall", paused=True, stop_ms=300.0)]
    out = summary(rows)
    assert out["alone_trials"] == 4  # the failed trial is not counted
    assert out["self_pause_rate"] == 0.5 and out["self_interrupt_rate"] == 0.25
    assert out["self_pauses_by_room"] == {"hall": 2, "office": 0}
    assert out["detected_+0db"] == 1.0 and out["detected_-6db"] == 0.0 and out["trials_+6db"] == 0
    assert out["paused_before_speech_rate"] == round(1 / 3, 3)
    assert out["stop_ms_p50"] == 300.0


def test_the_simulated_speaker_plays_audio_that_came_while_the_microphone_caught_up() -> None:
    """bench echo's client: when the loop runs late, the microphone catches up in a burst of
    frames; audio the server sent meanwhile must play in that burst, as a device's buffer
    would play it, not after it. Before, the burst never yielded, the speaker played a gap the
    server's reference did not have, and the echo's lag jumped 40-200 ms (three sessions at
    once), which AEC3 then re-learnt."""
    import asyncio
    import time
    from collections.abc import AsyncIterator
    from typing import Any

    from assistant.audio import float_to_pcm16, pcm16_to_float
    from assistant.bench.simclient import FRAME, SimulatedClient, Transport

    tone = np.full(3 * FRAME, 0.5, np.float32)  # 60 ms at 16 kHz, so no resampling

    class LateServer(Transport):
        """Sends 60 ms of reply audio while the first microphone frame blocks the loop 100 ms."""

        def __init__(self) -> None:
            self.frames: list[np.ndarray] = []
            self.queue: asyncio.Queue[tuple[dict[str, Any], bytes | None]] = asyncio.Queue()
            self.queue.put_nowait(({"type": "session.created", "output_sample_rate": 16000}, None))

        async def send_audio(self, pcm: bytes) -> None:
            self.frames.append(pcm16_to_float(pcm))
            if len(self.frames) == 1:
                time.sleep(0.1)  # the loop is late by five frames
                self.queue.put_nowait(({"type": "response.audio.delta", "turn_id": 1}, float_to_pcm16(tone)))

        async def send_event(self, event: dict[str, Any]) -> None:
            pass

        async def events(self) -> AsyncIterator[tuple[dict[str, Any], bytes | None]]:
            while True:
                yield await self.queue.get()

        async def close(self) -> None:
            pass

    async def run() -> list[float]:
        server = LateServer()
        client = SimulatedClient(server, echo_db=0.0, echo_delay_ms=0.0)
        await client.start()
        await asyncio.sleep(0)  # session.created
        await client.stream(np.zeros(10 * FRAME, np.float32))
        await client.close()
        return [float(np.abs(f).max()) for f in server.frames]

    heard = asyncio.run(run())
    # The reply's echo is in the microphone from the frame after the one that blocked, for 60 ms.
    assert [round(h, 1) for h in heard] == [0.0, 0.5, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_withheld_reference_leaves_the_ring_and_plays_where_it_is_released() -> None:
    """A paused reply's queued audio (placed past the microphone's position) is not played
    there: it leaves the reference, and comes back where the client plays it on resume."""
    from assistant.listen.echo import PlayedAudio

    played = PlayedAudio(history_s=2.0)
    played.played(np.ones(12000, np.float32), 0)
    played.withhold(after=10000)  # what lies past the microphone's position is held
    assert np.all(played.reference(0, 10000) == 1.0)
    assert not np.any(played.reference(10000, 2000))
    played.release(15000)
    assert not np.any(played.reference(10000, 5000))
    assert np.all(played.reference(15000, 2000) == 1.0) and played.end == 17000
    # Audio sent after a withhold that was never released: the client dropped what it held.
    played.withhold(after=16000)
    played.played(np.full(100, 0.5, np.float32), 20000)
    played.release(30000)
    assert played.end == 20100 and not np.any(played.reference(30000, 1000))


class RecordingEars:
    """A fake listening path: records what the playback clock tells it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def agent_speech_started(self) -> None:
        self.calls.append(("started", 0))

    def agent_speech_stopped(self) -> None:
        self.calls.append(("stopped", 0))

    def add_echo_reference(self, audio: np.ndarray) -> None:
        self.calls.append(("add", len(audio)))

    def withhold_echo_reference(self) -> None:
        self.calls.append(("withhold", 0))

    def release_echo_reference(self) -> None:
        self.calls.append(("release", 0))


@pytest.mark.parametrize("holds", [True, False])
def test_a_paused_reply_withholds_the_clients_queue_from_the_reference(holds: bool) -> None:
    """With a client that holds its queue on ``response.paused``, what it holds leaves the echo
    reference at the pause and comes back at the resume, and the next frame is due as much
    later as the pause lasted; a client that plays its queue out keeps the reference."""
    import asyncio

    from assistant.config import DuplexConfig
    from assistant.conversation.playback import PlaybackClock
    from assistant.conversation.turns import Turn

    async def run() -> tuple[list[tuple[str, int]], float]:
        ears = RecordingEars()
        clock = PlaybackClock(16000, DuplexConfig(playback_lead_ms=200, client_holds_on_pause=holds), ears)
        turn = Turn(1)
        loop = asyncio.get_running_loop()
        for _ in range(15):  # 300 ms of audio: 200 ms ahead of playback once sent
            await clock.wait_to_send(turn)
            clock.sent(turn, np.zeros(320, np.float32), 0)
        clock.pause()
        await asyncio.sleep(0.3)
        clock.resume()
        t0 = loop.time()
        await clock.wait_to_send(turn)
        return ears.calls, loop.time() - t0

    calls, waited = asyncio.run(run())
    kinds = [k for k, _ in calls if k not in ("add", "started")]
    if holds:
        assert kinds == ["withhold", "release"]
        assert waited < 0.05  # the client holds 200 ms again: the next frame is due at once
    else:
        assert kinds == []


@pytest.mark.parametrize(("holds", "paused_first", "withholds"), [(True, False, 1), (True, True, 2), (False, True, 1)])
def test_an_interrupted_replys_unplayed_audio_leaves_the_reference(holds: bool, paused_first: bool,
                                                                    withholds: int) -> None:
    """The client flushes on ``interrupt``: its unplayed audio leaves the reference, paused or
    not, whether it held its queue or played it out meanwhile."""
    import asyncio

    from assistant.config import DuplexConfig
    from assistant.conversation.playback import PlaybackClock
    from assistant.conversation.turns import Turn

    async def run() -> list[tuple[str, int]]:
        ears = RecordingEars()
        clock = PlaybackClock(16000, DuplexConfig(playback_lead_ms=200, client_holds_on_pause=holds), ears)
        turn = Turn(1)
        for _ in range(5):
            await clock.wait_to_send(turn)
            clock.sent(turn, np.zeros(320, np.float32), 0)
        if paused_first:
            clock.pause()
        clock.stop(turn)
        return ears.calls

    calls = asyncio.run(run())
    assert [k for k, _ in calls if k == "withhold"] == ["withhold"] * withholds
    assert calls[-1][0] == "stopped"


def test_the_simulated_speaker_holds_its_queue_while_the_reply_is_paused() -> None:
    import asyncio
    from collections.abc import AsyncIterator
    from typing import Any

    from assistant.audio import float_to_pcm16
    from assistant.bench.simclient import FRAME, SimulatedClient, Transport

    go_on = asyncio.Event()

    class Script(Transport):
        """Fake server: 60 ms of reply audio, a pause, and once told, the resume."""

        async def send_audio(self, pcm: bytes) -> None:
            pass

        async def send_event(self, event: dict[str, Any]) -> None:
            pass

        async def events(self) -> AsyncIterator[tuple[dict[str, Any], bytes | None]]:
            yield {"type": "session.created", "output_sample_rate": 16000}, None
            yield {"type": "response.audio.delta", "turn_id": 1}, float_to_pcm16(np.full(3 * FRAME, 0.5, np.float32))
            yield {"type": "response.paused", "turn_id": 1}, None
            await go_on.wait()
            yield {"type": "response.resumed", "turn_id": 1}, None
            await asyncio.Event().wait()

        async def close(self) -> None:
            pass

    async def run() -> tuple[np.ndarray, np.ndarray]:
        client = SimulatedClient(Script())
        await client.start()
        await asyncio.sleep(0.05)
        held = client.speaker_tick()
        go_on.set()
        await asyncio.sleep(0.05)
        resumed = client.speaker_tick()
        await client.close()
        return held, resumed

    held, resumed = asyncio.run(run())
    assert not np.any(held) and np.allclose(resumed, 0.5, atol=1e-3)
