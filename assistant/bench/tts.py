"""``assistant bench tts``: time to first audio, streamed from LLM-like tokens, and cancellation."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from ..api import Assistant
from ..config import INPUT_SAMPLE_RATE
from ..textnorm import word_error_rate
from .common import percentile, rounded

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
    from ..speak.chunker import Chunker
    from ..threads import iterate_in_thread

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
    from ..audio import resample
    from ..speak.chunker import Chunker
    from ..speak.normalize import normalize

    bot = Assistant()
    synth = bot.synthesizer
    _ = bot.recognizer  # load now, not inside a timing
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
