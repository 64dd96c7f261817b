"""Training data from our own recogniser: MASSIVE utterances spoken, noised and heard.

``python -m assistant.understand.speech_data --partition train`` synthesises each
utterance with one of several voices (espeak-ng accents and speeds, Piper at three
speeds), adds one kind of noise (none, white, or babble made of other utterances) at
one of several SNRs, runs the real recogniser's n-best decode, and appends the
hypotheses with their posteriors to a JSON-lines cache. Each utterance's condition is
drawn from a generator seeded by its id, so a rerun makes the same data; rows already
in the cache are skipped, so a stopped run resumes where it stopped.

Needs espeak-ng and the prepared models; no torch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import INPUT_SAMPLE_RATE, TTSConfig
from ..models import PROJECT_ROOT, default_model_dir
from .intents import parse_annotation

SHARED = PROJECT_ROOT.parent / "shared" / "eval" / "intents"
SHARED_MASSIVE = SHARED / "massive_en_train_dev.jsonl"

#: espeak-ng voices and words per minute; Piper length scales (1.0 is the voice's own pace).
ESPEAK_VOICES: tuple[tuple[str, int], ...] = (
    ("en-us", 170), ("en-us", 140), ("en-gb", 160), ("en-us+f3", 185), ("en-us+m3", 150), ("en-gb-scotland", 160),
)
PIPER_SCALES: tuple[float, ...] = (0.85, 1.0, 1.2)
#: Noise kinds and their SNRs in dB (against the speech's own power); "clean" has none.
CONDITIONS: tuple[tuple[str, float | None], ...] = (
    ("clean", None), ("white", 20.0), ("white", 10.0), ("white", 5.0), ("babble", 10.0), ("babble", 5.0),
)


@dataclass(frozen=True)
class Condition:
    """How one utterance was spoken and what noise it was heard through."""

    voice: str  # "espeak:<voice>:<wpm>" or "piper:<length scale>"
    noise: str
    snr_db: float | None


def held_out(ids: Any) -> set[str]:
    """The selection slice: a tenth of the rows, by a hash of their id (never trained on while choosing)."""
    return {i for i in ids if int(hashlib.sha256(f"select:{i}".encode()).hexdigest()[:8], 16) % 10 == 0}


def row_ids(data: Path) -> list[str]:
    """The ``id`` of every row of a MASSIVE file, in the order ``intents.read_examples`` reads them."""
    return [json.loads(line)["id"] for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]


def condition_for(key: str) -> Condition:
    """The condition of one utterance, a function of its id alone (reproducible, order-free)."""
    rng = np.random.default_rng(int(hashlib.sha256(key.encode()).hexdigest()[:12], 16))
    # Piper is the assistant's own voice and the most natural one here: a third of the rows.
    if rng.random() < 1 / 3:
        voice = f"piper:{PIPER_SCALES[rng.integers(len(PIPER_SCALES))]}"
    else:
        name, wpm = ESPEAK_VOICES[rng.integers(len(ESPEAK_VOICES))]
        voice = f"espeak:{name}:{wpm}"
    noise, snr = CONDITIONS[rng.integers(len(CONDITIONS))]
    return Condition(voice, noise, snr)


class Voices:
    """Every voice of the data, built once, each speaking text at 16 kHz."""

    def __init__(self, piper_voice: Path, config: TTSConfig) -> None:
        from dataclasses import replace

        from ..speak.espeak import EspeakEngine
        from ..speak.piper import PiperEngine
        from ..speak.synthesizer import Synthesizer

        self._synth: dict[str, Synthesizer] = {}
        for name, wpm in ESPEAK_VOICES:
            self._synth[f"espeak:{name}:{wpm}"] = Synthesizer(EspeakEngine(config, name, wpm), config)
        for scale in PIPER_SCALES:
            cfg = replace(config, length_scale=scale)
            self._synth[f"piper:{scale}"] = Synthesizer(PiperEngine(piper_voice, cfg), cfg)

    def speak(self, voice: str, text: str) -> np.ndarray:
        from ..audio import resample

        synth = self._synth[voice]
        return resample(synth.synthesize(text), synth.sample_rate, INPUT_SAMPLE_RATE)


def add_noise(speech: np.ndarray, cond: Condition, babble: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """``speech`` with 0.3 s of silence either side and the condition's noise mixed in."""
    padded = np.concatenate([np.zeros(4800, np.float32), speech, np.zeros(4800, np.float32)])
    if cond.snr_db is None:
        return padded
    if cond.noise == "babble" and len(babble) >= 3:
        # Three other talkers, each looped to the length and started at a random offset.
        noise = np.zeros(len(padded), np.float32)
        for k in rng.choice(len(babble), 3, replace=False):
            other = babble[int(k)]
            start = int(rng.integers(len(other)))
            noise += np.resize(np.roll(other, -start), len(padded))
    else:
        noise = rng.standard_normal(len(padded)).astype(np.float32)
    power = float(np.mean(speech**2)) or 1e-10
    noise *= np.sqrt(power / 10 ** (cond.snr_db / 10) / (float(np.mean(noise**2)) or 1e-10))
    return np.clip(padded + noise, -1.0, 1.0).astype(np.float32)


