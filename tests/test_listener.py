"""Streaming listening on real speech: partials, LocalAgreement, n-best finals, no words on noise."""

from __future__ import annotations

import asyncio
import copy
import itertools
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant, load_audio
from assistant.bench.asr import listen_to
from assistant.bench.pacing import silence
from assistant.events import TranscriptFinal, TranscriptPartial
from assistant.listen.asr import LocalAgreement, posteriors
from assistant.textnorm import normalise_for_wer, word_error_rate
from conftest import SAMPLES, noise

DATA = Path(__file__).resolve().parent / "data"


def test_local_agreement_commits_words_two_decodes_agree_on() -> None:
    la = LocalAgreement()
    assert la.update("turn on the lift") == ("", "turn on the lift")
    assert la.update("Turn on the living room") == ("Turn on the", "living room")
    # Stable words never change, even if a later decode disagrees.
    assert la.update("Turn off the living room lamp")[0] == "Turn on the"
    assert la.update("Turn on the living room lamp.") == ("Turn on the", "living room lamp.")
    assert la.update("Turn on the living room lamp") == ("Turn on the living room lamp", "")


def test_posteriors_sum_to_one_and_keep_order() -> None:
    p = posteriors([-0.5, -1.0, -3.0], temperature=0.5)
    assert abs(sum(p) - 1) < 1e-9 and p[0] > p[1] > p[2]


def test_nbest_final_is_distinct_sorted_and_normalised(assistant: Assistant) -> None:
    t = assistant.recognizer.final(load_audio(DATA / "jfk_ask_not.wav"))
    assert 1 <= len(t.nbest) <= 5
    assert abs(sum(h.posterior for h in t.nbest) - 1) < 1e-3
    assert [h.posterior for h in t.nbest] == sorted((h.posterior for h in t.nbest), reverse=True)
    keys = [normalise_for_wer(h.text) for h in t.nbest]
    assert len(set(keys)) == len(keys)
    assert t.text == t.nbest[0].text
    assert word_error_rate(["and so my fellow americans ask not what your country can do for you "
                            "ask what you can do for your country"], [t.text]) < 0.15


def test_stream_gives_growing_partials_and_a_speculative_final(assistant: Assistant) -> None:
    audio = np.concatenate([silence(0.3), load_audio(SAMPLES / "turn_on_the_living_room_lamp.wav"), silence(1.0)])
    partials: list[TranscriptPartial] = []
    finals: list[TranscriptFinal] = []

    def collect(_t: float, ev: object, _listener: object) -> None:
        if isinstance(ev, TranscriptPartial):
            partials.append(ev)
        elif isinstance(ev, TranscriptFinal):
            finals.append(ev)

    res = asyncio.run(listen_to(assistant, audio, realtime=True, printer=collect))
    assert len(partials) >= 2
    stables = [p.stable.split() for p in partials]
    for a, b in itertools.pairwise(stables):
        assert b[: len(a)] == a  # the stable prefix only grows
    assert len(finals) == 1 and normalise_for_wer(finals[0].transcript) == "turn on the living room lamp"
    assert res.speculative_hits == 1  # the decode started at the pause was kept


def test_isolated_short_words_are_not_lost(assistant: Assistant) -> None:
    for name, ref in [("speech_recognition_english_one_two_three.wav", "one two three"),
                      ("ljspeech_LJ002-0035.wav", "eight the press yard")]:
        audio = np.concatenate([silence(0.3), load_audio(DATA / name), silence(1.0)])
        res = asyncio.run(listen_to(assistant, audio, realtime=False))
        assert normalise_for_wer(" ".join(res.finals)) == ref


@pytest.mark.parametrize("kind", ["silence", "white_noise", "hum", "clicks"])
def test_no_words_on_silence_or_noise(assistant: Assistant, kind: str) -> None:
    audio = noise(kind, 3.0, seed=3)
    res = asyncio.run(listen_to(assistant, audio, realtime=False))
    assert res.finals == []
    # Even straight into Whisper, without the VAD in front, no words come out.
    assert assistant.recognizer.final(audio).text == ""
    assert assistant.recognizer.partial(audio) == ""


