"""``assistant bench intent``: understanding accuracy from text or from speech through the recogniser."""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..api import Assistant
from ..config import INPUT_SAMPLE_RATE
from ..errors import AssistantError
from .common import percentile, rounded
from .pacing import silence


def _noisy(audio: np.ndarray, snr_db: float | None, rng: np.random.Generator) -> np.ndarray:
    if snr_db is None:
        return audio
    power = float(np.mean(audio**2)) or 1e-10
    noise = rng.standard_normal(len(audio)).astype(np.float32) * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(audio + noise, -1.0, 1.0)


async def bench_intent(data: Path, mode: str = "text", snr: float | None = None, limit: int | None = None,
                       partition: str | None = None, use_llm: bool = True) -> dict[str, Any]:
    """Intent accuracy of the policy, the n-best classifier and the 1-best classifier; latency."""
    from ..events import Hypothesis
    from ..speak.espeak import EspeakEngine
    from ..speak.synthesizer import Synthesizer
    from ..understand.intents import read_examples

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
            from ..audio import resample

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
