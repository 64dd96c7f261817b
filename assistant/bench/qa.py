"""``assistant bench qa``: are spoken questions answered correctly, and is "I can't" said honestly?

Every question of ``qa_questions.py`` is spoken by espeak-ng and by Piper, clean and
with white noise at 10 dB SNR (the noise power set against the speech's own), and
recognised by the real recogniser. Each recognised n-best is then answered twice, on
a fresh conversation (a follow-up after its lead question):

- ``nbest``: the system as built: the classifier fuses the n-best, the LLM reads the
  alternatives where they differ in words;
- ``1best``: the same models given only the best hypothesis.

Where both would see the same request the same way, the answer is shared (the LLM
samples, and the comparison should show the n-best's effect, not sampling noise).
Then the LLM route's end of speech -> first audio is measured at real-time pace: the
first fact questions, spoken by espeak-ng into one in-process session.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..api import Assistant
from ..events import Hypothesis
from ..reply.history import History
from ..reply.honesty import claims_action
from ..reply.responder import Responder
from ..skills import Timers
from ..threads import NEVER
from ..understand.understander import Understanding
from .common import open_client, percentile, rounded, speakers, spoken_turn
from .pacing import silence
from .qa_questions import QUESTIONS, Question

KINDS = ("fact", "arithmetic", "followup", "action")
VARIANTS = ("nbest", "1best")


def noisy(speech: np.ndarray, snr_db: float | None, rng: np.random.Generator) -> np.ndarray:
    """``speech`` padded with 0.3 s of silence, plus white noise ``snr_db`` below the speech's power."""
    padded = np.concatenate([silence(0.3), speech, silence(0.3)])
    if snr_db is None:
        return padded
    power = float(np.mean(speech**2)) or 1e-10
    noise = rng.standard_normal(len(padded)).astype(np.float32) * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(padded + noise, -1.0, 1.0).astype(np.float32)


def is_right(q: Question, reply: str) -> bool:
    """The reply holds an accepted answer; for an action, a plain "can't" and no claim it was done."""
    if q.kind == "action":
        return bool(reply) and not claims(reply) and _matches(q, reply)
    return _matches(q, reply)


def claims(reply: str) -> bool:
    """A sentence of the reply claims an action was, is being or will be done."""
    return any(claims_action(s) for s in re.split(r"(?<=[.!?])\s+", reply))


def _matches(q: Question, reply: str) -> bool:
    text = reply.lower().replace("’", "'")
    return any(re.search(p, text, re.I) for p in q.accept)


class Answerer:
    """Answers a recognised n-best as one variant would, in its own conversation."""

    NOW = dt.datetime(2026, 12, 1, 15, 30)

    def __init__(self, bot: Assistant, responder: Responder, use_nbest: bool) -> None:
        self.bot, self.responder, self.use_nbest = bot, responder, use_nbest

    def understand(self, nbest: tuple[Hypothesis, ...]) -> Understanding | None:
        if not nbest or not nbest[0].text.strip():
            return None
        hyps = nbest if self.use_nbest else (Hypothesis(nbest[0].text, nbest[0].logprob, 1.0),)
        return self.bot.understander.understand(hyps, Timers(), self.NOW)

    def key(self, u: Understanding | None, history: History) -> tuple[Any, ...]:
        """What decides the answer: equal keys would get the same answer."""
        if u is None:
            return ()
        return (u.route, u.intent, u.skill_reply, self.responder.request_text(u),
                tuple((m.role, m.content) for m in history.messages))

    def reply(self, u: Understanding | None, history: History) -> str:
        if u is None:
            return ""

        def skill(intent: str) -> str | None:
            return self.bot.understander.run_skill(intent, u, Timers(), self.NOW)

        return "".join(p for p in self.responder.stream(u, history, NEVER, skill) if isinstance(p, str)).strip()


