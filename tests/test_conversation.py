"""Orchestration of the conversation core on named fakes (tests/fakes.py): milliseconds per turn.

The models are fakes; the session, listener, endpointer, responder, chunker, barge-in
policy, playback clock, turn table and watchdog are the real ones.
"""

from __future__ import annotations

import asyncio
import random

import numpy as np
import pytest

from assistant.conversation.session import Session
from assistant.conversation.turns import TurnTable
from assistant.events import ErrorEvent, Event, Interrupted, ReplyAudio, ReplyDone, TranscriptFinal, Understood
from assistant.reply.responder import Responder
from conversation_driver import Driver
from fakes import KINDS, STAGES, VAD_KINDS, FakeAssistant, Faults, fast_config, silence

ROUTES = ("hello", "skill", "decides")


def phrases(n: int) -> list[str]:
    return [f"{ROUTES[k % 3]} t{k}" for k in range(n)]


def fake_bot(n: int, plan: dict[int, tuple[str, str]] | None = None, **duplex: object) -> FakeAssistant:
    cfg = fast_config()
    cfg.duplex.playback_lead_ms = 20
    for name, value in duplex.items():
        setattr(cfg.duplex, name, value)
    return FakeAssistant(phrases(n), Faults(plan or {}), cfg)


async def say_all(bot: FakeAssistant, n: int) -> Driver:
    """Say phrases 0..n-1 on one connection, end the input, and wait for the session to end."""
    async with Driver(bot.session()) as d:
        for k in range(n):
            await d.say(k)
        await d.session.end_audio()
        await asyncio.wait_for(d.ended.wait(), 5)
        await asyncio.sleep(0.1)  # a background prefill runs after the last reply
    return d


def test_orchestration_every_route_is_answered_on_one_connection() -> None:
    # The route of the bug: an unsure classifier, the LLM picks an intent that has a skill,
    # the skill's reply is spoken; and the session answers every later turn.
    bot = fake_bot(6)
    d = asyncio.run(say_all(bot, 6))
    done = [e for e in d.events if isinstance(e, ReplyDone)]
    assert [e.turn_id for e in done] == [1, 2, 3, 4, 5, 6]
    assert done[1].text == "Skill answer t1." and done[2].text == "The skill for alarm_set answers t2."
    assert done[0].text.startswith("Reply t0") and done[5].text == "The skill for alarm_set answers t5."
    decided = [e for e in d.of(Understood, 3) if isinstance(e, Understood) and e.decided_by == "llm"]
    assert decided and decided[0].intent == "alarm_set"
    assert not d.of(ErrorEvent)


def expected_code(stage: str) -> str:
    return {"vad": "vad_error", "asr": "asr_error", "understand": "understand_error", "llm": "llm_error",
            "tts": "tts_error"}[stage]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("speculative", [False, True], ids=["replies-at-the-endpoint", "replies-begun-at-pauses"])
def test_orchestration_chaos_every_turn_ends_and_no_session_sticks(speculative: bool) -> None:
    """200 scripted turns over 4 concurrent sessions, with faults injected in every stage."""
    rng = random.Random(20261201)
    sessions, per_session = 4, 50
    plans = []
    for _ in range(sessions):
        plan = {}
        for k in range(per_session):
            if rng.random() < 0.6:
                stage = rng.choice(STAGES)
                plan[k] = (stage, rng.choice(VAD_KINDS if stage == "vad" else KINDS))
        plans.append(plan)
    bots = [fake_bot(per_session, dict(plan)) for plan in plans]  # a copy: a fired vad fault is used up
    for bot in bots:
        bot.__dict__["responder"] = Responder(bot.fake_llm, speculative=speculative)

    async def one(bot: FakeAssistant) -> tuple[Driver, list[int | None]]:
        async with Driver(bot.session()) as d:
            turns = [await d.say(k) for k in range(per_session)]
            await d.session.end_audio()
            await asyncio.wait_for(d.ended.wait(), 10)
        return d, turns

    async def run() -> tuple[list[tuple[Driver, list[int | None]]], set[asyncio.Task[object]]]:
        before = asyncio.all_tasks()
        results = await asyncio.gather(*(one(b) for b in bots))
        await asyncio.sleep(0.05)
        return list(results), asyncio.all_tasks() - before

    results, leaked = asyncio.run(run())
    assert leaked == set(), leaked
    checked = 0
    for (d, turns), plan in zip(results, plans):
        for k, turn in enumerate(turns):
            stage, kind = plan.get(k, ("", ""))
            if stage == "llm" and ROUTES[k % 3] != "hello":
                stage = kind = ""  # a skill answers these: the LLM is never asked, or stopped at the intent
            assert turn is not None, f"no speech detected for phrase {k} ({stage} {kind})"
            ends = d.ends_of(turn)
            log = [e.to_dict() for e in d.events if e.turn_id == turn and not isinstance(e, ReplyAudio)]
            if kind in ("", "slow") or stage == "vad":
                # A slow stage is only slow; a detector failure is an error, and listening goes on.
                assert [type(e) for e in ends] == [ReplyDone], (k, stage, kind, log)
            elif stage == "asr":
                assert [e.code for e in ends if isinstance(e, ErrorEvent)] == ["asr_error"], (k, log)
            elif kind == "raise":
                assert any(isinstance(e, ErrorEvent) and e.code == expected_code(stage) for e in ends), (k, log)
                if stage in ("llm", "tts"):  # the turn still ends in a spoken reply after the error
                    assert isinstance(ends[-1], ReplyDone), (k, log)
            else:  # a hang: the watchdog ends the turn
                assert [e.code for e in ends if isinstance(e, ErrorEvent)] == ["reply_timeout"], (k, log)
            checked += 1
        vad_faults = sum(1 for stage, kind in plan.values() if stage == "vad" and kind == "raise")
        assert len([e for e in d.of(ErrorEvent) if getattr(e, "code", "") == "vad_error"]) == vad_faults
    assert checked == sessions * per_session


