"""``assistant bench latency``: voice to voice, spoken requests from a simulated real-time client."""

from __future__ import annotations

import sys
from typing import Any

from ..api import Assistant
from .common import open_client, percentile, rounded, sample_requests, spoken_turn
from .pacing import silence


async def bench_latency(url: str | None = None, repeats: int = 1) -> dict[str, Any]:
    """Voice-to-voice latency of spoken requests streamed at real-time pace by a simulated client."""
    bot = Assistant()
    if not url:
        bot.load()
    requests = sample_requests()
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

    return {
        "turns": len(ok),
        "failed_turns": len(rows) - len(ok),
        "v2v_ms_p50": med("v2v_ms"),
        "v2v_ms_p95": rounded(percentile([r["v2v_ms"] for r in ok], 95)),
        "skill_v2v_ms_p50": med("v2v_ms", [r for r in ok if r["route"] == "skill"]),
        "llm_v2v_ms_p50": med("v2v_ms", [r for r in ok if r["route"] != "skill"]),
        "endpoint_ms": med("endpoint_ms"),
        "asr_final_ms": med("asr_final_ms"),
        "understand_ms": med("understand_ms"),
        "first_text_ms": med("first_text_ms"),
        "tts_first_audio_ms": med("tts_first_audio_ms"),
        "transport": "websocket" if url else "in-process",
    }
