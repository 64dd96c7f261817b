"""``assistant bench latency``: voice to voice, spoken requests from a simulated real-time client.

One conversation: the sample requests (Piper and two real recordings), then questions
and follow-ups spoken by espeak-ng, 16 turns a pass, skills and the LLM mixed, so the
LLM's first-token time (its prompt evaluated) can be followed over a conversation that
grows (it must not: the history window moves in blocks and is prefilled in the
background).
"""

from __future__ import annotations

import sys
from typing import Any

from ..api import Assistant
from .common import open_client, percentile, rounded, sample_requests, speakers, spoken_turn
from .pacing import silence

#: Spoken by espeak-ng after the samples: LLM questions, follow-ups that need the turn before, skills.
FURTHER = ("Who painted the Mona Lisa?", "When was he born?", "What is seven times eight?",
           "How many legs does a spider have?", "And an ant?", "What time is it?")


async def bench_latency(url: str | None = None, repeats: int = 1) -> dict[str, Any]:
    """Voice-to-voice latency of spoken requests streamed at real-time pace by a simulated client."""
    bot = Assistant()
    if not url:
        bot.load()
    espeak = speakers(bot)["espeak"]
    requests = sample_requests() + [(text, espeak(text)) for text in FURTHER]
    client = await open_client(bot, url)
    rows: list[dict[str, Any]] = []
    try:
        await client.stream(silence(0.5))
        for _ in range(repeats):
            for name, audio in requests:
                rows.append(await spoken_turn(client, name, audio))
                print(f"{name}: {rows[-1]}", file=sys.stderr)
    finally:
        await client.close()
    ok = [r for r in rows if r.get("v2v_ms") is not None]

    def med(key: str, subset: list[dict[str, Any]] = ok) -> float | None:
        return rounded(percentile([r[key] for r in subset if r.get(key) is not None], 50))

    llm = [r for r in ok if r["route"] != "skill"]
    # The first token's time measures the prompt evaluated at the turn (does it grow with the
    # conversation?): a reply begun at the pause and taken over had its first token before the
    # turn began, so those turns are counted apart.
    taken = [r for r in llm if r.get("speculative_reply") == 1.0]
    first = [r["llm_first_token_ms"] for r in llm if r not in taken and r.get("llm_first_token_ms") is not None]
    p50, p95 = percentile(first, 50), percentile(first, 95)
    return {
        "turns": len(ok),
        "failed_turns": len(rows) - len(ok),
        "v2v_ms_p50": med("v2v_ms"),
        "v2v_ms_p95": rounded(percentile([r["v2v_ms"] for r in ok], 95)),
        "skill_v2v_ms_p50": med("v2v_ms", [r for r in ok if r["route"] == "skill"]),
        "llm_v2v_ms_p50": med("v2v_ms", llm),
        "endpoint_ms": med("endpoint_ms"),
        "asr_final_ms": med("asr_final_ms"),
        "understand_ms": med("understand_ms"),
        "first_text_ms": med("first_text_ms"),
        "tts_first_audio_ms": med("tts_first_audio_ms"),
        "llm_turns": len(llm),
        "llm_first_token_ms_p50": rounded(p50),
        "llm_first_token_ms_p95": rounded(p95),
        "llm_first_token_p95_over_p50": None if not p50 or p95 is None else round(p95 / p50, 2),
        "llm_first_token_ms_by_turn": [round(x) for x in first],
        "speculative_turns": len(taken),
        "speculative_v2v_ms_p50": med("v2v_ms", taken),
        # The first words of the reply, per LLM turn: after the intent label where the LLM
        # decides, after a checked first sentence where the request asks for an action.
        "reply_text_ms_by_turn": [round(r["reply_text_ms"]) for r in llm if r.get("reply_text_ms") is not None],
        "transport": "websocket" if url else "in-process",
    }
