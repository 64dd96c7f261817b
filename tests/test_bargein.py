"""The barge-in policy as a pure state machine: every transition, scripted in milliseconds (no models)."""

from __future__ import annotations

from assistant.config import DuplexConfig
from assistant.conversation.bargein import BargeIn, DropFinal, InterruptReply, PauseReply, ResumeReply, State
from assistant.events import Hypothesis

REPLY, SPEECH = 1, 2
STORY = "once upon a time a small robot lived in a quiet house by the sea".split()


def speaking(recent: list[str] | None = None, **settings: object) -> BargeIn:
    """A policy whose assistant is reading turn 1's reply (``recent`` its last words)."""
    b = BargeIn(DuplexConfig(**settings), lambda turn: (recent if recent is not None else STORY) if turn == REPLY else [])
    assert b.assistant_speaking(REPLY) == [] and b.state is State.SPEAKING
    return b


def test_idle_speech_is_just_a_request() -> None:
    b = BargeIn(DuplexConfig())
    assert b.speech_started(SPEECH, 0, 0) == [] and b.state is State.IDLE
    assert b.partial(SPEECH, "what time", 0.0) == []
    assert b.final(SPEECH, "what time is it", 0.0) == []
    assert b.deadline_ms is None


def test_speech_over_the_reply_pauses_it_and_sets_the_confirm_deadline() -> None:
    b = speaking()
    assert b.speech_started(SPEECH, 5000, 1000) == [PauseReply(REPLY)]
    assert b.state is State.PAUSED and b.deadline_ms == 1000 + DuplexConfig().confirm_ms


def test_words_interrupt_at_once() -> None:
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    assert b.partial(SPEECH, "wait stop", 0.0) == [InterruptReply(REPLY)]
    assert b.state is State.INTERRUPTED and b.deadline_ms is None
    # The interrupting speech is a request: its final is kept.
    assert b.final(SPEECH, "wait, stop the story", 0.0) == []
    assert b.assistant_silent() == [] and b.state is State.IDLE


def test_a_backchannel_partial_waits_and_its_final_resumes_the_reply() -> None:
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    assert b.partial(SPEECH, "mm hmm", 0.0) == []
    assert b.speech_stopped(SPEECH, 5600) == []
    assert b.final(SPEECH, "Mm-hmm.", 0.0) == [ResumeReply(REPLY), DropFinal(SPEECH)]
    assert b.state is State.SPEAKING


def test_repeated_backchannel_words_count_as_a_backchannel() -> None:
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    b.speech_stopped(SPEECH, 5700)
    assert b.final(SPEECH, "yeah yeah", 0.0) == [ResumeReply(REPLY), DropFinal(SPEECH)]


def test_a_blip_is_a_false_start_whatever_its_words() -> None:
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    b.speech_stopped(SPEECH, 5000 + 200)  # < min_interrupt_ms (250)
    assert b.final(SPEECH, "Stop.", 0.0) == [ResumeReply(REPLY), DropFinal(SPEECH)]


def test_a_sound_with_no_words_resumes() -> None:
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    b.speech_stopped(SPEECH, 5400)
    assert b.final(SPEECH, "", 0.0) == [ResumeReply(REPLY), DropFinal(SPEECH)]


def test_speech_that_cut_the_reply_stays_a_request_whatever_its_final_echo_share() -> None:
    b = speaking()
    b.speech_started(SPEECH, 3648, 1000)
    assert b.partial(SPEECH, "What time is it?", 0.1) == [InterruptReply(REPLY)]
    assert b.assistant_silent() == []  # the reply's audio stopped
    b.speech_stopped(SPEECH, 4416)
    assert b.final(SPEECH, "What time is it?", 0.563) == []  # kept: it is the person's request
    # Other speech is still judged on its own.
    assert b.speech_started(SPEECH + 1, 9000, 6000) == []
    assert b.assistant_speaking(3) == []
    assert b.final(SPEECH + 1, "anything", 0.9) == [DropFinal(SPEECH + 1)]


