"""Turn-taking without models: the cues, the graded wait, the endpointer's hold, reopening, settings."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from assistant.config import EAGERNESS, Config, DuplexConfig, TurnConfig, VADConfig
from assistant.conversation.bargein import BargeIn, DropFinal, PauseReply, ReopenTurn, ResumeReply
from assistant.conversation.settings import InputFormat, apply_settings
from assistant.conversation.turns import continue_request
from assistant.errors import AssistantError
from assistant.events import Hypothesis, SpeechStopped, TranscriptFinal
from assistant.listen.turn_end import TurnJudge, trailing_share, trails_off
from assistant.listen.vad import Endpointer, FrameDecision, Pause, SpeechStart, Utterance
from conversation_driver import Driver
from fakes import FakeAssistant, Faults, fast_config, silence, tone


@pytest.mark.parametrize("text, expected", [
    ("Set a timer for", 1.0), ("Turn on the...", 1.0), ("Add milk, eggs,", 1.0), ("Call my", 1.0),
    ("What is twelve times", 1.0), ("Set a timer for 20.", 0.5), ("a timer for twenty", 0.5),
    ("Turn it on.", 0.0), ("What's that?", 0.0), ("What does it look like?", 0.0), ("turn on the lamp", 0.0),
])
def test_the_words_say_whether_a_request_trails_off(text: str, expected: float) -> None:
    assert trails_off(text) == expected


def test_the_trailing_share_weighs_each_hypothesis_by_its_posterior() -> None:
    nbest = [Hypothesis("What is the capital?", -0.5, 0.6), Hypothesis("What is the capital of?", -0.9, 0.4)]
    assert trailing_share(nbest) == pytest.approx(0.4)
    assert trailing_share([]) is None and trailing_share("") is None


def test_the_wait_grows_as_the_verdict_grows_unsure() -> None:
    e = EAGERNESS["medium"]
    assert e.wait_ms(0.95, 300) == 300 and e.wait_ms(e.sure, 300) == 300
    assert 300 < e.wait_ms(e.sure - e.ramp / 2, 300) < e.unsure_wait_ms
    assert e.wait_ms(e.sure - e.ramp, 300) == e.unsure_wait_ms == e.wait_ms(e.doubt, 300)
    assert e.wait_ms(e.doubt - 0.01, 300) == e.max_wait_ms
    for name in ("low", "medium", "high"):  # eagerness orders the waits
        assert EAGERNESS[name].max_wait_ms >= EAGERNESS["high"].max_wait_ms


def test_the_judge_mixes_prosody_and_words() -> None:
    judge = TurnJudge(TurnConfig())
    trailing = judge.verdict(0.95, "Set a timer for")  # prosody says done, the words say not
    assert trailing.wait_ms > 1000
    assert judge.verdict(0.98, [Hypothesis("What time is it?", -0.1, 1.0)]).wait_ms == 300
    assert judge.verdict(None, "What time is it?").wait_ms == 300  # no model: the words decide
    assert judge.verdict(0.02, "What time is it?").wait_ms > 300  # prosody unsure: wait a little


def test_a_learnt_reading_that_the_words_are_unfinished_holds_the_pause() -> None:
    # Whisper "completed" the fragment ("How do you spell?"): the rules see nothing unfinished,
    # the learnt cue does; it only ever lowers what the rules say.
    judge = TurnJudge(TurnConfig())
    words = [Hypothesis("How do you spell?", -0.1, 1.0)]
    assert judge.verdict(0.95, words).wait_ms == 300
    held = judge.verdict(0.95, words, words_p=0.1)
    assert held.wait_ms > 1000 and held.words == 0.1
    assert judge.verdict(0.95, words, words_p=0.99).wait_ms == 300
    assert judge.verdict(0.95, "Set a timer for", words_p=0.99).wait_ms > 1000  # the rules still hold


class LoudVAD:
    """Fake VAD: any frame louder than -40 dBFS is speech."""

    def __call__(self, frame: np.ndarray) -> FrameDecision:
        loud = float(np.sqrt(np.mean(frame**2))) > 0.01
        return FrameDecision(loud, 1.0 if loud else 0.0)

    def reset(self) -> None:
        pass


def feed(ep: Endpointer, audio: np.ndarray) -> list[object]:
    return [ev for i in range(0, len(audio), 512) for ev in ep.feed(audio[i : i + 512])]


def test_a_held_pause_ends_when_decided_and_not_before() -> None:
    ep = Endpointer(LoudVAD(), VADConfig())
    ep.pause_hold_ms = 2000
    events = feed(ep, np.concatenate([silence(0.2), tone(0, 0.6), silence(0.5)]))
    pause = next(e for e in events if isinstance(e, Pause))
    assert any(isinstance(e, SpeechStart) for e in events) and not any(isinstance(e, Utterance) for e in events)
    assert ep.holding and ep.decide(pause.index + 1, 300) == []  # a decision for another pause changes nothing
    ended = ep.decide(pause.index, 300)  # 500 ms of silence already: the utterance ends now
    assert len(ended) == 1 and isinstance(ended[0], Utterance)


def test_a_held_pause_waits_for_its_decision_then_at_most_the_hold() -> None:
    ep = Endpointer(LoudVAD(), VADConfig())
    ep.pause_hold_ms = 1500
    events = feed(ep, np.concatenate([tone(0, 0.6), silence(0.25)]))
    pause = next(e for e in events if isinstance(e, Pause))
    assert ep.decide(pause.index, 1000) == []  # not yet: 1000 ms of silence are needed
    assert not any(isinstance(e, Utterance) for e in feed(ep, silence(0.5)))
    assert any(isinstance(e, Utterance) for e in feed(ep, silence(0.4)))
    ep2 = Endpointer(LoudVAD(), VADConfig())
    ep2.pause_hold_ms = 1500
    before = feed(ep2, np.concatenate([tone(0, 0.6), silence(1.3)]))
    assert not any(isinstance(e, Utterance) for e in before)  # no verdict: held to the maximum
    assert any(isinstance(e, Utterance) for e in feed(ep2, silence(0.4)))


def test_speech_that_resumes_in_a_held_pause_is_the_same_utterance() -> None:
    ep = Endpointer(LoudVAD(), VADConfig())
    ep.pause_hold_ms = 2000
    events = feed(ep, np.concatenate([tone(0, 0.5), silence(0.9), tone(1, 0.5), silence(0.1)]))
    assert sum(isinstance(e, SpeechStart) for e in events) == 1 and not any(isinstance(e, Utterance) for e in events)


def test_speech_soon_after_a_request_with_little_heard_reopens_it() -> None:
    b = BargeIn(DuplexConfig(), turn=TurnConfig(), heard_ms=lambda turn: 200.0)
    b.request_heard(1, 3000)
    assert b.speech_started(2, 3000 + 900, 0) == [ReopenTurn(1, 2)]
    late = BargeIn(DuplexConfig(), turn=TurnConfig(), heard_ms=lambda turn: 200.0)
    late.request_heard(1, 3000)
    assert late.speech_started(2, 3000 + 2000, 0) == []  # too long after: a new request
    heard = BargeIn(DuplexConfig(), turn=TurnConfig(), heard_ms=lambda turn: 900.0)
    heard.request_heard(1, 3000)
    heard.assistant_speaking(1)
    assert heard.speech_started(2, 3500, 0) == [PauseReply(1)]  # much of the reply heard: barge-in
    # Its reply already audible: the start may be that reply's echo, so it pauses, and words
    # reopen the request (an echo's final resumes the reply instead).
    audible = BargeIn(DuplexConfig(), turn=TurnConfig(), heard_ms=lambda turn: 200.0)
    audible.request_heard(1, 3000)
    audible.assistant_speaking(1)
    assert audible.speech_started(2, 3900, 0) == [PauseReply(1)]
    assert audible.partial(2, "for ten", 0.1, stable="", audio_ms=4300) == []  # not sure yet
    assert audible.partial(2, "for ten minutes", 0.1, stable="for ten", audio_ms=4700) == [ReopenTurn(1, 2)]
    echo = BargeIn(DuplexConfig(), turn=TurnConfig(), heard_ms=lambda turn: 200.0)
    echo.request_heard(1, 3000)
    echo.assistant_speaking(1)
    assert echo.speech_started(2, 3900, 0) == [PauseReply(1)]
    assert echo.speech_stopped(2, 4300) == []
    assert echo.final(2, "Sure.", 0.95) == [ResumeReply(1), DropFinal(2)]
    server = BargeIn(DuplexConfig(), turn=TurnConfig(type="server_vad"), heard_ms=lambda turn: 0.0)
    server.request_heard(1, 3000)
    assert server.speech_started(2, 3100, 0) == []  # server_vad: as before, no reopening


def test_a_continued_request_is_the_two_parts_in_one() -> None:
    before = (Hypothesis("Set a timer for it.", -0.2, 0.7), Hypothesis("Set a timer for...", -0.4, 0.3))
    rest = TranscriptFinal(5, "10 minutes.", (Hypothesis("10 minutes.", -0.1, 0.8), Hypothesis("ten minutes", -1, 0.2)))
    merged = continue_request(before, rest)
    assert merged.turn_id == 5 and merged.transcript == "Set a timer for it 10 minutes."
    assert [h.posterior for h in merged.nbest] == [0.8, 0.2]
    assert continue_request(before, TranscriptFinal(5, "", ())).nbest == before  # only noise came: ask again


def test_turn_detection_settings_use_the_realtime_names() -> None:
    config, stream = Config(), InputFormat()
    apply_settings({"turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}, config, stream)
    assert config.turn.type == "server_vad" and config.vad.silence_ms == 500
    apply_settings({"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}, config, stream)
    assert config.turn.type == "semantic_vad" and config.turn.eagerness == "high"
    for bad in ({"type": "smart"}, {"type": "semantic_vad", "eagerness": "fast"}, "semantic_vad",
                {"type": "server_vad", "silence_duration_ms": 10}, {"type": "semantic_vad", "silence_duration_ms": 300}):
        with pytest.raises(AssistantError, match="turn_detection"):
            apply_settings({"turn_detection": bad, "nbest": 3}, config, stream)
    assert config.asr.nbest == Config().asr.nbest  # all or nothing


def test_orchestration_a_trailing_request_is_held_through_a_thinking_pause() -> None:
    # Fakes: phrase 0 trails off ("... for"), phrase 1 is the rest. With semantic turn detection
    # the 0.8 s pause between them is held; with server_vad it ends the turn.
    names = ["t0 set a timer for", "ten minutes t1."]

    async def run(kind: str) -> int:
        cfg = fast_config()
        cfg.turn.type = kind
        bot = FakeAssistant(names, Faults({}), cfg)
        async with Driver(bot.session()) as d:
            await d.feed(np.concatenate([tone(0), silence(0.8), tone(1), silence(1.5)]), pace_s=0.01)
            await asyncio.sleep(0.2)
        return sum(isinstance(e, SpeechStopped) for e in d.events)

    assert asyncio.run(run("semantic_vad")) == 1
    assert asyncio.run(run("server_vad")) == 2
