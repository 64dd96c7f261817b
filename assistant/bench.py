"""Benchmarks: ``assistant bench asr ...`` and friends, each ending in one JSON line.

Timing goals live here, not in unit tests: a shared 2-core machine makes timed
unit tests flaky, while a benchmark reports what it measured and compares
ratios within one run.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .api import Assistant
from .audio import load_audio
from .config import INPUT_SAMPLE_RATE
from .errors import AssistantError
from .events import TranscriptFinal, TranscriptPartial
from .listener import Listener
from .pacing import feed_audio, silence
from .textnorm import word_error_rate


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def _round(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def read_manifest(path: Path) -> list[tuple[Path, str]]:
    """(audio file, transcript) rows of a TSV manifest with ``file`` and ``transcript`` columns."""
    if not path.is_file():
        raise AssistantError(f"manifest not found: {path}")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        if not reader.fieldnames or not {"file", "transcript"} <= set(reader.fieldnames):
            raise AssistantError(f"{path} needs a header row with 'file' and 'transcript' columns")
        rows = [(path.parent / r["file"], r["transcript"]) for r in reader if r.get("file")]
    if not rows:
        raise AssistantError(f"{path} lists no files")
    return rows


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
    listener = Listener(assistant.recognizer, assistant.silero_path, assistant.config)
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
                clock = listener.clocks.pop(ev.turn_id)
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
    bot.recognizer, bot.silero_path  # load before timing
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
        "final_latency_ms_p50": _round(percentile(latencies, 50)),
        "final_latency_ms_p95": _round(percentile(latencies, 95)),
        "partial_interval_ms_p50": _round(percentile(intervals, 50)),
        "rtf": round(compute / audio_s, 3) if audio_s else None,
        "finals": finals,
        "speculative_final_rate": round(hits / finals, 3) if finals else None,
        "realtime": realtime,
    }


# Replies a voice assistant says: short, long, and full of numbers, times, money and units.
TTS_REPLIES = [
    "Sure.",
    "Your timer is set for five minutes.",
    "The capital of France is Paris.",
    "It's 7:30 pm on Tuesday, March 3rd.",
    "Twelve times seven is 84.",
    "That comes to $1,234.56, which is about 15% more than last month.",
    "The distance from here to the station is 3.5 km, roughly 2 miles, so about 40 min on foot.",
    "I can't check the weather right now because I'm offline, but you could look outside or try again later.",
    "Paris is the capital and largest city of France. It is known for the Eiffel Tower, the Louvre, "
    "and its cafes. About 2.1 million people live in the city itself.",
    "Here is a short story. Once upon a time, a small robot lived in a quiet house by the sea. "
    "Every morning it watched the waves, and every evening it counted the stars until it fell asleep.",
    "Your alarm is set for 6:45 am tomorrow, Saturday the 21st.",
    "One euro is about 1.08 US dollars, so 250 euros is roughly 270 dollars.",
]


def llm_like_tokens(text: str) -> list[str]:
    """Split text roughly as an LLM tokenizer would: words with their leading space, long ones in pieces."""
    tokens: list[str] = []
    for i, word in enumerate(text.split(" ")):
        word = (" " if i else "") + word
        tokens += [word[j : j + 5] for j in range(0, len(word), 5)]
    return tokens


async def _stream_ttfa(bot: Assistant, text: str, tokens_per_s: float) -> tuple[float, int]:
    """First LLM-like token in -> first audio frame out, tokens arriving at ``tokens_per_s``."""
    from .chunker import Chunker
    from .threads import iterate_in_thread

    synth = bot.synthesizer
    chunks: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def produce() -> None:
        chunker = Chunker()
        for i, tok in enumerate(llm_like_tokens(text)):
            await asyncio.sleep(max(0.0, t0 + i / tokens_per_s - loop.time()))
            for c in chunker.push(tok):
                await chunks.put(c)
        for c in chunker.flush():
            await chunks.put(c)
        await chunks.put(None)

    producer = asyncio.create_task(produce())
    first = await chunks.get()
    assert first is not None
    async for _frame in iterate_in_thread(lambda c: synth.stream(first, c)):
        ttfa = (loop.time() - t0) * 1000
        break
    producer.cancel()
    return ttfa, len(first.split())


def _cancel_trial(bot: Assistant, text: str, after_s: float) -> tuple[float, float]:
    """Cancel a stream ``after_s`` in; return (ms to the last frame emitted, ms until the stream returned)."""
    import threading

    cancel = threading.Event()
    emitted: list[float] = []

    def run() -> None:
        for _ in bot.synthesizer.stream(text, cancel):
            emitted.append(time.perf_counter())

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(after_s)
    t_cancel = time.perf_counter()
    cancel.set()
    worker.join()
    t_return = time.perf_counter()
    last_after = max((t for t in emitted if t > t_cancel), default=t_cancel)
    return (last_after - t_cancel) * 1000, (t_return - t_cancel) * 1000


async def bench_tts(repeats: int = 2, tokens_per_s: float = 20.0) -> dict[str, Any]:
    """Time to first audio (whole text and streamed), RTF, cancel time and intelligibility."""
    from .audio import resample
    from .chunker import Chunker
    from .normalize import normalize

    bot = Assistant()
    synth = bot.synthesizer
    bot.recognizer  # load now, not inside a timing
    list(synth.stream("Warm up."))
    ttfa, stream_ttfa, first_words, cancel_ms, cancel_return_ms = [], [], [], [], []
    compute = audio_s = 0.0
    refs, heard = [], []
    for rep in range(repeats):
        for text in TTS_REPLIES:
            t0 = time.perf_counter()
            chunker = Chunker()
            first = next(iter([*chunker.push(text + " "), *chunker.flush()]))
            next(iter(synth.stream(first)))
            ttfa.append((time.perf_counter() - t0) * 1000)
            first_words.append(len(first.split()))
            ms, _words = await _stream_ttfa(bot, text, tokens_per_s)
            stream_ttfa.append(ms)
            if rep == 0:
                t0 = time.perf_counter()
                audio = synth.synthesize(text)
                compute += time.perf_counter() - t0
                audio_s += len(audio) / synth.sample_rate
                refs.append(normalize(text))
                heard.append(bot.recognizer.transcribe(resample(audio, synth.sample_rate, INPUT_SAMPLE_RATE)).text)
                print(f"{text[:60]!r} -> heard {heard[-1][:60]!r}", file=sys.stderr)
            if len(text) > 80:
                for after in (0.05, 0.2, 0.45):
                    a, b = _cancel_trial(bot, text, after)
                    cancel_ms.append(a)
                    cancel_return_ms.append(b)
    return {
        "replies": len(TTS_REPLIES),
        "ttfa_ms_p50": _round(percentile(ttfa, 50)),
        "ttfa_ms_p95": _round(percentile(ttfa, 95)),
        "stream_ttfa_ms_p50": _round(percentile(stream_ttfa, 50)),
        "stream_ttfa_ms_p95": _round(percentile(stream_ttfa, 95)),
        "rtf": round(compute / audio_s, 3),
        "cancel_ms_p95": _round(percentile(cancel_ms, 95)),
        "cancel_return_ms_p95": _round(percentile(cancel_return_ms, 95)),
        "intelligibility_wer": round(word_error_rate(refs, heard), 4),
        "first_chunk_words_max": max(first_words),
        "tokens_per_s": tokens_per_s,
    }


def _noisy(audio: np.ndarray, snr_db: float | None, rng: np.random.Generator) -> np.ndarray:
    if snr_db is None:
        return audio
    power = float(np.mean(audio**2)) or 1e-10
    noise = rng.standard_normal(len(audio)).astype(np.float32) * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(audio + noise, -1.0, 1.0)


async def bench_intent(data: Path, mode: str = "text", snr: float | None = None, limit: int | None = None,
                       partition: str | None = None, use_llm: bool = True) -> dict[str, Any]:
    """Intent accuracy of the policy, the n-best classifier and the 1-best classifier; latency."""
    from .events import Hypothesis
    from .intents import read_examples
    from .tts import Synthesizer
    from .tts.espeak import EspeakEngine

    rows = read_examples(data)
    parts = {e.partition for e in rows if e.partition}
    wanted = partition or ("test" if parts else None)
    if wanted:
        rows = [e for e in rows if e.partition == wanted]
    if not rows:
        raise AssistantError(f"no rows to evaluate in {data} (partition {wanted!r}; it has {sorted(parts)})")
    rows = rows[:limit]
    bot = Assistant()
    und = bot.understander
    voice = Synthesizer(EspeakEngine(bot.config.tts), bot.config.tts) if mode == "speech" else None
    rng = np.random.default_rng(7)
    hits = {"policy": 0, "classifier": 0, "1best": 0}
    latencies: list[float] = []
    routes: dict[str, int] = {}
    llm_calls = 0
    for i, ex in enumerate(rows):
        if voice is not None:
            from .audio import resample

            speech = resample(voice.synthesize(ex.text), voice.sample_rate, INPUT_SAMPLE_RATE)
            speech = _noisy(np.concatenate([silence(0.2), speech, silence(0.2)]), snr, rng)
            nbest = bot.recognizer.final(speech).nbest or (Hypothesis("", 0.0, 1.0),)
        else:
            nbest = (Hypothesis(ex.text, 0.0, 1.0),)
        if not nbest[0].text:
            routes["no_speech"] = routes.get("no_speech", 0) + 1
            continue
        t0 = time.perf_counter()
        fused = und.classifier.classify(nbest)
        latencies.append((time.perf_counter() - t0) * 1000)
        one = und.classifier.classify(nbest[:1])
        u = und.understand(nbest)
        intent = u.intent
        if u.llm_decides and use_llm:
            intent = bot.responder.decide_intent(u)
            llm_calls += 1
        routes[u.route] = routes.get(u.route, 0) + 1
        hits["policy"] += intent == ex.intent
        hits["classifier"] += fused.intent == ex.intent
        hits["1best"] += one.intent == ex.intent
        if (i + 1) % 200 == 0:
            print(f"{i + 1}/{len(rows)} policy={hits['policy'] / (i + 1):.3f}", file=sys.stderr)
    n = len(rows)
    return {
        "n": n,
        "mode": mode,
        "snr": snr,
        "accuracy": round(hits["policy"] / n, 4),
        "accuracy_classifier": round(hits["classifier"] / n, 4),
        "accuracy_1best": round(hits["1best"] / n, 4),
        "slot_f1": None,
        "latency_ms_p50": _round(percentile(latencies, 50), 2),
        "latency_ms_p95": _round(percentile(latencies, 95), 2),
        "routes": routes,
        "llm_decisions": llm_calls,
    }


def print_result(result: dict[str, Any], as_json: bool) -> None:
    """Human-readable lines, then (with --json) the JSON object as the last line."""
    if as_json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:28} {v}")


def run(args: Any) -> int:
    """Dispatch ``assistant bench WHAT``."""
    if args.what == "asr":
        result = asyncio.run(bench_asr(Path(args.manifest), realtime=not args.fast, limit=args.limit))
    elif args.what == "intent":
        result = asyncio.run(bench_intent(Path(args.data), args.mode, args.snr, args.limit, args.partition,
                                          use_llm=not args.no_llm))
    elif args.what == "tts":
        result = asyncio.run(bench_tts(repeats=args.repeats))
    else:
        raise AssistantError(f"unknown benchmark {args.what!r}")
    print_result(result, args.json)
    return 0


