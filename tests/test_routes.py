"""Every turn on one connection gets a reply, through the real models and the real server.

The route that once killed a session for good: the classifier is unsure, the LLM decides
the intent, a skill has an answer for that intent, and the skill's reply is spoken.
"""

from __future__ import annotations

import asyncio
import copy

from assistant import Assistant
from assistant.bench.common import spoken_turn
from assistant.bench.pacing import silence
from assistant.bench.simclient import SimulatedClient, WebSocket
from assistant.serve.server import start_server
from assistant.skills import default_registry
from assistant.understand.intents import LABELS, OUT_OF_SCOPE
from conftest import espeak


async def two_turns(bot: Assistant, first: str, second: str) -> SimulatedClient:
    server = await start_server(bot, port=0)
    port = server.sockets[0].getsockname()[1]
    client = SimulatedClient(await WebSocket.connect(f"ws://127.0.0.1:{port}/ws"))
    await client.start()
    try:
        await client.stream(silence(0.3))
        for text in (first, second):
            await spoken_turn(client, text, espeak(bot, text), timeout_s=30)
        return client
    finally:
        await client.close()
        server.close()
        await server.wait_closed()


def replies(client: SimulatedClient) -> dict[int, str]:
    return {int(r.event["turn_id"]): r.event["text"] for r in client.events_of("response.done")}


def test_hello_there_then_what_time_is_it_both_get_replies(assistant: Assistant) -> None:
    client = asyncio.run(two_turns(assistant, "hello there", "what time is it"))
    finals = [r.event for r in client.events_of("conversation.item.input_audio_transcription.completed")
              if r.event["transcript"]]
    done = replies(client)
    assert len(finals) == 2 and set(done) == {f["turn_id"] for f in finals}, (finals, done)
    second = finals[1]["turn_id"]
    routes = [r.event["route"] for r in client.events_of("assistant.understood", second)]
    if routes and routes[0] == "skill":  # heard right: the time skill answers
        assert done[second].startswith("It's "), (finals, done)
    assert done[second], (finals, done)
    assert not client.events_of("error")


def test_the_llm_picks_an_intent_a_skill_answers_and_the_session_goes_on(assistant: Assistant) -> None:
    # Every intent has a skill, and the classifier always counts as unsure: whatever the real
    # LLM picks for a turn, a skill answers it, after the LLM has started its own reply.
    skills = default_registry()
    for label in (*LABELS, OUT_OF_SCOPE):
        skills.register(label, lambda req: f"The {req.intent.replace('_', ' ')} skill answers.")
    config = copy.deepcopy(assistant.config)
    config.understand.skill_threshold = 1.01  # no skill straight from the classifier
    config.understand.llm_threshold = 1.01  # the LLM decides every intent
    bot = assistant.sharing_models(config, skills)

    client = asyncio.run(two_turns(bot, "hello there", "what time is it"))
    decided = {int(r.event["turn_id"]): r.event["intent"] for r in client.events_of("assistant.understood")
               if r.event.get("decided_by") == "llm"}
    done = replies(client)
    assert len(decided) == 2 and set(done) == set(decided), (decided, done)
    for turn, intent in decided.items():
        assert done[turn] == f"The {intent.replace('_', ' ')} skill answers.", (turn, intent, done)
    spoken = {int(r.event["turn_id"]) for r in client.events_of("response.audio.delta")}
    assert spoken == set(done)  # and each reply was spoken
