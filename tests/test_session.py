"""The asyncio session through the real models; a fake LLM only where a test is about orchestration."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import numpy as np

from assistant import Assistant, load_audio
from assistant.events import (
    ErrorEvent,
    Event,
    ReplyAudio,
    ReplyDone,
    SessionCreated,
    SpeechStarted,
    SpeechStopped,
    TranscriptFinal,
    Understood,
)
from assistant.reply.llm import Message
from assistant.reply.responder import Responder
from assistant.textnorm import normalise_for_wer
from conftest import SAMPLES


async def converse(assistant: Assistant, audio: np.ndarray) -> list[Event]:
    async with assistant.session() as s:
        for i in range(0, len(audio), 1600):
            await s.send_audio(audio[i : i + 1600])
        await s.end_audio()
        return [ev async for ev in s.events()]


def test_one_turn_event_order_and_turn_ids(assistant: Assistant) -> None:
    audio = load_audio(SAMPLES / "turn_on_the_living_room_lamp.wav")
    events = asyncio.run(converse(assistant, audio))
    kinds = [type(e) for e in events]
    assert kinds[0] is SessionCreated
    order = [kinds.index(k) for k in (SpeechStarted, SpeechStopped, TranscriptFinal, ReplyAudio, ReplyDone)]
    assert order == sorted(order)
    assert {e.turn_id for e in events[1:]} == {1}
    transcript = next(e for e in events if isinstance(e, TranscriptFinal))
    assert normalise_for_wer(transcript.transcript) == "turn on the living room lamp"
    done = next(e for e in events if isinstance(e, ReplyDone))
    assert done.text and {"asr_final_ms", "first_text_ms", "tts_first_audio_ms", "response_ms"} <= set(done.metrics)


def test_two_requests_make_two_turns_with_memory(assistant: Assistant) -> None:
    a = load_audio(SAMPLES / "turn_on_the_living_room_lamp.wav")
    b = load_audio(SAMPLES / "go_forward_ten_meters.wav")
    gap = np.zeros(16000, np.float32)

    async def run() -> tuple[list[Event], int]:
        async with assistant.session() as s:
            audio = np.concatenate([a, gap, b])
            for i in range(0, len(audio), 1600):
                await s.send_audio(audio[i : i + 1600])
            await s.end_audio()
            events = [ev async for ev in s.events()]
            return events, len(s.history.messages)

    events, n_messages = asyncio.run(run())
    done = [e for e in events if isinstance(e, ReplyDone)]
    assert [d.turn_id for d in done] == [1, 2]
    assert n_messages == 4


def test_close_cancels_and_awaits_every_task(assistant: Assistant) -> None:
    async def run() -> set[asyncio.Task]:
        before = asyncio.all_tasks()
        s = assistant.session()
        await s.start()
        await s.send_audio(load_audio(SAMPLES / "go_forward_ten_meters.wav")[:8000])
        await s.close()
        await s.close()  # twice is fine
        return asyncio.all_tasks() - before

    assert asyncio.run(run()) == set()


class FailingLLM:
    """Fake LLM for an orchestration test: fails on the first call, then answers."""

    def __init__(self) -> None:
        self.calls = 0

    def stream(self, messages: list[Message], cancel: threading.Event, grammar: str | None = None,
               max_tokens: int | None = None) -> Iterator[str]:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("backend went away")
        yield "Still here."


def test_orchestration_a_failing_turn_reports_and_the_session_lives_on(assistant: Assistant) -> None:
    fake = Assistant(assistant.config, assistant.store)
    fake.__dict__.update(
        silero_path=assistant.silero_path,
        recognizer=assistant.recognizer,
        synthesizer=assistant.synthesizer,
        understander=assistant.understander,
        responder=Responder(FailingLLM()),
    )
    a = load_audio(SAMPLES / "capital_of_france.wav")  # an open question: the LLM answers
    gap = np.zeros(16000, np.float32)
    events = asyncio.run(converse(fake, np.concatenate([a, gap, a])))
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    done = [e for e in events if isinstance(e, ReplyDone)]
    assert len(errors) == 1 and errors[0].turn_id == 1 and "backend went away" in errors[0].message
    assert [d.turn_id for d in done] == [1, 2] and done[1].text == "Still here."


def test_a_skill_answers_a_spoken_request(assistant: Assistant) -> None:
    events = asyncio.run(converse(assistant, load_audio(SAMPLES / "what_time_is_it.wav")))
    understood = next(e for e in events if isinstance(e, Understood))
    assert understood.intent == "datetime_query" and understood.route == "skill"
    done = next(e for e in events if isinstance(e, ReplyDone))
    assert done.text.startswith("It's ")


def test_a_timer_set_by_voice_fires_and_is_spoken(assistant: Assistant) -> None:
    from assistant.audio import resample

    synth = assistant.synthesizer
    request = resample(synth.synthesize("Set a timer for two seconds."), synth.sample_rate, 16000)

    async def run() -> list[Event]:
        async with assistant.session() as s:
            await s.send_audio(np.concatenate([np.zeros(4800, np.float32), request]))
            for _ in range(45):  # 4.5 s of live silence while the timer runs
                await s.send_audio(np.zeros(1600, np.float32))
                await asyncio.sleep(0.1)
            await s.end_audio()
            return [ev async for ev in s.events()]

    done = [e.text for e in asyncio.run(run()) if isinstance(e, ReplyDone)]
    assert done[0] == "Okay, a timer for two seconds, starting now."
    assert done[1] == "Your two seconds timer is done."


def test_misheard_echo_still_sounds_like_the_reply() -> None:
    from assistant.conversation.ownvoice import sounds_alike

    for heard, said in [("by", "by"), ("bye", "by"), ("side", "inside"), ("mornin", "morning")]:
        assert sounds_alike(heard, said), (heard, said)
    for heard, said in [("stop", "story"), ("wait", "waves"), ("time", "the"), ("no", "on")]:
        assert not sounds_alike(heard, said), (heard, said)
