"""``assistant bench turns``: does it wait for the end of a sentence, and only as long as needed?

Requests are split where a person might stop to think (``turn_sentences.py``); the two parts,
trimmed of their own silence, are joined by a pause of 0, 600 or 1000 ms, spoken by espeak-ng
and by Piper, and streamed at real-time pace into a fresh session, in both turn-detection
modes. Real recordings (``../shared/eval/speech-dev``, whole utterances) are streamed too.

To measure turn-taking and nothing else, every request is answered at once by one short skill
("Okay."): the latency is then end of speech -> first reply audio at the client, made of the
endpoint decision, the final decode, understanding and the first synthesised frame.

Per mode and pause it reports the cut-off rate (a final for the first part alone, or reply
audio while the person still had words to say), the share of requests answered whole, and for
unbroken sentences (pause 0, and the recordings) the latency and how often the longest wait was
used.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..api import Assistant
from ..audio import load_audio
from ..config import INPUT_SAMPLE_RATE
from ..textnorm import normalise_for_wer
from ..understand.intents import LABELS, OUT_OF_SCOPE
from .common import percentile, read_manifest, rounded, speakers
from .pacing import silence
from .simclient import InProcess, SimulatedClient
from .turn_sentences import DEV, TEST

MODES = ("server_vad", "semantic_vad")
#: A mode that can be asked for beside them: semantic_vad judging the words by the trailing-word
#: rules alone, without the learnt completeness cue (how it was before December 2026).
RULES_ONLY = "semantic_vad:rules"
REPLY = "Okay."


@dataclass(frozen=True)
class Trial:
    """One spoken request: ``audio`` with the first part ending at ``first_end`` and the rest
    spanning ``rest`` (sample indices into ``audio``); ``words`` it must be answered with."""

    name: str
    audio: np.ndarray
    first_end: int
    rest: tuple[int, int]
    words: tuple[str, str]
    pause_ms: int


def _trim(audio: np.ndarray, floor: float = 0.01) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > floor)
    return audio[max(0, loud[0] - 80) : loud[-1] + 80] if len(loud) else audio


def _covers(transcript: str, words: str, share: float = 0.6) -> bool:
    want = normalise_for_wer(words).split()
    got = set(normalise_for_wer(transcript).split())
    return not want or sum(w in got for w in want) >= share * len(want)


def make_trials(sentences: list[tuple[str, str]], voices: dict[str, Any], pauses: list[int]) -> list[Trial]:
    trials = []
    lead = silence(0.3)
    for name, speak in voices.items():
        for first, rest in sentences:
            a, b = _trim(speak(first)), _trim(speak(rest))
            for pause in pauses:
                gap = silence(pause / 1000)
                audio = np.concatenate([lead, a, gap, b])
                start = len(lead) + len(a) + len(gap)
                trials.append(Trial(f"{name}: {first} | {rest}", audio, len(lead) + len(a), (start, start + len(b)),
                                    (first, rest), pause))
    return trials


def quick_bot(base: Assistant, mode: str) -> Assistant:
    """The loaded models, every request answered by one short skill, turn detection ``mode``."""
    from ..skills import default_registry

    skills = default_registry()
    for label in (*LABELS, OUT_OF_SCOPE):
        skills.register(label, lambda req: REPLY)
    config = copy.deepcopy(base.config)
    config.turn.type = mode.split(":")[0]
    config.turn.words_model = mode != RULES_ONLY
    config.understand.skill_threshold = 0.0
    config.understand.oos_coverage = 0.0
    return base.sharing_models(config, skills)


async def run_trial(bot: Assistant, trial: Trial) -> dict[str, Any]:
    session = bot.session()
    await session.start()
    client = SimulatedClient(InProcess(session))
    await client.start()
    try:
        await client.stream(trial.audio)
        speech_end = client.sent_log[-1][1] + 0.02
        rest_end_ms = trial.rest[1] * 1000 // INPUT_SAMPLE_RATE
        for _ in range(60):  # up to 6 s for the answer to the whole request
            answered = [r for r in client.events_of("response.audio.delta")
                        if _stopped_ms(client, int(r.event["turn_id"])) >= rest_end_ms - 300]
            if answered:
                break
            await client.stream(silence(0.1))
        for _ in range(15):  # and its response.done, which carries the turn's wait
            if client.events_of("response.done"):
                break
            await client.stream(silence(0.1))
        return _outcome(client, trial, speech_end, bot.config.turn.max_wait_ms)
    finally:
        await client.close()
        await session.close()


def _stopped_ms(client: SimulatedClient, turn: int) -> int:
    stops = client.events_of("input_audio_buffer.speech_stopped", turn)
    return int(stops[0].event["audio_ms"]) if stops else -1


def _span_ms(client: SimulatedClient, turn: int) -> tuple[int, int]:
    start = client.events_of("input_audio_buffer.speech_started", turn)
    return (int(start[0].event["audio_ms"]) if start else -1, _stopped_ms(client, turn))


def _outcome(client: SimulatedClient, trial: Trial, speech_end: float, max_wait_ms: int) -> dict[str, Any]:
    first_end_ms, rest_start_ms = (x * 1000 // INPUT_SAMPLE_RATE for x in (trial.first_end, trial.rest[0]))
    rest_sent = client.sent_at(trial.rest[1]) or speech_end
    finals = {int(r.event["turn_id"]): r.event["transcript"]
              for r in client.events_of("conversation.item.input_audio_transcription.completed") if r.event["transcript"]}
    interrupted = {int(r.event["turn_id"]) for r in client.events_of("interrupt")}
    answered = {int(r.event["turn_id"]) for r in client.events_of("response.audio.delta")} - interrupted
    # A cut-off: the endpoint came before the person went on, or reply audio came while they still spoke.
    early_final = any(0 <= _stopped_ms(client, t) < rest_start_ms for t in finals)
    early_audio = any(r.at < rest_sent for r in client.events_of("response.audio.delta"))
    # Answered whole: a reply (not dropped) to a turn whose speech spans both parts, or whose
    # transcript (a continued request's is both parts joined) has words of both.
    whole = any(
        t in finals and ((_span_ms(client, t)[0] <= first_end_ms and _span_ms(client, t)[1] >= rest_start_ms - 300)
                         or (_covers(finals[t], trial.words[0], 0.4) and _covers(finals[t], trial.words[1], 0.4)))
        for t in answered)
    first_audio = next((r.at for r in client.events_of("response.audio.delta")
                        if _stopped_ms(client, int(r.event["turn_id"])) >= rest_start_ms - 300), None)
    waits = [float(r.event["metrics"].get("turn_wait_ms", 0.0)) for r in client.events_of("response.done")]
    return {
        "pause_ms": trial.pause_ms,
        "cut_off": early_final or early_audio,
        "whole": whole,
        "latency_ms": None if first_audio is None else round((first_audio - speech_end) * 1000, 1),
        "waited_max": any(w >= max_wait_ms for w in waits),
        "wait_ms": max(waits) if waits else None,
        "finals": list(finals.values()),
    }


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pause in sorted({r["pause_ms"] for r in rows}):
        sub = [r for r in rows if r["pause_ms"] == pause]
        out[f"cut_off_rate_{pause}"] = round(sum(r["cut_off"] for r in sub) / len(sub), 3)
        out[f"whole_rate_{pause}"] = round(sum(r["whole"] for r in sub) / len(sub), 3)
    joined = [r for r in rows if r["pause_ms"] == 0]
    lat = [r["latency_ms"] for r in joined if r["latency_ms"] is not None]
    out["complete_latency_ms_p50"] = rounded(percentile(lat, 50))
    out["complete_latency_ms_p95"] = rounded(percentile(lat, 95))
    out["complete_waited_max_rate"] = round(sum(r["waited_max"] for r in joined) / max(1, len(joined)), 3)
    waits = [r["wait_ms"] for r in joined if r["wait_ms"]]
    out["complete_endpoint_wait_ms_p50"] = rounded(percentile(waits, 50))
    out["trials"] = len(rows)
    return out


def _recordings(manifest: Path | None) -> list[Trial]:
    if manifest is None or not manifest.is_file():
        return []
    trials = []
    for path, text in read_manifest(manifest):
        audio = np.concatenate([silence(0.3), _trim(load_audio(path))])
        trials.append(Trial(f"recording: {path.name}", audio, len(audio), (len(audio), len(audio)), (text, ""), 0))
    return trials


async def bench_turns(sentences: str = "test", limit: int | None = None, pauses: tuple[int, ...] = (0, 600, 1000),
                      voices: tuple[str, ...] = ("espeak", "piper"), recordings: Path | None = None,
                      modes: tuple[str, ...] = MODES) -> dict[str, Any]:
    base = Assistant().load()
    voice = speakers(base)
    chosen = (DEV if sentences == "dev" else TEST)[:limit]
    trials = make_trials(chosen, {v: voice[v] for v in voices}, list(pauses))
    real = _recordings(recordings)
    result: dict[str, Any] = {"sentences": sentences, "requests": len(chosen), "voices": list(voices),
                              "recordings": len(real)}
    for mode in modes:
        bot = quick_bot(base, mode)
        rows = []
        for trial in trials:
            rows.append(await run_trial(bot, trial))
            print(f"{mode} {trial.pause_ms:4} ms {trial.name}: {rows[-1]}", file=sys.stderr)
        result[mode] = _summary(rows)
        if real:
            rec = []
            for trial in real:
                rec.append(await run_trial(bot, trial))
                print(f"{mode} {trial.name}: {rec[-1]}", file=sys.stderr)
            lat = [r["latency_ms"] for r in rec if r["latency_ms"] is not None]
            result[mode].update(
                recordings_split_rate=round(sum(len(r["finals"]) > 1 for r in rec) / len(rec), 3),
                recordings_latency_ms_p50=rounded(percentile(lat, 50)),
                recordings_waited_max_rate=round(sum(r["waited_max"] for r in rec) / len(rec), 3))
    a, b = result.get("server_vad", {}), result.get("semantic_vad", {})
    if a.get("complete_latency_ms_p50") is not None and b.get("complete_latency_ms_p50") is not None:
        result["semantic_extra_latency_ms_p50"] = round(b["complete_latency_ms_p50"] - a["complete_latency_ms_p50"], 1)
    return result