def test_a_stop_command_interrupts_even_when_its_echo_share_says_echo() -> None:
    b = speaking()
    b.speech_started(SPEECH, 3392, 1000)
    b.speech_stopped(SPEECH, 3744)
    # It stops the reply, and that is all it asks: it is not answered.
    assert b.final(SPEECH, "Stop.", 0.59) == [InterruptReply(REPLY), DropFinal(SPEECH)]
    # The same once its partial has cut the reply.
    b = speaking()
    b.speech_started(SPEECH, 3392, 1000)
    assert b.partial(SPEECH, "stop", 0.1) == [InterruptReply(REPLY)]
    assert b.final(SPEECH, "Stop!", 0.2) == [DropFinal(SPEECH)]
    # Or a likely reading of what was heard is one.
    b = speaking()
    b.speech_started(SPEECH, 3392, 1000)
    b.speech_stopped(SPEECH, 3712)
    heard = (Hypothesis("Start up.", -1.37, 0.66), Hypothesis("Stop.", -1.6, 0.21), Hypothesis("start.", -2.0, 0.09))
    assert b.final(SPEECH, "Start up.", 0.2, heard) == [InterruptReply(REPLY), DropFinal(SPEECH)]
    # Short speech needs a less likely reading to be a stop; a longer one does not count it.
    b = speaking()
    b.speech_started(SPEECH, 3392, 1000)
    b.speech_stopped(SPEECH, 4000)
    heard = (Hypothesis("Start up.", -1.0, 0.63), Hypothesis("startup.", -1.5, 0.22), Hypothesis("Stop.", -1.5, 0.15))
    assert b.final(SPEECH, "Start up.", 0.49, heard) == [InterruptReply(REPLY), DropFinal(SPEECH)]
    b = speaking()
    b.speech_started(SPEECH, 3392, 1000)
    b.speech_stopped(SPEECH, 5000)
    assert DropFinal(SPEECH) not in b.final(SPEECH, "Start up.", 0.2, heard)
    # Other words that score as echo are still echo, and so are the reply's own.
    b = speaking()
    b.speech_started(SPEECH, 3392, 1000)
    b.speech_stopped(SPEECH, 3744)
    assert b.final(SPEECH, "Hey, Brian.", 0.59) == [ResumeReply(REPLY), DropFinal(SPEECH)]
    b = speaking(recent=["please", "wait", "for", "the", "beep"])
    b.speech_started(SPEECH, 3392, 1000)
    b.speech_stopped(SPEECH, 3744)
    assert b.final(SPEECH, "Wait.", 0.59) == [ResumeReply(REPLY), DropFinal(SPEECH)]


def test_short_speech_also_heard_as_a_backchannel_resumes_but_longer_speech_interrupts() -> None:
    heard = (Hypothesis("He hasn't.", -3.1, 0.41), Hypothesis("Yes.", -3.6, 0.23), Hypothesis("He has.", -4.0, 0.2))
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    b.speech_stopped(SPEECH, 5384)  # a "yeah" of 384 ms, under backchannel_max_ms
    assert b.final(SPEECH, "He hasn't.", 0.0, heard) == [ResumeReply(REPLY), DropFinal(SPEECH)]
    # A backchannel reading the recogniser barely considered does not count.
    unlikely = (Hypothesis("Stop.", -1.0, 0.9), Hypothesis("Yes.", -5.0, 0.05))
    b.speech_started(SPEECH + 1, 7000, 3000)
    b.speech_stopped(SPEECH + 1, 7400)
    assert b.final(SPEECH + 1, "Stop.", 0.0, unlikely) == [InterruptReply(REPLY), DropFinal(SPEECH + 1)]
    # Nor does it for speech as long as a real request.
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    b.speech_stopped(SPEECH, 5000 + DuplexConfig().backchannel_max_ms)
    assert b.final(SPEECH, "He hasn't.", 0.0, heard) == [InterruptReply(REPLY)]
    # A hum that Whisper wrote down as words, with a backchannel reading (bench bargein).
    hum = (Hypothesis("and m m", -1.72, 0.45), Hypothesis("Mm.", -1.59, 0.3), Hypothesis("Mm mm", -1.9, 0.25))
    b = speaking()
    b.speech_started(SPEECH, 4800, 1000)
    b.speech_stopped(SPEECH, 5440)
    assert b.final(SPEECH, "and m m", 0.38, hum) == [ResumeReply(REPLY), DropFinal(SPEECH)]


def test_the_assistants_own_words_are_its_echo() -> None:
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    assert b.partial(SPEECH, "a quiet house", 0.0) == []  # its own recent words
    b.speech_stopped(SPEECH, 5900)
    assert b.final(SPEECH, "A quiet house by the see.", 0.0) == [ResumeReply(REPLY), DropFinal(SPEECH)]


def test_energy_that_is_mostly_echo_never_interrupts() -> None:
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    assert b.partial(SPEECH, "hey brian", 0.95) == []
    b.speech_stopped(SPEECH, 6000)
    assert b.final(SPEECH, "Hey, Brian.", 0.95) == [ResumeReply(REPLY), DropFinal(SPEECH)]


def test_a_first_guess_at_a_hum_does_not_interrupt_and_its_final_resumes() -> None:
    # bench bargein: "mm hmm" over the story, the first partial "And then." (nothing stable),
    # the final "Mm."; the partial alone used to cut the reply.
    b = speaking()
    b.speech_started(SPEECH, 4800, 1000)
    assert b.partial(SPEECH, "And then.", 0.45, stable="", audio_ms=5300) == []
    assert b.tick(1000 + DuplexConfig().confirm_ms, 0.45) == []
    b.speech_stopped(SPEECH, 5440)
    assert b.final(SPEECH, "Mm.", 0.49) == [ResumeReply(REPLY), DropFinal(SPEECH)]


