"""``assistant bench echo``: long replies played into simulated rooms (``rooms.py``) and heard back.

Each trial is one in-process session and a simulated client whose loudspeaker's sound
reaches its microphone through a room (:class:`~.rooms.RoomPath`). Someone asks (in a
second voice, espeak-ng) for a story; the assistant answers with a long reply, and:

- ``alone``: nobody speaks. Any ``response.paused`` or ``interrupt`` of the reply is the
  assistant interrupting (or pausing) itself on its own echo.
- ``speech``: 1-2.5 s into the reply a person says a request over it, at -6, 0 or +6 dB
  relative to the echo at the microphone. Detected: the reply is interrupted. Stop time:
  from the person's first sound to the reply's audio stopping (the first pause or the
  interrupt once their audio began, whichever comes first; 0 when it came before their
  first sound: the two real recordings carry 0.3-0.5 s of their own room's noise before it,
  which the talker check can hear at 0 and +6 dB, and a stop on it is a stop on them).
  Decided: from the end of their words to the interrupt (within 3 s; negative where their
  stable words cut the reply before they ended).

The residual echo is the canceller's ERLE over the ``alone`` replies (microphone energy
against what is left after it). The cancellers can be run side by side (``--methods``).
"""

from __future__ import annotations

import asyncio
import copy
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..api import Assistant
from ..audio import resample
from ..config import INPUT_SAMPLE_RATE
from .common import LONG_REPLY, first_reply_turn, open_client, percentile, rounded, sample_requests
from .echo_replay import Recorder
from .pacing import silence
from .rooms import ROOMS, RoomPath

#: About 14 s of speech: long enough for echo to build up in every room.
STORY = LONG_REPLY[: LONG_REPLY.index("One day")].strip()
LEVELS_DB = (-6.0, 0.0, 6.0)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


async def _trial(bot: Assistant, ask: np.ndarray, room: RoomPath, speech: np.ndarray | None, level_db: float,
                 at_s: float, opened: Callable[[Any], None] = lambda _: None,
                 recording: Path | None = None) -> dict[str, Any]:
    client = await open_client(bot, None, room=room)
    opened(client)
    session = client.transport.session
    recorder = Recorder()
    if recording is not None:
        session.listener.on_echo_chunk = recorder.add
    onset = begun = last = None
    try:
        await client.stream(np.concatenate([silence(0.3), ask, silence(0.5)]))
        deadline = time.perf_counter() + 15
        if (turn := await first_reply_turn(client, deadline)) is None:
            return {"ok": False}
        await client.stream(silence(at_s))
        onset_at = begun_at = ended_at = None
        if speech is not None:
            scale = 10 ** (level_db / 20) * _reply_echo_rms(client) / max(1e-6, _rms(speech))
            begun, onset = client.sent, client.sent + int(np.argmax(np.abs(speech) > 0.02))
            # Three seconds to decide after they stop: with three sessions on two cores the final
            # of a 2 s request came 1-1.5 s after its endpoint, and a wait of 1.5 s counted a reply
            # paused at their first word, then cut on their words, as a miss (offline replay of
            # one run: 2 of its 13 misses had heard the request). How late is reported apart.
            last = client.sent + len(speech) - int(np.argmax(np.abs(speech[::-1]) > 0.02))
            await client.stream(np.concatenate([scale * speech, silence(3.0)]).astype(np.float32))
            onset_at, begun_at, ended_at = client.sent_at(onset), client.sent_at(begun), client.sent_at(last)
        else:
            while (client.playing() or not client.events_of("response.done", turn)) and \
                    not client.events_of("interrupt", turn) and time.perf_counter() < deadline + 60:
                await client.stream(silence(0.2))
        await client.stream(silence(0.3))
        # The first stop once the person's audio began: one before it was the reply pausing on
        # its own echo (paused_before), not a reaction to them.
        every_stop = [r.at for r in (*client.events_of("response.paused", turn), *client.events_of("interrupt", turn))]
        stops = [at for at in every_stop if begun_at is None or at >= begun_at]
        row = {
            "ok": True,
            "interrupted": bool(client.events_of("interrupt", turn)),
            "paused": bool(client.events_of("response.paused", turn)),
            # The reply paused on its own echo before the person spoke (it may have resumed since):
            # where it was still paused, their stop time is that of the interrupt their words bring.
            "paused_before": begun_at is not None and any(
                r.at < begun_at for r in client.events_of("response.paused", turn)),
            "stop_ms": max(0.0, (min(stops) - onset_at) * 1000) if stops and onset_at is not None else None,
            # From the end of their words to the interrupt (the reply was paused meanwhile, or not).
            "decided_ms": (cut[0].at - ended_at) * 1000 if ended_at is not None and (
                cut := client.events_of("interrupt", turn)) else None,
            "erle_db": session.listener.echo.erle_db,
            # What was heard over the reply, with how surely it was the reply's own echo.
            "heard": [(r.event.get("transcript"), rounded(r.event.get("echo_share"), 2)) for r in client.events_of(
                "conversation.item.input_audio_transcription.completed") if r.event.get("turn_id", 0) > turn],
            "partials": [f"{r.event.get('stable', '')} {r.event.get('unstable', '')}".strip() for r in client.events_of(
                "conversation.item.input_audio_transcription.partial") if r.event.get("turn_id", 0) > turn][-2:],
        }
        if recording is not None:
            first_stop = min(every_stop, default=None)
            recorder.save(recording, {"row": row | {"level": level_db if speech is not None else None,
                                                    "room": room.spec.name},
                                      "onset": onset, "begun": begun, "last": last,
                                      "live_stop": client.sample_at(first_stop) if first_stop is not None else None})
        return row
    finally:
        await client.close()