def test_orchestration_a_dead_stage_says_error_and_ends_the_session() -> None:
    bot = fake_bot(2)

    async def run() -> Driver:
        session = bot.session()

        async def broken() -> None:
            raise RuntimeError("bug in a stage")

        session._respond = broken  # type: ignore[method-assign]  # a stage with a bug
        async with Driver(session) as d:
            await asyncio.wait_for(d.ended.wait(), 5)
            with pytest.raises(Exception, match="respond stage failed"):
                await session.send_audio(silence(0.02))
        return d

    d = asyncio.run(run())
    errors = d.of(ErrorEvent)
    assert errors and errors[-1].code == "internal_error" and "bug in a stage" in errors[-1].message  # type: ignore[attr-defined]


def test_orchestration_update_keeps_the_stricter_start_while_the_assistant_speaks() -> None:
    bot = fake_bot(1)

    async def run() -> tuple[float, float, float]:
        session = bot.session()
        listener = session.listener
        listener.agent_speech_started()
        session.update({"silence_ms": 500, "speech_threshold": 0.4})
        while_speaking = listener.endpointer.config.speech_threshold
        silence_ms = listener.endpointer.config.silence_ms
        listener.agent_speech_stopped()
        return while_speaking, silence_ms, listener.endpointer.config.speech_threshold

    strict, silence_ms, after = asyncio.run(run())
    assert strict == bot.config.duplex.strict_speech_threshold and silence_ms == 500 and after == 0.4


def test_orchestration_speech_over_a_paced_reply_interrupts_it_and_keeps_only_what_was_heard() -> None:
    # Real-time pacing: a long reply plays; "stop" (phrase 1) cuts in half a second later.
    names = ["hello t0", "stop now please t1"]
    cfg = fast_config(stall_s=5.0)
    cfg.duplex.realtime_output = True
    bot = FakeAssistant(names, Faults({}), cfg)
    bot.fake_llm.words = 40  # ~2.5 s of speech

    async def run() -> tuple[Driver, str | None]:
        async with Driver(bot.session()) as d:
            await d.feed(np.concatenate([fakes_tone(0), silence(0.4)]), pace_s=0.02)
            for _ in range(100):
                if d.of(ReplyAudio, 1):
                    break
                await d.feed(silence(0.02), pace_s=0.02)
            await d.feed(silence(0.5), pace_s=0.02)
            await d.feed(np.concatenate([fakes_tone(1, 0.6), silence(0.6)]), pace_s=0.02)
            for _ in range(100):
                if d.of(ReplyDone, 2):
                    break
                await d.feed(silence(0.02), pace_s=0.02)
            return d, d.session.heard_reply(1)

    d, heard = asyncio.run(run())
    interrupt = d.of(Interrupted, 1)
    assert interrupt and not d.of(ReplyDone, 1)
    cut = d.events.index(interrupt[0])
    assert not [e for e in d.events[cut:] if isinstance(e, ReplyAudio) and e.turn_id == 1]
    full = "Reply t0 " + " ".join(f"word{i}" for i in range(1, 40)) + "."
    assert heard and full.startswith(heard) and len(heard) < len(full) / 2, heard
    assert d.of(ReplyDone, 2)  # and the interruption was answered


def fakes_tone(k: int, seconds: float = 0.35) -> np.ndarray:
    from fakes import tone

    return tone(k, seconds)


def test_turn_table_forgets_old_finished_turns_and_keeps_running_ones() -> None:
    table = TurnTable(keep=16)
    first = table.open()  # still running
    for _ in range(39):
        table.open().ended = True
    assert len(table) <= 17 and table.get(first.id) is first and not first.cancelled
    assert table.get(2) is None and table.live(40) and not table.live(2)
    for _ in range(4 * 16):
        table.open().ended = True
    assert table.get(first.id) is None and first.cancelled  # abandoned once very old


def test_finals_of_fake_turns_carry_their_nbest() -> None:
    bot = fake_bot(1)

    async def run() -> list[Event]:
        async with Driver(bot.session()) as d:
            await d.say(0)
        return d.events

    final = next(e for e in asyncio.run(run()) if isinstance(e, TranscriptFinal))
    assert final.transcript == "hello t0" and len(final.nbest) == 2


