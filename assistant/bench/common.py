"""What every benchmark shares: percentiles, manifests, the sample requests, a simulated client.

Timing goals live in benchmarks, not in unit tests: a shared 2-core machine makes timed
unit tests flaky, while a benchmark reports what it measured and compares ratios within
one run. Each benchmark ends in one JSON line.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..api import Assistant
from ..audio import load_audio
from ..config import INPUT_SAMPLE_RATE
from ..errors import AssistantError
from ..models import PROJECT_ROOT
from .pacing import silence


def speakers(bot: Assistant) -> dict[str, Callable[[str], np.ndarray]]:
    """Voices that speak requests at 16 kHz: espeak-ng (a voice the assistant never uses) and Piper."""
    from ..audio import resample
    from ..speak.espeak import EspeakEngine
    from ..speak.synthesizer import Synthesizer

    espeak = Synthesizer(EspeakEngine(bot.config.tts), bot.config.tts)
    piper = bot.synthesizer
    return {
        "espeak": lambda t: resample(espeak.synthesize(t), espeak.sample_rate, INPUT_SAMPLE_RATE),
        "piper": lambda t: resample(piper.synthesize(t), piper.sample_rate, INPUT_SAMPLE_RATE),
    }


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


def sample_requests() -> list[tuple[str, np.ndarray]]:
    manifest = PROJECT_ROOT / "samples" / "samples.tsv"
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


async def first_reply_turn(client: Any, deadline: float) -> int | None:
    """Keep the microphone going (silence) until reply audio arrives or ``time.perf_counter()``
    passes ``deadline``; the reply's turn id, or None."""
    while not client.events_of("response.audio.delta") and time.perf_counter() < deadline:
        await client.stream(silence(0.1))
    audio = client.events_of("response.audio.delta")
    return int(audio[0].event["turn_id"]) if audio else None


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
        **{k: metrics.get(k) for k in ("asr_final_ms", "understand_ms", "llm_first_token_ms", "reply_text_ms",
                                       "first_text_ms", "tts_first_audio_ms", "speculative_reply")},
    }


LONG_REPLY = (
    "Once upon a time, a small robot lived in a quiet house by the sea. Every morning it watched the waves "
    "roll in, and every evening it counted the stars until it fell asleep. One day a storm came, and the "
    "robot had to decide whether to stay inside or help the boats find their way home."
)


def print_result(result: dict[str, Any], as_json: bool) -> None:
    """Human-readable lines, then (with --json) the JSON object as the last line."""
    if as_json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:28} {v}")
