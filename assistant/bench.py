"""Benchmarks: ``assistant bench asr ...`` and friends, each ending in one JSON line.

Timing goals live here, not in unit tests: a shared 2-core machine makes timed
unit tests flaky, while a benchmark reports what it measured and compares
ratios within one run.
"""

from __future__ import annotations

import asyncio
import csv
from collections import Counter
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


def rounded(x: float | None, nd: int = 1) -> float | None:
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
        "final_latency_ms_p50": rounded(percentile(latencies, 50)),
        "final_latency_ms_p95": rounded(percentile(latencies, 95)),
        "partial_interval_ms_p50": rounded(percentile(intervals, 50)),
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
        "ttfa_ms_p50": rounded(percentile(ttfa, 50)),
        "ttfa_ms_p95": rounded(percentile(ttfa, 95)),
        "stream_ttfa_ms_p50": rounded(percentile(stream_ttfa, 50)),
        "stream_ttfa_ms_p95": rounded(percentile(stream_ttfa, 95)),
        "rtf": round(compute / audio_s, 3),
        "cancel_ms_p95": rounded(percentile(cancel_ms, 95)),
        "cancel_return_ms_p95": rounded(percentile(cancel_return_ms, 95)),
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
    slot_counts = [0, 0, 0]  # true positives, predicted, gold
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
        gold = Counter((t, v.lower().strip()) for t, v in ex.slots)
        pred = Counter((sl.type, sl.value.lower().strip()) for sl in u.slots)
        slot_counts[0] += sum((gold & pred).values())
        slot_counts[1] += sum(pred.values())
        slot_counts[2] += sum(gold.values())
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
        "slot_f1": round(2 * slot_counts[0] / max(1, slot_counts[1] + slot_counts[2]), 4),
        "latency_ms_p50": rounded(percentile(latencies, 50), 2),
        "latency_ms_p95": rounded(percentile(latencies, 95), 2),
        "routes": routes,
        "llm_decisions": llm_calls,
    }


def sample_requests() -> list[tuple[str, np.ndarray]]:
    from .models import MODELS_ROOT

    manifest = MODELS_ROOT.parent / "samples" / "samples.tsv"
    return [(p.name, load_audio(p)) for p, _ in read_manifest(manifest)]


async def open_client(bot: Assistant, url: str | None, **kw: Any) -> Any:
    from .simclient import InProcess, SimulatedClient, WebSocket

    if url:
        transport: Any = await WebSocket.connect(url)
    else:
        session = bot.session()
        await session.start()
        transport = InProcess(session)
    client = SimulatedClient(transport, **kw)
    await client.start()
    return client


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
        for rep in range(repeats):
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


async def spoken_turn(client: Any, name: str, audio: np.ndarray, timeout_s: float = 20.0) -> dict[str, Any]:
    """Say ``audio`` into a simulated client at real-time pace and wait until the reply has
    been played out (or ``timeout_s``); returns the turn's timings (``v2v_ms`` None if no reply)."""
    seen = len(client.log)
    await client.stream(np.concatenate([audio, silence(0.3)]))
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if any(r.event.get("type") == "response.done" for r in client.log[seen:]) and not client.playing():
            break
        await client.stream(silence(0.2))
    await client.stream(silence(0.3))
    return _turn_row(client, seen, name)