def _ask(answerers: dict[str, Answerer], histories: dict[str, History], nbest: tuple[Hypothesis, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    seen: dict[tuple[Any, ...], str] = {}
    for name, a in answerers.items():
        u = a.understand(nbest)
        key = a.key(u, histories[name])
        reply = seen[key] if key in seen else a.reply(u, histories[name])
        seen[key] = reply
        if u is not None:
            histories[name].add(u.text, reply)
        out[name] = reply
        out[f"{name}_route"] = u.route if u else "no_speech"
    return out


async def bench_qa(voices: tuple[str, ...] = ("espeak", "piper"), snrs: tuple[float | None, ...] = (None, 10.0),
                   limit: int | None = None, latency_turns: int = 12) -> dict[str, Any]:
    bot = Assistant().load()
    answerers = {"nbest": Answerer(bot, bot.responder, True), "1best": Answerer(bot, Responder(bot.llm, nbest=False), False)}
    voice = speakers(bot)
    questions = QUESTIONS[:limit]
    rng = np.random.default_rng(13)
    rows: list[dict[str, Any]] = []
    for name in voices:
        for snr in snrs:
            for q in questions:
                histories = {name: History() for name in answerers}

                def hear(text: str, name: str = name, snr: float | None = snr) -> tuple[Hypothesis, ...]:
                    return bot.recognizer.final(noisy(voice[name](text), snr, rng)).nbest

                if q.lead:
                    _ask(answerers, histories, hear(q.lead))
                nbest = hear(q.text)
                got = _ask(answerers, histories, nbest)
                row = {"kind": q.kind, "voice": name, "snr": snr, "question": q.text,
                       "heard": nbest[0].text if nbest else "", **got,
                       **{f"right_{v}": is_right(q, got[v]) for v in VARIANTS}}
                rows.append(row)
                print(f"{name} snr={snr} {q.kind}: {q.text} -> {row['heard']!r} | nbest {row['right_nbest']}: "
                      f"{got['nbest']!r} | 1best {row['right_1best']}", file=sys.stderr)
    result: dict[str, Any] = {"questions": len(questions), "voices": list(voices),
                              "snrs": ["clean" if s is None else s for s in snrs]}
    for v in VARIANTS:
        for kind in KINDS:
            sub = [r for r in rows if r["kind"] == kind]
            if sub:
                result[f"{kind}_rate_{v}"] = round(sum(r[f"right_{v}"] for r in sub) / len(sub), 3)
        # Honest on action requests: the share of them whose reply claimed the action (never, the
        # target), apart from the share declined plainly (action_rate: a misheard request may
        # draw a reply that neither declines nor claims).
        actions = [r for r in rows if r["kind"] == "action"]
        if actions:
            result[f"action_claim_rate_{v}"] = round(sum(claims(r[v]) for r in actions) / len(actions), 3)
        for snr in snrs:
            sub = [r for r in rows if r["snr"] == snr]
            label = "clean" if snr is None else f"snr{snr:g}"
            result[f"all_rate_{label}_{v}"] = round(sum(r[f"right_{v}"] for r in sub) / max(1, len(sub)), 3)
    for snr in snrs:
        label = "clean" if snr is None else f"snr{snr:g}"
        result[f"nbest_gain_points_{label}"] = round(
            100 * (result[f"all_rate_{label}_nbest"] - result[f"all_rate_{label}_1best"]), 1)
    result["answers_differ"] = sum(r["nbest"] != r["1best"] for r in rows)
    result["trials"] = len(rows)
    result.update(await _llm_route_latency(bot, voice["espeak"], latency_turns))
    return result


async def _llm_route_latency(bot: Assistant, speak: Callable[[str], np.ndarray], turns: int) -> dict[str, Any]:
    """End of speech -> first reply audio on LLM turns, at real-time pace, in one conversation."""
    facts = [q.text for q in QUESTIONS if q.kind == "fact"][:turns]
    client = await open_client(bot, None)
    rows = []
    try:
        await client.stream(silence(0.5))
        for text in facts:
            rows.append(await spoken_turn(client, text, speak(text)))
            print(f"latency: {text}: {rows[-1]}", file=sys.stderr)
    finally:
        await client.close()
    llm = [r for r in rows if r.get("v2v_ms") is not None and r.get("route") != "skill"]
    return {
        "llm_route_turns": len(llm),
        "llm_route_v2v_ms_p50": rounded(percentile([r["v2v_ms"] for r in llm], 50)),
        "llm_route_v2v_ms_p95": rounded(percentile([r["v2v_ms"] for r in llm], 95)),
        "llm_route_first_text_ms_p50": rounded(percentile([r["first_text_ms"] for r in llm if r.get("first_text_ms")], 50)),
    }