def test_stable_words_interrupt_and_a_stop_command_does_before_it_is_stable() -> None:
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    assert b.partial(SPEECH, "What time", 0.1, stable="", audio_ms=5400) == []
    assert b.partial(SPEECH, "What time is", 0.1, stable="What time", audio_ms=5800) == [InterruptReply(REPLY)]
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    assert b.partial(SPEECH, "Stop.", 0.1, stable="", audio_ms=5400) == [InterruptReply(REPLY)]
    b = speaking()  # a stable backchannel is still one
    b.speech_started(SPEECH, 5000, 1000)
    assert b.partial(SPEECH, "yeah yeah", 0.1, stable="yeah", audio_ms=5800) == []


def test_speech_without_sure_words_is_rechecked_then_interrupts_after_the_words_wait() -> None:
    cfg = DuplexConfig()
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    t = 1000 + cfg.confirm_ms
    assert b.tick(t - 1, 0.0) == []  # not yet due
    decisions: list[object] = []
    while not decisions:
        t = b.deadline_ms  # type: ignore[assignment]
        # The listener keeps up with the speech, and never becomes sure of a word.
        b.partial(SPEECH, "hmm", 0.0, stable="", audio_ms=int(5000 + t - 1000))
        decisions = b.tick(t, 0.0)
    assert decisions == [InterruptReply(REPLY)]
    # Checked every recheck_ms after confirm_ms, and it gave up once words_wait_ms had passed.
    assert t - 1000 >= cfg.words_wait_ms and (t - 1000 - cfg.confirm_ms) % cfg.recheck_ms == 0
    assert t - 1000 < cfg.words_wait_ms + cfg.recheck_ms


def test_a_listener_that_lags_is_waited_for_up_to_the_pause_limit() -> None:
    # Its events come late on busy cores: the wall clock alone does not say the speech went on.
    cfg = DuplexConfig()
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    assert b.partial(SPEECH, "And man", 0.3, stable="", audio_ms=5500) == []
    t = 1000.0
    decisions: list[object] = []
    while not decisions:
        t = b.deadline_ms  # type: ignore[assignment]
        decisions = b.tick(t, 0.3)
    assert decisions == [InterruptReply(REPLY)] and t - 1000 >= cfg.max_pause_ms


def test_speech_that_stays_the_echo_never_interrupts_however_long() -> None:
    cfg = DuplexConfig()
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    t = 1000.0
    while t < 1000 + 2 * cfg.words_wait_ms:
        t = b.deadline_ms  # type: ignore[assignment]
        assert b.tick(t, 0.9) == []
    b.speech_stopped(SPEECH, 8500)
    assert b.final(SPEECH, "the front volume", 0.9) == [ResumeReply(REPLY), DropFinal(SPEECH)]


def test_words_heard_as_echo_at_first_interrupt_once_the_echo_share_falls() -> None:
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    assert b.partial(SPEECH, "tell me more", 0.9) == []  # mostly echo by energy so far
    assert b.tick(1000 + 500, 0.1) == [InterruptReply(REPLY)]  # a person's energy now


def test_a_paused_reply_whose_speech_ended_resumes_if_no_final_ever_comes() -> None:
    cfg = DuplexConfig()
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    b.speech_stopped(SPEECH, 5600)
    assert b.deadline_ms == 1000 + cfg.max_pause_ms
    assert b.tick(1000 + cfg.max_pause_ms - 1, 0.0) == []
    assert b.tick(1000 + cfg.max_pause_ms, 0.0) == [ResumeReply(REPLY)]


def test_a_final_of_only_the_reply_s_words_while_speaking_is_dropped() -> None:
    b = speaking()
    # Speech that started before the reply became audible ends while it plays: not paused.
    assert b.final(7, "the sea", 0.0) == [DropFinal(7)]
    assert b.final(7, "what time is it", 0.0) == []
    assert b.final(7, "anything", 0.9) == [DropFinal(7)]  # almost all echo by energy


def test_speech_after_the_assistant_fell_silent_is_not_a_barge_in() -> None:
    b = speaking()
    assert b.assistant_silent() == [] and b.state is State.IDLE
    assert b.speech_started(SPEECH, 9000, 3000) == []
    assert b.final(SPEECH, "the sea", 0.0) == []  # the assistant is silent: its words are the person's now


def test_the_reply_going_away_while_paused_ends_the_pause() -> None:
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    b.assistant_silent()  # the reply was cancelled (watchdog) or its tail ended
    assert b.state is State.IDLE and b.deadline_ms is None
    assert b.final(SPEECH, "mm hmm", 0.0) == []


def test_a_second_start_while_paused_is_ignored() -> None:
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    assert b.speech_started(SPEECH + 1, 5200, 1200) == []
    assert b.partial(SPEECH + 1, "stop now", 0.0) == []  # not the speech that paused the reply


def test_a_new_reply_takes_the_floor_after_an_interruption() -> None:
    b = speaking()
    b.speech_started(SPEECH, 5000, 1000)
    b.partial(SPEECH, "no thanks", 0.0)
    assert b.state is State.INTERRUPTED
    b.assistant_speaking(3)
    assert b.state is State.SPEAKING and b.reply_turn == 3