def _reply_echo_rms(client: Any) -> float:
    """The echo's level at the microphone: the reply's level as played (the rooms keep it about equal)."""
    played = np.concatenate(client.audio[-100:]) if client.audio else np.zeros(1, np.float32)
    return 1.4 * _rms(played)  # the loudspeaker's drive adds ~3 dB (rooms.py: tanh(1.6 x) / tanh(1.6))


async def bench_echo(alone: int = 30, per_level: int = 14, methods: tuple[str, ...] = ("auto",),
                     concurrency: int = 3, record: Path | None = None, seed: int = 0) -> dict[str, Any]:
    """Self-interruption, detection of speech over the reply, stop time and ERLE, per canceller;
    ``record``: a folder to keep each trial's microphone and reference in (``echo_replay.py``);
    ``seed``: another set of trials (rooms' noise and delays, which request, when it comes)."""
    if record is not None:
        record.mkdir(parents=True, exist_ok=True)
    from ..skills import default_registry
    from ..speak.espeak import EspeakEngine
    from ..speak.synthesizer import Synthesizer

    skills = default_registry()
    skills.register("general_quirky", lambda req: STORY, trigger=r"\bstory\b")
    base = Assistant(skills=skills).load()
    other = Synthesizer(EspeakEngine(base.config.tts), base.config.tts)
    ask = resample(other.synthesize("Tell me a story."), other.sample_rate, INPUT_SAMPLE_RATE)
    requests = [a for n, a in sample_requests() if not n.startswith("what_time")]
    rng = np.random.default_rng(5 + seed)
    plan: list[tuple[float | None, int]] = [(None, k) for k in range(alone)]
    plan += [(lvl, k) for lvl in LEVELS_DB for k in range(per_level)]
    results: dict[str, Any] = {}
    for method in methods:
        cfg = copy.deepcopy(base.config)
        cfg.duplex.echo_canceller = method
        bot = base.sharing_models(cfg, skills)  # the story skill: without it the LLM wrote the stories
        gate = asyncio.Semaphore(concurrency)
        t0 = time.perf_counter()

        async def one(level: float | None, k: int, method: str = method, bot: Assistant = bot,
                      gate: asyncio.Semaphore = gate) -> dict[str, Any]:
            room = RoomPath(ROOMS[k % len(ROOMS)], seed=k + 1000 * seed)
            speech = requests[(k + seed) % len(requests)] if level is not None else None
            clients: list[Any] = []
            async with gate:
                try:  # a trial that hangs is reported, not waited for, with what its client saw last
                    name = f"{method}-{'alone' if level is None else f'{level:+.0f}db'}-{k:02d}.npz"
                    row = await asyncio.wait_for(_trial(bot, ask, room, speech, level or 0.0,
                                                        float(rng.uniform(1.0, 2.5)), clients.append,
                                                        record / name if record is not None else None), 150)
                except TimeoutError:
                    row = {"ok": False, "why": "the trial took over 150 s",
                           "last_events": clients[0].timeline(clients[0].started)[-12:] if clients else []}
            row.update(level=level, room=room.spec.name)
            print(f"{method} {'alone' if level is None else f'{level:+.0f} dB'} {room.spec.name}: "
                  f"{ {k: v for k, v in row.items() if k not in ('level', 'room')} }", file=sys.stderr)
            return row

        rows = await asyncio.gather(*(one(level, k) for level, k in plan))
        results[method] = summary(rows) | {"wall_s": round(time.perf_counter() - t0, 1)}
    return results


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The bench's figures from its trials' rows (``level`` None: nobody spoke over the reply)."""
    def share(got: list[dict[str, Any]], test: Callable[[dict[str, Any]], bool]) -> float:
        return round(sum(bool(test(r)) for r in got) / max(1, len(got)), 3)

    def stopped(r: dict[str, Any]) -> bool:  # paused or interrupted: either is the reply stopping
        return bool(r["paused"] or r["interrupted"])

    lone = [r for r in rows if r["level"] is None and r["ok"]]
    out: dict[str, Any] = {
        "alone_trials": len(lone),
        "self_interrupt_rate": share(lone, lambda r: r["interrupted"]),
        "self_pause_rate": share(lone, stopped),
        "erle_db_p50": rounded(percentile([r["erle_db"] for r in lone if r["erle_db"] is not None], 50)),
    }
    # Where it happens. AEC3's output replayed offline from 30 of these replies: echo left
    # nearly whole (under 6 dB removed) in 14-29% of the loud 20 ms chunks in the large
    # reverberant room (RT60 0.8 s, 1.5 m), 0-7% in the other rooms.
    rooms = sorted({r["room"] for r in lone})
    out["self_pauses_by_room"] = {room: sum(stopped(r) for r in lone if r["room"] == room) for room in rooms}
    spoken = [r for r in rows if r["level"] is not None and r["ok"]]
    for level in LEVELS_DB:
        got = [r for r in spoken if r["level"] == level]
        out[f"detected_{level:+.0f}db"] = share(got, lambda r: r["interrupted"])
        out[f"trials_{level:+.0f}db"] = len(got)
    out["paused_before_speech_rate"] = share(spoken, lambda r: bool(r.get("paused_before")))
    stops = [r["stop_ms"] for r in spoken if r["stop_ms"] is not None]
    out.update(stop_ms_p50=rounded(percentile(stops, 50)), stop_ms_p95=rounded(percentile(stops, 95)))
    decided = [r["decided_ms"] for r in spoken if r.get("decided_ms") is not None]
    out.update(decided_ms_p50=rounded(percentile(decided, 50)), decided_ms_p95=rounded(percentile(decided, 95)))
    return out
