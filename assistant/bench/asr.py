"""``assistant bench asr``: streaming recognition at real-time pace (WER, final latency, partials)."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..api import Assistant
from ..audio import load_audio
from ..config import INPUT_SAMPLE_RATE
from ..events import TranscriptFinal, TranscriptPartial
from ..textnorm import word_error_rate
from .common import percentile, read_manifest, rounded
from .pacing import feed_audio, silence


@dataclass
class StreamResult:
    """What the listener produced for one audio stream."""

    finals: list[str] = field(default_factory=list)
    final_latency_ms: list[float] = field(default_factory=list)
    partial_intervals_ms: list[float] = field(default_factory=list)
    speculative_hits: int = 0
    compute_s: float = 0.0


async def listen_to(assistant: Assistant, audio: np.ndarray, *, realtime: bool = True, printer: Any = None) -> StreamResult:
    """Run ``audio`` through a fresh :class:`Listener` as a live stream would arrive."""
    listener = assistant.listener(assistant.config)
    tasks = listener.tasks("bench")
    out = StreamResult()
    last_partial: dict[int, float] = {}
    t0 = time.perf_counter()

    async def consume() -> None:
        while (ev := await listener.events.get()) is not None:
            now = time.perf_counter()
            if printer:
                printer(now - t0, ev, listener)
            if isinstance(ev, TranscriptPartial):
                if ev.turn_id in last_partial:
                    out.partial_intervals_ms.append((now - last_partial[ev.turn_id]) * 1000)
                last_partial[ev.turn_id] = now
            elif isinstance(ev, TranscriptFinal):
                clock = listener.clock(ev.turn_id)
                latency = clock.span_ms("endpoint", "asr_done")
                if latency is not None:
                    out.final_latency_ms.append(latency)
                out.speculative_hits += int(clock.info.get("speculative_final", 0))
                if ev.transcript:
                    out.finals.append(ev.transcript)

    async def send(chunk: np.ndarray) -> None:
        await listener.feed(chunk)
        if not realtime:
            await listener.settled()

    consumer = asyncio.create_task(consume())
    try:
        await feed_audio(send, audio, realtime=realtime)
        await listener.feed(None)
        await consumer
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    out.compute_s = listener.decode_seconds + listener.vad_seconds
    return out


async def bench_asr(manifest: Path, realtime: bool = True, limit: int | None = None) -> dict[str, Any]:
    """Streaming vs offline WER, final latency, partial cadence and real-time factor."""
    rows = read_manifest(manifest)[:limit]
    bot = Assistant()
    _ = bot.recognizer, bot.silero_path  # load before timing
    refs, stream_hyps, offline_hyps = [], [], []
    latencies: list[float] = []
    intervals: list[float] = []
    compute = audio_s = 0.0
    hits = finals = 0
    for path, ref in rows:
        audio = load_audio(path)
        # A little silence either side, as a person leaves around a request.
        stream = np.concatenate([silence(0.3), audio, silence(1.0)])
        res = await listen_to(bot, stream, realtime=realtime)
        offline = await asyncio.to_thread(bot.recognizer.transcribe, audio)
        refs.append(ref)
        stream_hyps.append(" ".join(res.finals))
        offline_hyps.append(offline.text)
        latencies += res.final_latency_ms
        intervals += res.partial_intervals_ms
        compute += res.compute_s
        audio_s += len(stream) / INPUT_SAMPLE_RATE
        hits += res.speculative_hits
        finals += len(res.final_latency_ms)
        print(f"{path.name}: {' '.join(res.finals)!r} (offline {offline.text!r})", file=sys.stderr)
    return {
        "files": len(rows),
        "wer": round(word_error_rate(refs, stream_hyps), 4),
        "wer_offline": round(word_error_rate(refs, offline_hyps), 4),
        "final_latency_ms_p50": rounded(percentile(latencies, 50)),
        "final_latency_ms_p95": rounded(percentile(latencies, 95)),
        "partial_interval_ms_p50": rounded(percentile(intervals, 50)),
        "rtf": round(compute / audio_s, 3) if audio_s else None,
        "finals": finals,
        "speculative_final_rate": round(hits / finals, 3) if finals else None,
        "realtime": realtime,
    }


# Replies a voice assistant says: short, long, and full of numbers, times, money and units.
