"""The ``assistant`` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import LLM_ROLES
from ..errors import AssistantError
from ..models import PROJECT_ROOT

SPEECH_DEV = PROJECT_ROOT.parent / "shared" / "eval" / "speech-dev" / "manifest.tsv"


class _Progress:
    """Prints assembly progress in 10% steps on stderr."""

    def __init__(self) -> None:
        self._step = -1

    def __call__(self, name: str, done: int, total: int) -> None:
        step = 10 * done // max(1, total)
        if step == self._step:
            return
        self._step = step
        end = "\n" if done >= total else ""
        print(f"\r  assembling {name}: {10 * step:3d}% of {total >> 20} MB", end=end, file=sys.stderr, flush=True)


def cmd_models(args: argparse.Namespace) -> int:
    from ..models import ModelStore

    store = ModelStore()
    failures = 0
    if args.action == "list":
        print(f"cache: {store.cache_dir}")
        for spec in store.specs:
            pins = ", ".join(p.pin for p in spec.packages)
            print(f"{spec.role:17} {spec.name:38} {spec.assemble:9} {pins}")
            print(f"{'':17} licence: {spec.licence}")
            if spec.override_env:
                print(f"{'':17} override: ${spec.override_env}")
        return 0
    for spec in store.specs:
        t0 = time.perf_counter()
        if args.action == "verify":
            result = store.check(spec, trust_stamp=False)
        else:
            try:
                result = store.prepare(spec, progress=_Progress())
            except AssistantError as err:
                print(f"FAIL {spec.name}: {err}", file=sys.stderr)
                failures += 1
                continue
        if result.ok:
            print(f"ok   {spec.name} ({result.message}, {time.perf_counter() - t0:.1f} s)")
        else:
            print(f"FAIL {result.message}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


def cmd_transcribe(args: argparse.Namespace) -> int:
    from ..api import Assistant
    from ..audio import load_audio

    audio = load_audio(args.input)
    bot = Assistant()
    if args.stream:
        return asyncio.run(_transcribe_stream(bot, audio, realtime=not args.fast))
    t = bot.recognizer.transcribe(audio)
    print(t.text)
    print(f"[{t.audio_s:.2f} s of audio, decoded in {t.compute_ms:.0f} ms]", file=sys.stderr)
    return 0


async def _transcribe_stream(bot: Any, audio: np.ndarray, realtime: bool) -> int:
    from ..bench.asr import listen_to
    from ..bench.pacing import silence
    from ..events import SpeechStarted, SpeechStopped, TranscriptFinal, TranscriptPartial

    _ = bot.recognizer, bot.silero_path  # load before the clock starts

    def show(t: float, ev: Any, listener: Any) -> None:
        if isinstance(ev, SpeechStarted):
            print(f"[{t:6.2f} s] speech started at {ev.audio_ms / 1000:.2f} s of audio")
        elif isinstance(ev, TranscriptPartial):
            print(f"[{t:6.2f} s] partial  {ev.stable} | {ev.unstable}")
        elif isinstance(ev, SpeechStopped):
            print(f"[{t:6.2f} s] endpoint (speech ended at {ev.audio_ms / 1000:.2f} s of audio)")
        elif isinstance(ev, TranscriptFinal):
            clock = listener.clock(ev.turn_id)
            ms = clock.span_ms("endpoint", "asr_done")
            spec = " (speculative decode reused)" if clock.info.get("speculative_final") else ""
            print(f"[{t:6.2f} s] final, ready {ms:.0f} ms after the endpoint{spec}:")
            for h in ev.nbest or ():
                print(f"            {h.posterior:6.3f}  {h.text}")
            if not ev.nbest:
                print("            (no speech)")

    res = await listen_to(bot, np.concatenate([audio, silence(0.6)]), realtime=realtime, printer=show)
    if not res.finals:
        raise AssistantError("no speech recognised")
    return 0


def cmd_say(args: argparse.Namespace) -> int:
    from ..api import Assistant
    from ..audio import write_wav
    from ..speak.chunker import Chunker

    text = args.text if args.text != "-" else sys.stdin.read()
    if not text.strip():
        raise AssistantError("nothing to say: give some text (or '-' to read stdin)")
    if not Path(args.output).expanduser().resolve().parent.is_dir():
        raise AssistantError(f"output folder does not exist: {Path(args.output).parent}")
    bot = Assistant()
    synth = bot.synthesizer
    t0 = time.perf_counter()
    frames: list[np.ndarray] = []
    first: float | None = None
    chunker = Chunker()
    # The same chunking as a streamed reply: a short first chunk, then sentences.
    for chunk in [*chunker.push(" ".join(text.split()) + " "), *chunker.flush()]:
        for frame in synth.stream(chunk):
            if first is None:
                first = time.perf_counter() - t0
                print(f"first audio after {1000 * first:.0f} ms (first chunk: {chunk!r})", flush=True)
            frames.append(frame)
    audio = np.concatenate(frames) if frames else np.zeros(0, dtype=np.float32)
    write_wav(args.output, audio, synth.sample_rate)
    total = time.perf_counter() - t0
    print(
        f"wrote {args.output}: {len(audio) / synth.sample_rate:.2f} s at {synth.sample_rate} Hz "
        f"in {1000 * total:.0f} ms (real-time factor {total / max(1e-9, len(audio) / synth.sample_rate):.3f})"
    )
    return 0


async def _respond(input_path: str, output_path: str) -> int:
    from ..api import Assistant
    from ..audio import load_audio, pcm16_to_float, write_wav
    from ..events import ErrorEvent, ReplyAudio, ReplyDone, SessionCreated, TranscriptFinal

    audio = load_audio(input_path)
    if not Path(output_path).expanduser().resolve().parent.is_dir():
        raise AssistantError(f"output folder does not exist: {Path(output_path).parent}")
    bot = Assistant()
    bot.config.duplex.realtime_output = False  # a file, not a listener: no need to pace the reply
    t0 = time.perf_counter()
    bot.load()
    load_s = time.perf_counter() - t0
    frames: list[np.ndarray] = []
    rate = bot.synthesizer.sample_rate
    transcripts: list[str] = []
    done: list[ReplyDone] = []
    errors: list[str] = []
    async with bot.session() as session:
        step = 1600  # 100 ms
        for i in range(0, len(audio), step):
            await session.send_audio(audio[i : i + step])
        await session.end_audio()
        async for ev in session.events():
            if isinstance(ev, SessionCreated):
                rate = ev.output_sample_rate
            elif isinstance(ev, TranscriptFinal):
                transcripts.append(ev.transcript)
            elif isinstance(ev, ReplyAudio):
                frames.append(pcm16_to_float(ev.pcm))
            elif isinstance(ev, ReplyDone):
                done.append(ev)
            elif isinstance(ev, ErrorEvent):
                errors.append(ev.message)
    for msg in errors:
        print(f"error: {msg}", file=sys.stderr)
    if not any(transcripts):
        raise AssistantError(f"no speech recognised in {input_path}")
    reply_audio = np.concatenate(frames) if frames else np.zeros(0, dtype=np.float32)
    write_wav(output_path, reply_audio, rate)
    print(f"models loaded in {load_s:.1f} s")
    for text in transcripts:
        print(f"you said:  {text}")
    for d in done:
        print(f"assistant: {d.text}")
        print("timings:   " + ", ".join(f"{k}={v:.0f}" for k, v in d.metrics.items()))
    print(f"wrote {output_path}: {len(reply_audio) / rate:.2f} s at {rate} Hz")
    return 0 if done and not errors else 1


def cmd_respond(args: argparse.Namespace) -> int:
    return asyncio.run(_respond(args.input, args.output))


def cmd_bench(args: argparse.Namespace) -> int:
    from ..bench.runner import run

    return run(args)


def cmd_talk(args: argparse.Namespace) -> int:
    from .talk import talk_devices, talk_files

    if (args.input is None) != (args.output is None):
        raise AssistantError("--input and --output go together (a wav to listen to, a wav for the replies)")
    if args.input:
        return asyncio.run(talk_files(args.input, args.output, args.server))
    return asyncio.run(talk_devices(args.server, args.half_duplex))


def cmd_serve(args: argparse.Namespace) -> int:
    from ..serve.server import ServerLimits, serve

    limits = ServerLimits(
        max_sessions=args.max_sessions,
        token=args.token or os.environ.get("ASSISTANT_TOKEN") or None,
        allowed_origins=tuple(args.allow_origin),
        idle_timeout_s=args.idle_timeout,
    )
    return asyncio.run(serve(host=args.host, port=args.port, limits=limits))


def _session_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--turn-detection", choices=["semantic_vad", "server_vad"], default=None,
                   help="when a turn is over: smart-turn + transcript (default), or the fixed silence endpoint")
    p.add_argument("--llm", choices=sorted(LLM_ROLES), default=None,
                   help="the embedded LLM: 1.5b (default, right more often) or 0.5b (about twice as fast)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="Offline full-duplex voice assistant")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list, verify or prepare the embedded models")
    p.add_argument("action", choices=["list", "verify", "prepare"])
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("transcribe", help="speech to text for one audio file")
    p.add_argument("input", help="audio file (wav, flac, ogg; any rate or channel count)")
    p.add_argument("--stream", action="store_true", help="feed the file as a live stream; print partials and the n-best final")
    p.add_argument("--fast", action="store_true", help="with --stream: as fast as possible instead of real-time pace")
    p.set_defaults(func=cmd_transcribe)

    p = sub.add_parser("say", help="text to speech into a wav file, streamed (prints time to first audio)")
    p.add_argument("text", help="the text, or '-' to read it from stdin")
    p.add_argument("output", help="wav file to write")
    p.set_defaults(func=cmd_say)

    p = sub.add_parser("respond", help="one spoken turn: request wav in, spoken reply wav out")
    _session_options(p)
    p.add_argument("input", help="audio file with the spoken request")
    p.add_argument("output", help="wav file for the spoken reply")
    p.set_defaults(func=cmd_respond)

    p = sub.add_parser("talk", help="talk to it: microphone and speaker, or --input/--output wav files")
    _session_options(p)
    p.add_argument("--input", help="wav file to use as the microphone (no audio device needed)")
    p.add_argument("--output", help="wav file for everything the assistant said")
    p.add_argument("--server", help="ws://host:port/ws of a running `assistant serve` (default: in-process)")
    p.add_argument("--half-duplex", action="store_true", help="mute the microphone while it speaks (open speakers)")
    p.set_defaults(func=cmd_talk)

    p = sub.add_parser("bench", help="benchmarks; each prints one JSON object as its last line with --json")
    bench = p.add_subparsers(dest="what", required=True)
    b = bench.add_parser("asr", help="streaming recognition: WER, final latency, partial cadence, RTF")
    b.add_argument("--manifest", required=True, help="TSV with 'file' (relative to it) and 'transcript' columns")
    b.add_argument("--fast", action="store_true", help="feed as fast as possible (latencies are then not live)")
    b.add_argument("--limit", type=int, default=None, help="only the first N files")
    b.add_argument("--json", action="store_true", help="end with one JSON line")
    b = bench.add_parser("intent", help="understanding: intent accuracy from text or synthesised speech")
    b.add_argument("--data", required=True, help="SLURP jsonl (sentence, intent) or MASSIVE jsonl (utt, intent, partition)")
    b.add_argument("--mode", choices=["text", "speech"], default="text")
    b.add_argument("--snr", type=float, default=None, help="speech mode: add noise at this SNR (dB) to the speech")
    b.add_argument("--noise", choices=["white", "babble"], default="white",
                   help="speech mode: white noise, or babble of three other rows' speech")
    b.add_argument("--voice", choices=["espeak", "piper"], default="espeak",
                   help="speech mode: espeak-ng (a voice the assistant never uses) or Piper (its own)")
    b.add_argument("--models", default=None,
                   help="understanding model folders, comma-separated, each scored on the same heard rows "
                        "(default: models/intent)")
    b.add_argument("--limit", type=int, default=None, help="only the first N rows")
    b.add_argument("--partition", default=None, help="MASSIVE partition (default: test when the file has partitions)")
    b.add_argument("--no-llm", action="store_true", help="policy without the LLM's decisions (classifier top-1)")
    b.add_argument("--json", action="store_true", help="end with one JSON line")
    b = bench.add_parser("latency", help="voice-to-voice latency with a simulated real-time client")
    _session_options(b)
    b.add_argument("--url", default=None, help="ws://host:port/ws of a running `assistant serve` (default: in-process)")
    b.add_argument("--repeats", type=int, default=1, help="passes over the sample requests")
    b.add_argument("--json", action="store_true", help="end with one JSON line")
    b = bench.add_parser("bargein", help="barge-in stop time, misses, false interruptions, truncation")
    b.add_argument("--trials", type=int, default=10, help="trials with real speech (and as many backchannels)")
    b.add_argument("--json", action="store_true", help="end with one JSON line")
    b = bench.add_parser("turns", help="turn-taking: cut-offs at thinking pauses, whole requests, latency, both modes")
    b.add_argument("--sentences", choices=["test", "dev"], default="test", help="the held-out set, or the tuning set")
    b.add_argument("--limit", type=int, default=None, help="only the first N requests")
    b.add_argument("--pauses", default="0,600,1000", help="pauses in ms between the two parts, comma-separated")
    b.add_argument("--voices", default="espeak,piper", help="espeak, piper or both")
    b.add_argument("--recordings", default=str(SPEECH_DEV) if SPEECH_DEV.is_file() else None,
                   help="a manifest of real recordings (whole utterances); default ../shared/eval/speech-dev")
    b.add_argument("--modes", default="server_vad,semantic_vad",
                   help="turn detection modes, comma-separated; semantic_vad:rules is semantic_vad without "
                        "the learnt words cue")
    b.add_argument("--json", action="store_true", help="end with one JSON line")
    b = bench.add_parser("qa", help="spoken questions answered right (facts, sums, follow-ups, honest no); n-best vs 1-best")
    _session_options(b)
    b.add_argument("--voices", default="espeak,piper", help="espeak, piper or both")
    b.add_argument("--snrs", default="clean,10", help="conditions: clean and/or SNRs in dB, comma-separated")
    b.add_argument("--limit", type=int, default=None, help="only the first N questions")
    b.add_argument("--latency-turns", type=int, default=12, help="LLM-route questions timed at real-time pace")
    b.add_argument("--json", action="store_true", help="end with one JSON line")
    b = bench.add_parser("tts", help="speech synthesis: time to first audio, RTF, cancel time, intelligibility")
    b.add_argument("--repeats", type=int, default=2, help="passes over the fixed replies")
    b.add_argument("--json", action="store_true", help="end with one JSON line")
    b = bench.add_parser("load", help="N concurrent simulated clients against a real server process; soak")
    b.add_argument("--sessions", type=int, default=1, help="concurrent clients")
    b.add_argument("--duration", type=float, default=None, help="talk for this many seconds (a soak) instead of --turns")
    b.add_argument("--turns", type=int, default=3, help="turns per client (without --duration)")
    b.add_argument("--find-capacity", action="store_true",
                   help="raise N until a session fails or v2v p95 passes twice the single-session figure")
    b.add_argument("--max-sessions", type=int, default=12, help="with --find-capacity: the largest N tried")
    b.add_argument("--json", action="store_true", help="end with one JSON line")
    b = bench.add_parser("echo", help="long replies through simulated rooms: self-interruption, speech over the "
                         "reply detected, stop time, ERLE")
    b.add_argument("--alone", type=int, default=30, help="replies with nobody speaking")
    b.add_argument("--per-level", type=int, default=14, help="speech-over-reply trials at each of -6, 0, +6 dB")
    b.add_argument("--methods", default="auto", help="echo cancellers, comma-separated: auto (the default), aec3, subtract")
    b.add_argument("--concurrency", type=int, default=3, help="sessions run at once")
    b.add_argument("--seed", type=int, default=0, help="another set of trials (0: the usual one)")
    b.add_argument("--record", default=None, metavar="DIR",
                   help="keep each trial's microphone and played reference in DIR, for --replay")
    b.add_argument("--replay", default=None, metavar="DIR",
                   help="run trials recorded with --record through the talker check, the canceller (the first "
                        "of --methods) and the endpointer again, offline")
    b.add_argument("--presence", default="", metavar="NAME=VALUE,...",
                   help="with --replay: the talker check's constants to override, e.g. RATIO=3,SHARE=0.4")
    b.add_argument("--json", action="store_true", help="end with one JSON line")
    b = bench.add_parser("cluster", help="haproxy + replicas sharing one served LLM, against one process; a "
                         "replica drained mid-run")
    b.add_argument("--replicas", type=int, default=2, help="assistant serve processes behind haproxy")
    b.add_argument("--parallel", type=int, default=2, help="llama-server's slots (requests batched together)")
    b.add_argument("--turns", type=int, default=3, help="turns per client in each capacity round")
    b.add_argument("--max-sessions", type=int, default=6, help="the largest number of concurrent clients tried")
    b.add_argument("--failover-sessions", type=int, default=4, help="clients talking while a replica is drained")
    b.add_argument("--failover-s", type=float, default=60.0, help="how long they talk (the drain comes halfway)")
    b.add_argument("--json", action="store_true", help="end with one JSON line")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("serve", help="WebSocket server and browser page")
    _session_options(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--max-sessions", type=int, default=8, help="refuse further connections (close code 1013)")
    p.add_argument("--token", default=None, help="require this token from clients (or set ASSISTANT_TOKEN)")
    p.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="a browser origin allowed besides the page's own, e.g. https://app.example (repeatable; '*' for any)")
    p.add_argument("--idle-timeout", type=float, default=300.0, help="close a session silent for this many seconds")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``assistant`` console script."""
    args = build_parser().parse_args(argv)
    # Read by Config.from_env, here and in any server process a command starts.
    if getattr(args, "turn_detection", None):
        os.environ["ASSISTANT_TURN_DETECTION"] = args.turn_detection
    if getattr(args, "llm", None):
        os.environ["ASSISTANT_LLM"] = args.llm
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # faster-whisper logs every decode at INFO; that is noise in a conversation.
    logging.getLogger("faster_whisper").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except AssistantError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