def _turn_row(client: Any, seen: int, name: str) -> dict[str, Any]:
    log = client.log[seen:]
    stopped = next((r for r in log if r.event.get("type") == "input_audio_buffer.speech_stopped"), None)
    if stopped is None:
        return {"file": name, "v2v_ms": None}
    turn = stopped.event["turn_id"]
    speech_end = client.sent_at(int(stopped.event["audio_ms"]) * INPUT_SAMPLE_RATE // 1000)
    audio = next((r for r in log if r.event.get("type") == "response.audio.delta" and r.event.get("turn_id") == turn), None)
    done = next((r for r in log if r.event.get("type") == "response.done" and r.event.get("turn_id") == turn), None)
    understood = next((r for r in log if r.event.get("type") == "assistant.understood" and r.event.get("turn_id") == turn), None)
    if audio is None or speech_end is None:
        return {"file": name, "v2v_ms": None}
    metrics = done.event.get("metrics", {}) if done else {}
    return {
        "file": name,
        "route": understood.event.get("route") if understood else "?",
        "v2v_ms": (audio.at - speech_end) * 1000,
        "endpoint_ms": (stopped.at - speech_end) * 1000,
        **{k: metrics.get(k) for k in ("asr_final_ms", "understand_ms", "first_text_ms", "tts_first_audio_ms")},
    }


LONG_REPLY = (
    "Once upon a time, a small robot lived in a quiet house by the sea. Every morning it watched the waves "
    "roll in, and every evening it counted the stars until it fell asleep. One day a storm came, and the "
    "robot had to decide whether to stay inside or help the boats find their way home."
)


def _onset(audio: np.ndarray) -> int:
    """First sample of the first 20 ms frame louder than -40 dBFS."""
    from .audio import rms_dbfs

    for i in range(0, len(audio), 320):
        if rms_dbfs(audio[i : i + 320]) > -40:
            return i
    return 0


def _cough(rng: np.random.Generator) -> np.ndarray:
    n = int(0.18 * INPUT_SAMPLE_RATE)
    env = np.exp(-np.linspace(0, 6, n)) * np.minimum(1, np.linspace(0, 8, n))
    return (0.3 * rng.standard_normal(n) * env).astype(np.float32)


async def bench_bargein(trials: int = 10) -> dict[str, Any]:
    """Barge-in: stop time, misses, and false interruptions from echo and backchannels."""
    from .audio import resample
    from .session import cut_to_words
    from .skills import default_registry
    from .tts import Synthesizer
    from .tts.espeak import EspeakEngine

    skills = default_registry()
    skills.register("general_quirky", lambda req: LONG_REPLY, trigger=r"\bstory\b")
    bot = Assistant(skills=skills).load()
    other_voice = Synthesizer(EspeakEngine(bot.config.tts), bot.config.tts)

    def voice(text: str) -> np.ndarray:
        return resample(other_voice.synthesize(text), other_voice.sample_rate, INPUT_SAMPLE_RATE)

    ask = voice("Tell me a story.")
    interruptions = [(n, a) for n, a in sample_requests() if not n.startswith("what_time")]
    backchannels = [("mm-hmm", voice("mm hmm")), ("uh-huh", voice("uh huh")), ("yeah", voice("yeah"))]
    rng = np.random.default_rng(11)
    stops: list[float] = []
    missed = false_echo = false_back = trunc_ok = trunc_n = 0
    n_speech = n_echo = n_back = 0
    kinds = ["speech"] * trials + ["echo"] * max(2, trials // 2) + ["backchannel"] * trials
    for k, kind in enumerate(kinds):
        client = await open_client(bot, None, echo_db=-10.0, echo_delay_ms=float(rng.uniform(30, 80)))
        session = client.transport.session
        try:
            await client.stream(np.concatenate([silence(0.3), ask, silence(0.5)]))
            deadline = time.perf_counter() + 10
            while not client.events_of("response.audio.delta") and time.perf_counter() < deadline:
                await client.stream(silence(0.1))
            reply = client.events_of("response.audio.delta")
            if not reply:
                print(f"trial {k}: the story request got no audio", file=sys.stderr)
                continue
            turn = int(reply[0].event["turn_id"])
            await client.stream(silence(float(rng.uniform(0.8, 2.0))))
            if kind == "speech":
                name, audio = interruptions[k % len(interruptions)]
            elif kind == "backchannel":
                choice = k % (len(backchannels) + 1)
                name, audio = ("cough", _cough(rng)) if choice == len(backchannels) else backchannels[choice]
            else:
                name, audio = "none", silence(0.1)
            first_sample = client.sent + _onset(audio)
            await client.stream(np.concatenate([audio, silence(1.5)]))
            onset_at = client.sent_at(first_sample) or 0.0
            if kind == "echo":
                while client.playing() or not client.events_of("response.done", turn):
                    await client.stream(silence(0.2))
                    if time.perf_counter() > deadline + 30:
                        break
            await client.stream(silence(0.3))
            interrupted = bool(client.events_of("interrupt", turn))
            frames = client.events_of("response.audio.delta", turn)
            if kind == "speech":
                n_speech += 1
                if not interrupted:
                    missed += 1
                else:
                    stops.append(max(0.0, (frames[-1].at - onset_at) * 1000) if frames else 0.0)
                    started = [r for r in client.events_of("input_audio_buffer.speech_started") if r.at > onset_at - 1]
                    paused = client.events_of("response.paused", turn)
                    print(f"   speech_started +{(started[0].at - onset_at) * 1000:.0f} ms" if started else "   no start",
                          f"paused +{(paused[0].at - onset_at) * 1000:.0f} ms" if paused else "no pause",
                          f"audio_ms={started[0].event.get('audio_ms') if started else None} onset_sample_ms={first_sample / 16:.0f}",
                          file=sys.stderr)
                    # The history must hold only what was heard: the played audio's words.
                    played = client.played_samples(turn)
                    ex = session._exchanges.get(turn)
                    pb = session._playback.get(turn)
                    heard = cut_to_words(LONG_REPLY, pb.chars_at(int(played * pb.rate / INPUT_SAMPLE_RATE))) if pb else ""
                    trunc_n += 1
                    trunc_ok += int(ex is not None and ex.assistant == heard and LONG_REPLY.startswith(ex.assistant)
                                    and len(ex.assistant) < len(LONG_REPLY))
            elif kind == "echo":
                n_echo += 1
                false_echo += int(interrupted)
            else:
                n_back += 1
                false_back += int(interrupted)
            heard_words = [r.event.get("transcript") for r in client.events_of(
                "conversation.item.input_audio_transcription.completed") if r.event.get("turn_id", 0) > turn]
            print(f"trial {k} {kind} {name}: interrupted={interrupted} heard={heard_words}"
                  + (f" stop_ms={stops[-1]:.0f}" if kind == "speech" and interrupted else ""), file=sys.stderr)
        finally:
            await client.close()
    return {
        "trials": n_speech,
        "stop_ms_p50": rounded(percentile(stops, 50)),
        "stop_ms_p95": rounded(percentile(stops, 95)),
        "missed_rate": round(missed / max(1, n_speech), 3),
        "false_rate_echo": round(false_echo / max(1, n_echo), 3),
        "false_rate_backchannel": round(false_back / max(1, n_back), 3),
        "truncation_ok_rate": round(trunc_ok / max(1, trunc_n), 3),
        "echo_trials": n_echo,
        "backchannel_trials": n_back,
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
    elif args.what == "latency":
        result = asyncio.run(bench_latency(args.url, args.repeats))
    elif args.what == "bargein":
        result = asyncio.run(bench_bargein(args.trials))
    elif args.what == "tts":
        result = asyncio.run(bench_tts(repeats=args.repeats))
    elif args.what == "load":
        from .loadbench import bench_load

        if args.sessions < 1 or (args.duration is not None and args.duration <= 0) or args.turns < 1:
            raise AssistantError("--sessions and --turns must be at least 1, --duration positive")
        result = asyncio.run(bench_load(args.sessions, args.duration, args.find_capacity, args.turns, args.max_sessions))
    else:
        raise AssistantError(f"unknown benchmark {args.what!r}")
    print_result(result, args.json)
    return 0


