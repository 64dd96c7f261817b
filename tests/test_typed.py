"""Typed turns, held replies, client commits and cancels on named fakes (tests/fakes.py).

The models are fakes; the session, intake, listener, endpointer, barge-in floor and
turn table are the real ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import numpy as np
import pytest

from assistant.errors import AssistantError
from assistant.events import (
    ErrorEvent,
    Interrupted,
    ReplyAudio,
    ReplyDone,
    ReplyTextDelta,
    SpeechStopped,
    TextInput,
    TranscriptFinal,
    Understood,
)
from conversation_driver import Driver
from fakes import FakeAssistant, Faults, fast_config, silence, tone

PHRASES = ["hello t0", "skill t1", "hello t2", "hello t3"]


def bot(plan: dict[int, tuple[str, str]] | None = None) -> FakeAssistant:
    cfg = fast_config()
    cfg.duplex.playback_lead_ms = 20
    return FakeAssistant(PHRASES, Faults(plan or {}, hang_s=3.0), cfg)


async def until(d: Driver, check: object, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, [e.type for e in d.events]
        await asyncio.sleep(0.01)


def test_a_typed_message_is_understood_and_answered_like_speech() -> None:
    async def run() -> Driver:
        async with Driver(bot().session()) as d:
            turn = await d.session.send_text("  skill   t1 ")
            await until(d, lambda: d.ends_of(turn))
            # Its reply has played out (lead 20 ms) before the person speaks: over it, the start
            # would be the stricter one of barge-in (on a slow machine the tone's start was lost).
            await d.feed(silence(0.06), pace_s=0.02)
            spoken = await d.say(0)
            assert spoken is not None and spoken > turn
            return d

    d = asyncio.run(run())
    typed = d.of(TextInput)
    assert len(typed) == 1 and typed[0].text == "skill t1"  # type: ignore[attr-defined]  # whitespace folded
    first = typed[0].turn_id
    assert [e.text for e in d.of(ReplyDone, first)] == ["Skill answer t1."]  # type: ignore[attr-defined]
    assert d.of(ReplyAudio, first) and d.of(Understood, first)
    assert not d.of(SpeechStopped, first)  # no speech events for a typed turn
    assert [e.turn_id for e in d.of(ReplyDone)] == [first, first + 1]
    assert d.session.history.messages[0].content == "skill t1"


def test_a_typed_message_stops_the_reply_under_way() -> None:
    async def run() -> tuple[Driver, int, int]:
        async with Driver(bot({0: ("llm", "hang")}).session()) as d:
            first = await d.session.send_text("hello t0")
            await until(d, lambda: d.of(ReplyTextDelta, first))
            second = await d.session.send_text("skill t1")
            await until(d, lambda: d.ends_of(second))
            return d, first, second

    d, first, second = asyncio.run(run())
    assert [type(e) for e in d.ends_of(first)] == [Interrupted]
    assert [e.text for e in d.of(ReplyDone, second)] == ["Skill answer t1."]  # type: ignore[attr-defined]


def test_cancel_reply_stops_it_and_says_which_turns() -> None:
    async def run() -> tuple[Driver, int, list[int], list[int]]:
        async with Driver(bot({0: ("llm", "hang")}).session()) as d:
            turn = await d.session.send_text("hello t0")
            await until(d, lambda: d.of(ReplyTextDelta, turn))
            stopped = d.session.cancel_reply()
            await until(d, lambda: d.ends_of(turn))
            return d, turn, stopped, d.session.cancel_reply()

    d, turn, stopped, again = asyncio.run(run())
    assert stopped == [turn] and again == []
    assert [type(e) for e in d.ends_of(turn)] == [Interrupted]


def test_held_requests_wait_for_respond_and_are_answered_as_one() -> None:
    async def run() -> tuple[Driver, int, int]:
        async with Driver(bot().session()) as d:
            a = await d.session.send_text("hello", respond=False)
            b = await d.session.send_text("t2", respond=False)
            await asyncio.sleep(0.2)
            assert not d.of(ReplyDone) and not d.of(Understood)  # nothing is answered yet
            d.session.respond()
            await until(d, lambda: d.ends_of(b))
            d.session.respond()  # nothing held any more
            await until(d, lambda: d.of(ErrorEvent))
            return d, a, b

    d, a, b = asyncio.run(run())
    assert not d.ends_of(a)  # the first lives on in the second: one request, one reply
    understood = d.of(Understood, b)
    assert understood and understood[0].text == "hello t2"  # type: ignore[attr-defined]
    assert d.of(ReplyDone, b)
    assert [e.code for e in d.of(ErrorEvent)] == ["no_request"]  # type: ignore[attr-defined]


def test_create_response_off_holds_a_spoken_request_until_respond() -> None:
    async def run() -> tuple[Driver, int]:
        async with Driver(bot().session()) as d:
            d.session.update({"turn_detection": {"type": "server_vad", "create_response": False}})
            await d.feed(np.concatenate([tone(2), silence(0.5)]))
            await until(d, lambda: d.of(TranscriptFinal))
            turn = d.of(TranscriptFinal)[0].turn_id
            await asyncio.sleep(0.2)
            assert not d.of(ReplyDone)
            d.session.respond()
            await until(d, lambda: d.ends_of(turn))
            return d, turn

    d, turn = asyncio.run(run())
    assert d.of(ReplyDone, turn)


def test_with_no_turn_detection_only_a_commit_ends_the_utterance() -> None:
    async def run() -> Driver:
        async with Driver(bot().session()) as d:
            d.session.update({"turn_detection": None})
            await d.feed(np.concatenate([tone(0), silence(1.0)]))
            await asyncio.sleep(0.2)
            assert not d.of(SpeechStopped)  # a second of silence did not end it
            await d.session.commit_audio()
            await until(d, lambda: d.of(ReplyDone))
            await d.session.commit_audio()  # nothing to commit
            await until(d, lambda: d.of(ErrorEvent))
            return d

    d = asyncio.run(run())
    assert [e.transcript for e in d.of(TranscriptFinal)] == ["hello t0"]  # type: ignore[attr-defined]
    assert [e.code for e in d.of(ErrorEvent)] == ["commit_empty"]  # type: ignore[attr-defined]


def test_clear_drops_the_utterance_in_progress() -> None:
    async def run() -> Driver:
        async with Driver(bot().session()) as d:
            d.session.update({"turn_detection": None})
            await d.feed(tone(0))
            await d.session.clear_audio()
            await until(d, lambda: d.of(TranscriptFinal))
            await d.feed(np.concatenate([tone(2), silence(0.2)]))
            await d.session.commit_audio()
            await until(d, lambda: d.of(ReplyDone))
            return d

    d = asyncio.run(run())
    finals = d.of(TranscriptFinal)
    assert [f.transcript for f in finals] == ["", "hello t2"]  # type: ignore[attr-defined]
    assert [e.turn_id for e in d.of(ReplyDone)] == [finals[1].turn_id]


def test_text_only_output_writes_the_reply_and_sends_no_audio() -> None:
    async def run() -> Driver:
        async with Driver(bot().session()) as d:
            d.session.update({"output_modalities": ["text"]})
            turn = await d.session.send_text("hello t3")
            await until(d, lambda: d.ends_of(turn))
            return d

    d = asyncio.run(run())
    assert d.of(ReplyTextDelta) and d.of(ReplyDone) and not d.of(ReplyAudio)


def test_bad_typed_messages_and_settings_are_refused() -> None:
    async def run() -> None:
        async with bot().session() as s:
            for text in ("", "   ", "x" * 2001):
                with pytest.raises(AssistantError, match="characters"):
                    await s.send_text(text)
            bads: list[dict[str, object]] = [
                {"output_modalities": ["audio", "text"]},
                {"turn_detection": {"type": "server_vad", "interrupt_response": False}},
                {"turn_detection": {"type": "server_vad", "create_response": 1}},
            ]
            for bad in bads:
                with pytest.raises(AssistantError):
                    s.update(bad)
            await s.end_audio()
            with pytest.raises(AssistantError, match="ended"):
                await s.send_text("hello")

    asyncio.run(run())


def test_instructions_join_the_system_prompt_of_this_session_only() -> None:
    async def run() -> tuple[FakeAssistant, str, str]:
        b = bot()
        async with Driver(b.session()) as d, Driver(b.session()) as other:
            assert d.session.update({"instructions": " Answer like a pirate. "}) == {
                "instructions": " Answer like a pirate. "}
            turn = await d.session.send_text("hello t0")
            await until(d, lambda: d.ends_of(turn))
            mine = b.fake_llm.seen[0].content
            turn = await other.session.send_text("hello t2")
            await until(other, lambda: other.ends_of(turn))
            return b, mine, b.fake_llm.seen[0].content

    _b, mine, theirs = asyncio.run(run())
    assert mine.endswith("\n\nAnswer like a pirate.") and mine.startswith(theirs)  # the shared prompt stays the prefix
    assert "pirate" not in theirs


class FakeSilentLLM:
    """A fake served LLM that ends every stream without a word (a server that dropped the request)."""

    def stream(self, messages: object, cancel: object, grammar: object = None, max_tokens: object = None) -> Iterator[str]:
        yield from ()

    def prefill(self, messages: object, open_user: object = None) -> int:
        return 0


def test_an_llm_that_returns_nothing_is_an_error_and_a_spoken_apology() -> None:
    from assistant.conversation.replying import SORRY
    from assistant.reply.responder import Responder

    async def run() -> tuple[Driver, int]:
        b = bot()
        b.__dict__["responder"] = Responder(FakeSilentLLM())  # type: ignore[arg-type]
        async with Driver(b.session()) as d:
            turn = await d.session.send_text("hello t0")
            await until(d, lambda: d.of(ReplyDone, turn))
            return d, turn

    d, turn = asyncio.run(run())
    assert [e.code for e in d.of(ErrorEvent, turn)] == ["llm_error"]  # type: ignore[attr-defined]
    assert [e.text for e in d.of(ReplyDone, turn)] == [SORRY] and d.of(ReplyAudio, turn)  # type: ignore[attr-defined]