def _listen_with_echo(assistant: Assistant, mic: np.ndarray, reference: np.ndarray,
                      over_reply: bool = False) -> tuple[list[TranscriptFinal], float]:
    """Feed ``mic`` to a listener that knows ``reference`` was played from sample 0 (and, with
    ``over_reply``, that the reply is still audible: its talker check is on)."""
    from assistant.bench.pacing import feed_audio
    from assistant.listen.listener import Listener

    async def run() -> tuple[list[TranscriptFinal], float]:
        # server_vad: the semantic hold's verdicts arrive when their decode is done, so with them
        # where an utterance starts (and so what the share is taken over) moves with the load.
        config = copy.deepcopy(assistant.config)
        config.turn.type = "server_vad"
        # The subtraction, whatever the default: these figures are the echo share's through it. In
        # this room the default runs AEC3, which half a second into its first reply took "What"
        # of the person below with the echo ("time is it.", 0.51; the echo alone 0.37).
        config.duplex.echo_canceller = "subtract"
        listener = Listener(assistant.recognizer, assistant.silero_path, config)
        listener.echo.played(reference, 0)
        if over_reply:
            listener.agent_speech_started()
        tasks = listener.tasks("test")

        async def send(chunk: np.ndarray) -> None:
            await listener.feed(chunk)
            await listener.settled()

        try:
            await feed_audio(send, mic, realtime=False)
            share = listener.echo_share
            await listener.feed(None)
            finals = []
            while (ev := await listener.events.get()) is not None:
                if isinstance(ev, TranscriptFinal) and ev.transcript:
                    finals.append(ev)
            return finals, share
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    return asyncio.run(run())


def test_echo_share_tells_the_assistants_voice_from_a_person(assistant: Assistant) -> None:
    from assistant.bench.rooms import ROOMS, RoomPath

    reply = load_audio(SAMPLES / "capital_of_france.wav")
    room = RoomPath(ROOMS[2], seed=3)  # a living room (RT60 0.5 s): the subtraction leaves most of it
    padded = np.concatenate([reply, np.zeros(8000, np.float32)])
    echo = np.concatenate([room(padded[i : i + 320]) for i in range(0, len(padded) - 319, 320)])
    finals, echo_share = _listen_with_echo(assistant, np.concatenate([echo, silence(0.3)]), reply)
    assert all(f.echo_share == pytest.approx(echo_share, abs=0.05) for f in finals)  # what the final carries
    # A person speaking over it, as loud: the final is theirs, and it follows the reply less
    # (which, as the barge-in policy does, pauses as they start: its echo fades 0.3 s later).
    person = load_audio(SAMPLES / "what_time_is_it.wav")
    at = 8000
    mic = np.concatenate([echo[: at + 4800], np.zeros(len(person), np.float32), silence(1.0)])
    mic[at : at + len(person)] += float(np.std(echo) / np.std(person)) * person
    finals, _ = _listen_with_echo(assistant, mic, reply)
    assert finals and "time" in finals[0].transcript.lower()
    # The room is the same in every run now (its image sources are seeded): the echo 0.497, the
    # person 0.384 (whose final still holds 0.8 s of echo). Before, the room changed from process
    # to process and the echo scored 0.45-0.56 (a CI run failed on 0.449).
    # A thin margin with the subtraction in a room; with AEC3 in bench echo's rooms the echo
    # alone scored 0.36-0.78 and people 0-0.49.
    assert finals[0].echo_share < assistant.config.duplex.echo_share_max
    assert echo_share > finals[0].echo_share + 0.08


def test_a_person_the_talker_check_is_sure_of_over_the_reply_is_not_its_echo(assistant: Assistant) -> None:
    from assistant.bench.rooms import ROOMS, RoomPath

    reply = load_audio(SAMPLES / "capital_of_france.wav")
    room = RoomPath(ROOMS[2], seed=3)
    padded = np.concatenate([reply, np.zeros(8000, np.float32)])
    echo = np.concatenate([room(padded[i : i + 320]) for i in range(0, len(padded) - 319, 320)])
    person = load_audio(SAMPLES / "what_time_is_it.wav")
    at = 8000
    mic = np.concatenate([echo[: at + 4800], np.zeros(len(person), np.float32), silence(1.0)])
    mic[at : at + len(person)] += 2 * float(np.std(echo) / np.std(person)) * person  # +6 dB: the check is sure
    heard, _ = _listen_with_echo(assistant, mic, reply)
    over, _ = _listen_with_echo(assistant, mic, reply, over_reply=True)
    # Not over the reply, the share is the envelope's likeness (some of the reply's echo is in
    # their final); over it, the raw microphone's talker check settles it: a person.
    assert heard and heard[0].echo_share > 0.1
    assert over and "time" in over[-1].transcript.lower() and over[-1].echo_share == 0.0