def _rows(data: Path, partition: str) -> Iterator[dict[str, Any]]:
    with data.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("partition") == partition:
                yield row


def cache_path(partition: str) -> Path:
    return default_model_dir().parent / "speech-hypotheses" / f"massive-{partition}.jsonl"


def read_cache(partition: str) -> list[dict[str, Any]]:
    """The cached rows: id, text, intent, slots, condition, and the n-best as [text, posterior] pairs."""
    path = cache_path(partition)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # a line cut short by a stopped run
            continue
    return out


def generate(data: Path, partition: str, limit: int | None, every: int = 1) -> Path:
    """Append heard rows for ``partition`` (every ``every``-th row, at most ``limit``) to its cache."""
    from ..api import Assistant

    out = cache_path(partition)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {r["id"] for r in read_cache(partition)}
    bot = Assistant()
    voices = Voices(bot.store.path_for("tts"), bot.config.tts)
    babble: deque[np.ndarray] = deque(maxlen=24)
    rows = [r for i, r in enumerate(_rows(data, partition)) if i % every == 0][:limit]
    t0, made = time.time(), 0
    with out.open("a", encoding="utf-8") as fh:
        for n, row in enumerate(rows, 1):
            cond = condition_for(row["id"])
            # Spoken even when the row is cached: it joins the babble pool, so a resumed run mixes
            # the same other talkers into the rows after it as an unbroken run would.
            speech = voices.speak(cond.voice, row["utt"])
            if row["id"] not in done:
                rng = np.random.default_rng(int(row["id"]) if str(row["id"]).isdigit() else n)
                heard = bot.recognizer.final(add_noise(speech, cond, list(babble), rng)).nbest
                _, slots = parse_annotation(row.get("annot_utt", row["utt"]))
                fh.write(json.dumps({
                    "id": row["id"], "text": row["utt"], "intent": row["intent"], "annot_utt": row.get("annot_utt"),
                    "slots": slots, "condition": asdict(cond),
                    "nbest": [[h.text, round(h.posterior, 4)] for h in heard],
                }) + "\n")
                fh.flush()
                made += 1
            babble.append(speech)
            if n % 100 == 0:
                rate = made / max(1e-9, time.time() - t0)
                print(f"{partition}: {n}/{len(rows)} ({made} new, {rate:.2f} rows/s)", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED_MASSIVE)
    ap.add_argument("--partition", default="train", choices=("train", "dev"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--every", type=int, default=1, help="take every N-th row of the partition")
    args = ap.parse_args(argv)
    print(generate(args.data, args.partition, args.limit, args.every))
    return 0


if __name__ == "__main__":
    sys.exit(main())
