"""``assistant bench WHAT``: run one benchmark and print its result (JSON last with --json)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ..errors import AssistantError
from .asr import bench_asr
from .bargein import bench_bargein
from .common import print_result
from .intent import bench_intent
from .latency import bench_latency
from .tts import bench_tts


def run(args: Any) -> int:
    """Dispatch ``assistant bench WHAT``."""
    if args.what == "asr":
        result = asyncio.run(bench_asr(Path(args.manifest), realtime=not args.fast, limit=args.limit))
    elif args.what == "intent":
        result = asyncio.run(bench_intent(Path(args.data), args.mode, args.snr, args.limit, args.partition,
                                          use_llm=not args.no_llm, noise=args.noise, voice=args.voice,
                                          model_dirs=tuple(Path(m) if m else None for m in (args.models or "").split(","))))
    elif args.what == "latency":
        result = asyncio.run(bench_latency(args.url, args.repeats))
    elif args.what == "bargein":
        result = asyncio.run(bench_bargein(args.trials))
    elif args.what == "turns":
        from .turns import MODES, RULES_ONLY, bench_turns

        pauses = tuple(int(x) for x in args.pauses.split(","))
        modes = tuple(args.modes.split(","))
        if unknown := [m for m in modes if m not in (*MODES, RULES_ONLY)]:
            raise SystemExit(f"bench turns: unknown mode {unknown[0]!r}; choose from {', '.join((*MODES, RULES_ONLY))}")
        result = asyncio.run(bench_turns(args.sentences, args.limit, pauses, tuple(args.voices.split(",")),
                                         Path(args.recordings) if args.recordings else None, modes))
    elif args.what == "qa":
        from .qa import bench_qa

        snrs = tuple(None if x.strip() == "clean" else float(x) for x in args.snrs.split(","))
        result = asyncio.run(bench_qa(tuple(args.voices.split(",")), snrs, args.limit, args.latency_turns))
    elif args.what == "tts":
        result = asyncio.run(bench_tts(repeats=args.repeats))
    elif args.what == "load":
        from .load import bench_load

        if args.sessions < 1 or (args.duration is not None and args.duration <= 0) or args.turns < 1:
            raise AssistantError("--sessions and --turns must be at least 1, --duration positive")
        result = asyncio.run(bench_load(args.sessions, args.duration, args.find_capacity, args.turns, args.max_sessions))
    elif args.what == "echo":
        from ..listen.canceller import CANCELLERS
        from .echo import bench_echo

        methods = tuple(m.strip() for m in args.methods.split(","))
        if not set(methods) <= set(CANCELLERS) or args.alone < 1 or args.per_level < 1:
            raise AssistantError(f"--methods takes {', '.join(CANCELLERS)}; --alone and --per-level must be >= 1")
        if args.replay:
            from ..api import Assistant
            from .echo_replay import parse_overrides, replay

            bot = Assistant()
            bot.config.duplex.echo_canceller = methods[0]
            result = replay(Path(args.replay), bot.config, bot.silero_path, parse_overrides(args.presence))
        else:
            result = asyncio.run(bench_echo(args.alone, args.per_level, methods, args.concurrency,
                                            Path(args.record) if args.record else None, args.seed))
    elif args.what == "cluster":
        from .cluster import bench_cluster

        if min(args.replicas, args.parallel, args.turns, args.max_sessions, args.failover_sessions) < 1:
            raise AssistantError("--replicas, --parallel, --turns, --max-sessions and --failover-sessions must be >= 1")
        result = asyncio.run(bench_cluster(args.replicas, args.parallel, args.turns, args.max_sessions,
                                           args.failover_sessions, args.failover_s))
    else:
        raise AssistantError(f"unknown benchmark {args.what!r}")
    print_result(result, args.json)
    return 0


