"""``bench echo --record DIR`` and ``--replay DIR``: tune the listening path over a reply offline.

A live bench echo run takes 5-8 minutes and moves by a few trials each time (three sessions
share two cores). What decides whether a person over the reply is heard is deterministic
once the microphone and the reference are fixed: the talker check (``presence.py``), the
canceller and the strict endpointer. ``--record`` keeps, per trial, every chunk the listener
heard while echo could be in it (before any canceller) with the reference for the same
positions; ``--replay`` runs them again through a fresh talker check, canceller and
endpointer, with the talker check's constants overridden (``--presence RATIO=3,SHARE=0.4``),
in seconds per trial.

What a replay measures: where speech would start over the reply. With nobody speaking, any
start is a self-pause. With a person, the first start from their first sound on is their
stop (missed: none by the end of their words). Past the live run's own first start the
recording holds what that run did (the client held its queue), so a replay that starts later
than the live run did is flagged ``after_live_stop`` rather than trusted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..config import INPUT_SAMPLE_RATE, Config
from ..errors import AssistantError
from ..listen.canceller import echo_canceller
from ..listen.echo import EchoChunk, OwnVoice
from ..listen.presence import NearEndPresence
from ..listen.vad import Endpointer, FrameVAD, SpeechStart, Utterance
from .common import percentile, rounded


class Recorder:
    """The chunks one trial's listener heard over the reply; :meth:`save` writes them with the trial's facts."""

    def __init__(self) -> None:
        self.chunks: list[EchoChunk] = []

    def add(self, chunk: EchoChunk) -> None:
        self.chunks.append(chunk)

    def save(self, path: Path, facts: dict[str, Any]) -> None:
        """``facts``: the trial's row and the person's sample positions (``onset``, ``last``; None alone)."""
        if not self.chunks:
            return
        c = self.chunks
        np.savez_compressed(
            path, at=np.array([x.at for x in c]), size=np.array([len(x.mic) for x in c]),
            speaking=np.array([x.agent_speaking for x in c]), mic=np.concatenate([x.mic for x in c]),
            reference=np.concatenate([x.reference for x in c]), facts=json.dumps(facts, default=str))


def parse_overrides(text: str) -> dict[str, float]:
    """``RATIO=3,SHARE=0.4`` -> the talker check's class constants to set, each of its constant's
    type (frame counts stay whole); a clear error for anything else."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if not hasattr(NearEndPresence, name) or not name.isupper():
            raise AssistantError(f"{name!r} is not one of the talker check's constants (NearEndPresence)")
        try:
            number = float(value)
        except ValueError:
            raise AssistantError(f"--presence {part!r}: the value must be a number") from None
        out[name] = int(number) if isinstance(getattr(NearEndPresence, name), int) else number
    return out


def _replay_one(path: Path, config: Config, silero: Path, overrides: dict[str, float]) -> dict[str, Any]:
    with np.load(path) as npz:  # each read of an npz member decompresses it again: once, here
        data = {k: npz[k] for k in npz.files}
    facts = json.loads(str(data["facts"]))
    presence = type("Tuned", (NearEndPresence,), dict(overrides))()
    canceller = echo_canceller(config.duplex)
    v = config.vad
    strict = config.duplex.over_reply(v)
    endpointer = Endpointer(FrameVAD(silero, v), v)
    own_voice = OwnVoice()
    starts: list[int] = []
    shares: list[tuple[int, float]] = []  # (where each utterance ended, its echo share)
    offset, base = 0, int(data["at"][0])
    for at, size, speaking in zip(data["at"], data["size"], data["speaking"], strict=True):
        mic, ref = data["mic"][offset : offset + size], data["reference"][offset : offset + size]
        offset += size
        canceller.played(ref, int(at))  # the recorded reference, placed where it was heard
        sure = presence.heard(mic, ref)
        talker_frames = sure if speaking else 0
        endpointer.config = strict if speaking else v
        endpointer.over_echo = presence if speaking else None
        out = canceller.process(mic, int(at))
        endpointer.echo_explained = canceller.explains_echo
        own_voice.heard(out, int(at), talker_frames)
        for ev in endpointer.feed(out):
            if isinstance(ev, SpeechStart):
                starts.append(base + ev.start_ms * INPUT_SAMPLE_RATE // 1000)
                own_voice.speech_started(starts[-1])
            elif isinstance(ev, Utterance):  # as the listener's echo_share has it
                share = own_voice.share(canceller.reference)
                shares.append((base + ev.end_ms * INPUT_SAMPLE_RATE // 1000, round(share, 2)))
    onset, begun, last, live = facts.get("onset"), facts.get("begun"), facts.get("last"), facts.get("live_stop")
    row: dict[str, Any] = {"file": path.name, "level": facts["row"].get("level"), "room": facts["row"].get("room")}
    if onset is None:
        row["self_pause"] = bool(starts)
        return row
    # What the barge-in policy weighs their words' final by (valid past the live run's pause,
    # as the recording is what that run heard).
    row["echo_shares"] = [share for end, share in shares if end >= begun]
    # As the live bench counts them: from the start of their audio on (the recordings carry
    # 0.3-0.5 s of their own room before the first word, which a start may rightly be on).
    before = [s for s in starts if s < begun]
    after = [s for s in starts if s >= begun]
    row["paused_before"] = bool(before)
    row["detected"] = bool(after) and after[0] <= last + INPUT_SAMPLE_RATE // 2
    row["stop_ms"] = max(0.0, (after[0] - onset) * 1000 / INPUT_SAMPLE_RATE) if row["detected"] else None
    row["after_live_stop"] = live is not None and bool(after) and after[0] > live
    row["live_interrupted"] = facts["row"].get("interrupted")
    return row


def replay(folder: Path, config: Config, silero: Path, overrides: dict[str, float]) -> dict[str, Any]:
    """The recorded trials in ``folder`` run again offline; per level: detected, stop times, self-pauses."""
    files = sorted(folder.glob("*.npz"))
    if not files:
        raise AssistantError(f"no recorded trials (*.npz) in {folder}: record some with bench echo --record")
    rows = []
    for f in files:
        rows.append(_replay_one(f, config, silero, overrides))
        print(rows[-1], file=sys.stderr)
    lone = [r for r in rows if r["level"] is None]
    out: dict[str, Any] = {"overrides": overrides, "alone_trials": len(lone),
                           "self_pause_rate": round(sum(r["self_pause"] for r in lone) / max(1, len(lone)), 3)}
    spoken = [r for r in rows if r["level"] is not None]
    for level in sorted({r["level"] for r in spoken}):
        got = [r for r in spoken if r["level"] == level]
        out[f"started_{level:+.0f}db"] = round(sum(r["detected"] for r in got) / len(got), 3)
        out[f"trials_{level:+.0f}db"] = len(got)
    stops = [r["stop_ms"] for r in spoken if r["stop_ms"] is not None]
    out.update(paused_before=sum(r["paused_before"] for r in spoken),
               after_live_stop=sum(r["after_live_stop"] for r in spoken),
               stop_ms_p50=rounded(percentile(stops, 50)), stop_ms_p95=rounded(percentile(stops, 95)),
               # Heard, but their first utterance's echo share would have the reply resume.
               taken_for_echo=[f"{r['file']} {r['echo_shares'][0]}" for r in spoken if r["detected"] and r["echo_shares"]
                               and r["echo_shares"][0] >= config.duplex.echo_share_max],
               missed=[f"{r['file']} {r['room']}" for r in spoken if not r["detected"]],
               self_paused=[f"{r['file']} {r['room']}" for r in lone if r["self_pause"]])
    return out
