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


class _Scores:
    """One understanding model's tallies over the bench's rows."""

    def __init__(self, bot: Assistant, use_llm: bool) -> None:
        self.bot, self.use_llm = bot, use_llm
        self.hits = {"policy": 0, "classifier": 0, "1best": 0, "text": 0}
        self.slots = np.zeros(3, dtype=np.int64)  # true positives, predicted, gold: on what was heard
        self.slots_text = np.zeros(3, dtype=np.int64)  # the same on the clean text
        self.latencies: list[float] = []
        self.latencies_5best: list[float] = []  # the yardstick: lists of exactly five
        self.routes: dict[str, int] = {}
        self.llm_calls = 0

    def add(self, ex: Any, nbest: tuple[Any, ...], text_only: tuple[Any, ...] | None) -> None:
        """Score one row: ``nbest`` is what was heard; ``text_only`` the clean text (speech mode)."""
        und = self.bot.understander
        if text_only is not None:
            self.hits["text"] += und.classifier.classify(text_only).intent == ex.intent
            self.slots_text += _slot_counts(ex.slots, und.tagger.tag(ex.text) if und.tagger else [])
        if not nbest[0].text:
            self.routes["no_speech"] = self.routes.get("no_speech", 0) + 1
            return
        t0 = time.perf_counter()
        fused = und.classifier.classify(nbest)
        self.latencies.append((time.perf_counter() - t0) * 1000)
        if len(nbest) == 5:
            self.latencies_5best.append(self.latencies[-1])
        one = und.classifier.classify(nbest[:1])
        u = und.understand(nbest)
        intent = u.intent
        if u.llm_decides and self.use_llm:
            intent = self.bot.responder.decide_intent(u)
            self.llm_calls += 1
        self.routes[u.route] = self.routes.get(u.route, 0) + 1
        self.slots += _slot_counts(ex.slots, list(u.slots))
        self.hits["policy"] += intent == ex.intent
        self.hits["classifier"] += fused.intent == ex.intent
        self.hits["1best"] += one.intent == ex.intent

    def result(self, n: int, speech: bool) -> dict[str, Any]:
        text = {"accuracy_text": round(self.hits["text"] / n, 4), "slot_f1_text": _f1(self.slots_text)} if speech else {}
        return {
            "accuracy": round(self.hits["policy"] / n, 4),
            "accuracy_classifier": round(self.hits["classifier"] / n, 4),
            "accuracy_1best": round(self.hits["1best"] / n, 4),
            "slot_f1": _f1(self.slots),
            **text,
            "latency_ms_p50": rounded(percentile(self.latencies, 50), 2),
            "latency_ms_p95": rounded(percentile(self.latencies, 95), 2),
            "latency_ms_p50_5best": rounded(percentile(self.latencies_5best, 50), 2),
            "lists_of_5": len(self.latencies_5best),
            "routes": self.routes,
            "llm_decisions": self.llm_calls,
        }


async def bench_intent(data: Path, mode: str = "text", snr: float | None = None, limit: int | None = None,
                       partition: str | None = None, use_llm: bool = True, noise: str = "white",
                       voice: str = "espeak", model_dirs: tuple[Path | None, ...] = (None,)) -> dict[str, Any]:
    """Intent accuracy of the policy, the n-best classifier and the 1-best classifier; latency.

    Speech mode speaks each row with ``voice`` (espeak-ng, a voice the assistant never
    uses, or Piper, its own), adds ``noise`` (white, or babble of three earlier rows'
    speech) ``snr`` dB below the speech's power, and runs the real recogniser; it
    also reports the same classifier on the clean text, so the cost of recognition
    errors shows. ``model_dirs`` are understanding model folders (``--models``; None is
    the shipped one): each understands the same heard n-best lists; the first one's
    figures are the top-level keys, and with more than one, ``by_models`` holds each.
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
    bots: list[Assistant] = []
    for model_dir in model_dirs or (None,):
        config = Config.from_env()
        config.understand = replace(config.understand, model_dir=model_dir)
        bots.append(bots[0].sharing_models(config) if bots else Assistant(config))
    scores = [_Scores(b, use_llm) for b in bots]
    speak = speakers(bots[0])[voice] if mode == "speech" else None
    cond = Condition(voice, noise, snr)
    babble: list[np.ndarray] = []
    rng = np.random.default_rng(7)
    for i, ex in enumerate(rows):
        text_only = (Hypothesis(ex.text, 0.0, 1.0),)
        if speak is not None:
            speech = speak(ex.text)
            heard = add_noise(speech, cond, babble[-8:], rng)
            babble.append(speech)
            nbest = bots[0].recognizer.final(heard).nbest or (Hypothesis("", 0.0, 1.0),)
        else:
            nbest = text_only
        for sc in scores:
            sc.add(ex, nbest, text_only if speak else None)
        if (i + 1) % 200 == 0:
            print(f"{i + 1}/{len(rows)} " + " ".join(f"{sc.hits['classifier'] / (i + 1):.3f}" for sc in scores),
                  file=sys.stderr)
    n = len(rows)
    results = {str(b.understanding_dir): sc.result(n, speak is not None) for b, sc in zip(bots, scores)}
    return {
        "n": n,
        "mode": mode,
        "snr": snr,
        **({"noise": noise, "voice": voice} if speak else {}),
        "models": str(bots[0].understanding_dir),
        "encoder_runtime": bots[0].config.understand.encoder_runtime,
        **results[str(bots[0].understanding_dir)],
        **({"by_models": results} if len(results) > 1 else {}),
    }
