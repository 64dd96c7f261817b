"""``assistant bench bargein``: stop time, misses, and false interruptions from echo and backchannels."""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from ..api import Assistant
from ..config import INPUT_SAMPLE_RATE
from .common import LONG_REPLY, first_reply_turn, open_client, percentile, rounded, sample_requests
from .pacing import silence


def _onset(audio: np.ndarray) -> int:
    """First sample of the first 20 ms frame louder than -40 dBFS."""
    from ..audio import rms_dbfs

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
    from ..audio import resample
    from ..conversation.turns import cut_to_words
    from ..skills import default_registry
    from ..speak.espeak import EspeakEngine
    from ..speak.synthesizer import Synthesizer

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
            if (turn := await first_reply_turn(client, deadline)) is None:
                print(f"trial {k}: the story request got no audio", file=sys.stderr)
                continue
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
                    # What was heard over the reply, to see why it did not stop.
                    print(*(f"   {line}" for line in client.timeline(onset_at)), sep="\n", file=sys.stderr)
                else:
                    stops.append(max(0.0, (frames[-1].at - onset_at) * 1000) if frames else 0.0)
                    started = [r for r in client.events_of("input_audio_buffer.speech_started") if r.at > onset_at - 1]
                    paused = client.events_of("response.paused", turn)
                    print(f"   speech_started +{(started[0].at - onset_at) * 1000:.0f} ms" if started else "   no start",
                          f"paused +{(paused[0].at - onset_at) * 1000:.0f} ms" if paused else "no pause",
                          f"audio_ms={started[0].event.get('audio_ms') if started else None} onset_sample_ms={first_sample / 16:.0f}",  # noqa: E501
                          file=sys.stderr)
                    # The history must hold only what was heard: the played audio's words.
                    played = client.played_samples(turn)
                    record = session.turns.get(turn)
                    ex, pb = (record.exchange, record.playback) if record else (None, None)
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
            heard_words = [(r.event.get("transcript"), r.event.get("echo_share")) for r in client.events_of(
                "conversation.item.input_audio_transcription.completed") if r.event.get("turn_id", 0) > turn]
            print(f"trial {k} {kind} {name}: interrupted={interrupted} heard (echo share)={heard_words}"
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