def test_orchestration_the_server_closes_a_session_whose_stage_died_with_1011_after_its_error() -> None:
    import json

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from assistant.serve.server import start_server

    class BrokenStageBot(FakeAssistant):
        """Fake models; every session's respond stage has a bug."""

        def session(self, config: object = None) -> Session:  # type: ignore[override]
            s = super().session()

            async def broken() -> None:
                raise RuntimeError("bug in a stage")

            s._respond = broken  # type: ignore[method-assign]
            return s

    async def run() -> tuple[list[dict[str, object]], int | None, int | None]:
        server = await start_server(BrokenStageBot(phrases(1), Faults({}), fast_config()), port=0)
        port = server.sockets[0].getsockname()[1]
        seen: list[dict[str, object]] = []
        try:
            async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
                try:
                    async with asyncio.timeout(5):
                        async for message in ws:
                            seen.append(json.loads(message))
                except ConnectionClosed:
                    pass
                return seen, ws.close_code, len(server.sockets)
        finally:
            server.close()
            await server.wait_closed()

    seen, code, _ = asyncio.run(run())
    assert [e["type"] for e in seen] == ["session.created", "error"] and seen[1]["code"] == "internal_error"
    assert code == 1011


def test_orchestration_the_llm_cache_follows_every_turn_skill_turns_too() -> None:
    # After each reply the history is prefilled in the background (system prompt + 2 messages an
    # exchange), whoever answered: skill replies enter the LLM's cache too, so the next LLM turn
    # pays only for its own words.
    bot = fake_bot(6)
    asyncio.run(say_all(bot, 6))
    history_sizes = {n for n, said in bot.fake_llm.prefills if said is None}
    assert 1 + 2 * 6 in history_sizes  # the whole conversation, after the last (skill) turn
    assert 1 + 2 * 2 in history_sizes  # after turn 2, a skill turn


def test_orchestration_the_cache_is_warmed_once_the_reply_is_heard_not_beside_its_first_words() -> None:
    # The prefill of the history took the cores from the synthesis of the reply's first words
    # (Piper's first audio 450-620 ms instead of ~110 on skill turns): it waits for that audio.
    bot = fake_bot(6)
    heard: list[bool] = []

    async def run() -> None:
        async with Driver(bot.session()) as d:
            def check(messages: int, open_user: str | None) -> None:
                if open_user is None and messages > 1:  # the history after turn (messages - 1) / 2
                    turn = d.session.turns.get((messages - 1) // 2)
                    heard.append(turn is None or "first_audio" in turn.clock.marks)

            bot.fake_llm.on_prefill = check
            for k in range(6):
                await d.say(k)

    asyncio.run(run())
    assert len(heard) >= 5 and all(heard)  # skill turns (1, 4) and LLM turns alike


def test_orchestration_a_reply_begun_at_the_pause_is_taken_over_by_its_turn() -> None:
    # With a long endpoint wait (1 s of silence), the LLM turns' replies are begun at the pause and
    # their turns take them over; the skill and LLM-decides turns stop theirs (or begin none) and
    # answer as always. Every turn ends in its own reply.
    bot = fake_bot(6)
    bot.config.vad.silence_ms = 1000
    bot.__dict__["responder"] = Responder(bot.fake_llm, speculative=True)
    d = asyncio.run(say_all(bot, 6))
    done = [e for e in d.events if isinstance(e, ReplyDone)]
    assert [e.turn_id for e in done] == [1, 2, 3, 4, 5, 6]
    words = " word1 word2 word3 word4 word5 word6 word7."
    assert [e.text for e in done] == [f"Reply t0{words}", "Skill answer t1.", "The skill for alarm_set answers t2.",
                                      f"Reply t3{words}", "Skill answer t4.", "The skill for alarm_set answers t5."]
    taken = [e.metrics.get("speculative_reply", 0.0) for e in done]
    assert taken[0] == taken[3] == 1.0 and not any(taken[i] for i in (1, 2, 4, 5))
    assert not d.of(ErrorEvent)
    assert bot.fake_llm.calls == 4  # two speculations taken, two LLM-decides turns: no LLM call twice


def test_orchestration_the_speculative_final_prefills_the_whole_user_message() -> None:
    # At the pause the LLM's cache is warmed with what the turn will read: the alternatives as
    # heard and, where the classifier is unsure, the candidate intents (~55 tokens that the
    # turn used to evaluate before its first token).
    bot = fake_bot(3)
    asyncio.run(say_all(bot, 3))
    prefilled = {said for _, said in bot.fake_llm.prefills if said}
    read = {m.split()[1]: m for m in bot.fake_llm.user_messages}  # by the phrase's tag
    assert "Likely intents" in read["t2"] and read["t2"] in prefilled  # "decides t2"
    assert "or maybe" in read["t0"] and read["t0"] in prefilled  # "hello t0", heard two ways
    assert not any("t1" in said for said in prefilled if "\n" in said)  # "skill t1": no LLM turn to warm
