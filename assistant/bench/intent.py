"""``assistant bench intent``: understanding accuracy from text or from speech through the recogniser."""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..api import Assistant
from ..errors import AssistantError
from .common import percentile, rounded


def _slot_counts(gold_slots: tuple[tuple[str, str], ...], found: list[Any]) -> tuple[int, int, int]:
    """(true positives, predicted, gold) over (type, value) pairs, values compared case-insensitively."""
    gold = Counter((t, v.lower().strip()) for t, v in gold_slots)
    pred = Counter((sl.type, sl.value.lower().strip()) for sl in found)
    return sum((gold & pred).values()), sum(pred.values()), sum(gold.values())


def _f1(counts: np.ndarray) -> float:
    return round(2 * float(counts[0]) / max(1.0, float(counts[1] + counts[2])), 4)


async def bench_intent(data: Path, mode: str = "text", snr: float | None = None, limit: int | None = None,
                       partition: str | None = None, use_llm: bool = True, noise: str = "white",
                       voice: str = "espeak", model_dir: Path | None = None) -> dict[str, Any]:
    """Intent accuracy of the policy, the n-best classifier and the 1-best classifier; latency.

    Speech mode speaks each row with ``voice`` (espeak-ng, a voice the assistant never
    uses, or Piper, its own), adds ``noise`` (white, or babble of three earlier rows'
    speech) ``snr`` dB below the speech's power, and runs the real recogniser; it
    also reports the same classifier on the clean text, so the cost of recognition
    errors shows. ``model_dir`` picks other understanding models (``--models``).
    """
    from dataclasses import replace

    from ..config import Config
    from ..events import Hypothesis
    from ..understand.intents import read_examples
    from ..understand.speech_data import Condition, add_noise
    from .common import speakers

    rows = read_examples(data)
    parts = {e.partition for e in rows if e.partition}
    wanted = partition or ("test" if parts else None)
    if wanted:
        rows = [e for e in rows if e.partition == wanted]
    if not rows:
        raise AssistantError(f"no rows to evaluate in {data} (partition {wanted!r}; it has {sorted(parts)})")
    if noise not in ("white", "babble"):
        raise AssistantError(f"unknown noise {noise!r}: white or babble")
    rows = rows[:limit]
    config = Config()
    config.understand = replace(config.understand, model_dir=model_dir)
    bot = Assistant(config)
    und = bot.understander
    speak = speakers(bot)[voice] if mode == "speech" else None
    cond = Condition(voice, noise, snr)
    babble: list[np.ndarray] = []
    rng = np.random.default_rng(7)
    hits = {"policy": 0, "classifier": 0, "1best": 0, "text": 0}
    slot_counts = np.zeros(3, dtype=np.int64)  # true positives, predicted, gold: on what was heard
    slot_counts_text = np.zeros(3, dtype=np.int64)  # the same on the clean text
    latencies: list[float] = []
    routes: dict[str, int] = {}
    llm_calls = 0
    for i, ex in enumerate(rows):
        text_only = (Hypothesis(ex.text, 0.0, 1.0),)
        if speak is not None:
            speech = speak(ex.text)
            heard = add_noise(speech, cond, babble[-8:], rng)
            babble.append(speech)
            nbest = bot.recognizer.final(heard).nbest or (Hypothesis("", 0.0, 1.0),)
            hits["text"] += und.classifier.classify(text_only).intent == ex.intent
            slot_counts_text += _slot_counts(ex.slots, und.tagger.tag(ex.text) if und.tagger else [])
        else:
            nbest = text_only
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
        slot_counts += _slot_counts(ex.slots, list(u.slots))
        hits["policy"] += intent == ex.intent
        hits["classifier"] += fused.intent == ex.intent
        hits["1best"] += one.intent == ex.intent
        if (i + 1) % 200 == 0:
            print(f"{i + 1}/{len(rows)} policy={hits['policy'] / (i + 1):.3f}", file=sys.stderr)
    n = len(rows)
    text = {"accuracy_text": round(hits["text"] / n, 4), "slot_f1_text": _f1(slot_counts_text)} if speak else {}
    return {
        "n": n,
        "mode": mode,
        "snr": snr,
        **({"noise": noise, "voice": voice} if speak else {}),
        "models": str(bot.understanding_dir),
        "accuracy": round(hits["policy"] / n, 4),
        "accuracy_classifier": round(hits["classifier"] / n, 4),
        "accuracy_1best": round(hits["1best"] / n, 4),
        "slot_f1": _f1(slot_counts),
        **text,
        "latency_ms_p50": rounded(percentile(latencies, 50), 2),
        "latency_ms_p95": rounded(percentile(latencies, 95), 2),
        "routes": routes,
        "llm_decisions": llm_calls,
    }
