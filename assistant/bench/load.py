"""Load and soak: concurrent simulated clients against a real server process on loopback.

``assistant bench load --sessions N`` starts ``assistant serve`` as a child
process (so its memory is measured alone and the clients do not share its event
loop), then runs N simulated clients at once. Each one speaks the sample
requests at real-time pace, waits for the reply to be played, and goes on; a
session fails on an error event, a turn with no reply, or a dropped connection.

``--duration S`` keeps the clients talking for S seconds (reconnecting every few
turns, so session set-up and tear-down are soaked too) and reports how the
server's resident memory moved after warm-up. ``--find-capacity`` raises N until
a session fails or the 95th-percentile voice-to-voice latency passes twice the
single-session figure.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed, WebSocketException

from ..errors import AssistantError
from .common import percentile, rounded, sample_requests, spoken_turn
from .pacing import silence


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``assistant serve`` in a child process on a free loopback port."""

    def __init__(self, max_sessions: int, env: dict[str, str] | None = None) -> None:
        """``env``: variables on top of this process's (``ASSISTANT_LLM_URL`` for a served LLM)."""
        self.port = free_port()
        self.log_path = Path(tempfile.mkstemp(prefix="assistant-serve-", suffix=".log")[1])
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assistant", "serve", "--port", str(self.port), "--max-sessions", str(max_sessions),
             "--idle-timeout", "3600"],
            stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        )

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def ready(self, timeout_s: float = 300.0) -> None:
        """Wait until the server listens (model loading takes a while on a cold machine)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if "listening on" in self.log_path.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.2)
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise AssistantError(f"the server did not start (log {self.log_path}):\n{tail}")

    def memory_mb(self) -> tuple[float, float]:
        """(resident now, resident peak) of the server process, in MiB."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
        return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)

    def stop(self) -> int:
        """SIGTERM (the graceful path), then wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()
        return int(self.proc.returncode or 0)


@dataclass
class ClientRun:
    """What one simulated client saw."""

    turns: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    connections: int = 0
    reconnect_ms: list[float] = field(default_factory=list)
    """With ``reconnect``: from the server's close to the next ``session.created``."""
    close_codes: list[int | None] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.turns) and all(t.get("v2v_ms") is not None for t in self.turns)


async def _connect(url: str, retry_s: float) -> Any:
    """A started client on ``url``, retrying for ``retry_s`` (a load balancer may need a moment)."""
    from .simclient import SimulatedClient, WebSocket

    deadline = time.monotonic() + retry_s
    while True:
        try:
            client = SimulatedClient(await WebSocket.connect(url))
        except (OSError, WebSocketException):
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.1)
            continue
        await client.start()
        return client


async def run_client(index: int, url: str, requests: list[tuple[str, np.ndarray]], turns: int,
                     until: float | None, turns_per_connection: int = 8, reconnect: bool = False) -> ClientRun:
    """Talk to the server: ``turns`` turns, or until the monotonic time ``until``.

    ``reconnect``: a connection the server closes is not a failure: the client connects again
    (as a voice app would) and goes on; how long that took is recorded.
    """
    run = ClientRun()
    k = index  # each client starts at a different request
    closed_at: float | None = None

    def finished() -> bool:
        return time.monotonic() >= until if until is not None else len(run.turns) >= turns

    while True:
        try:
            client = await _connect(url, 10.0 if closed_at is not None else 0.0)
        except (OSError, WebSocketException) as err:
            run.errors.append(f"connect: {err}")
            return run
        run.connections += 1
        if closed_at is not None:
            while not client.events_of("session.created") and client.connected:
                await asyncio.sleep(0.005)
            run.reconnect_ms.append((time.perf_counter() - closed_at) * 1000)
            closed_at = None
        try:
            await client.stream(silence(0.3 + 0.1 * (index % 5)))  # stagger the clients a little
            for _ in range(turns_per_connection):
                name, audio = requests[k % len(requests)]
                k += 1
                row = await spoken_turn(client, name, audio, timeout_s=60)
                closed = not client.connected
                if not (closed and reconnect and row.get("v2v_ms") is None):  # a turn cut by the close
                    run.turns.append(row)
                    if row.get("v2v_ms") is None:
                        run.errors.append(f"no reply to {name}")
                if closed and not reconnect:
                    run.errors.append("connection closed by the server")
                if closed or finished():
                    break
        except ConnectionClosed:  # the server went while we spoke
            if not reconnect:
                run.errors.append("connection closed by the server")
        finally:
            await client.close()
        run.errors += [f"{r.event.get('code')}: {r.event.get('message')}" for r in client.events_of("error")]
        if client.closed_at is not None and client.transport.close_code not in (None, 1000) and reconnect:
            run.close_codes.append(client.transport.close_code)
            closed_at = client.closed_at
        if run.errors or finished():
            return run


async def load_round(url: str, sessions: int, turns: int, duration_s: float | None) -> dict[str, Any]:
    """N clients at once; the round's results (the benchmark's keys, minus memory)."""
    runs = await clients(url, sessions, turns, duration_s)
    return round_result(runs, sessions)


async def clients(url: str, sessions: int, turns: int, duration_s: float | None,
                  reconnect: bool = False) -> list[ClientRun | BaseException]:
    """Run ``sessions`` simulated clients at once until each is done."""
    requests = sample_requests()
    until = time.monotonic() + duration_s if duration_s else None
    return await asyncio.gather(*(run_client(i, url, requests, turns, until, reconnect=reconnect)
                                  for i in range(sessions)), return_exceptions=True)


def round_result(runs: list[ClientRun | BaseException], sessions: int) -> dict[str, Any]:
    v2v = [t["v2v_ms"] for r in runs if isinstance(r, ClientRun) for t in r.turns if t.get("v2v_ms") is not None]
    errors = [e for r in runs for e in (r.errors if isinstance(r, ClientRun) else [repr(r)])]
    ok = sum(1 for r in runs if isinstance(r, ClientRun) and r.ok)
    return {
        "sessions": sessions,
        "sessions_ok": ok,
        "sessions_failed": sessions - ok,
        "turns": len(v2v),
        "connections": sum(r.connections for r in runs if isinstance(r, ClientRun)),
        "v2v_ms_p50": rounded(percentile(v2v, 50)),
        "v2v_ms_p95": rounded(percentile(v2v, 95)),
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
    }


async def _sample_memory(server: ServerProcess, every_s: float, into: list[tuple[float, float]]) -> None:
    t0 = time.monotonic()
    while True:
        into.append((time.monotonic() - t0, server.memory_mb()[0]))
        await asyncio.sleep(every_s)


def memory_growth(samples: list[tuple[float, float]], duration_s: float) -> dict[str, Any]:
    """Resident memory after warm-up (the first 10%, at least 60 s) against the end of the run.

    Each end is the median of a minute of samples, so one allocation spike does not decide.
    """
    warm = max(60.0, 0.1 * duration_s)
    after = [rss for t, rss in samples if warm <= t < warm + 60]
    end = [rss for t, rss in samples if t >= samples[-1][0] - 60]
    if not after or not end:
        return {}
    base, last = float(np.median(after)), float(np.median(end))
    # One reading every 5 minutes, to see whether memory levels off or keeps climbing.
    series = [round(rss, 1) for t, rss in samples if t % 300 < samples[1][0] - samples[0][0]] if len(samples) > 1 else []
    return {"rss_mb_after_warmup": round(base, 1), "rss_mb_end": round(last, 1), "rss_growth": round(last / base - 1, 4),
            "rss_mb_every_5_min": series}


async def capacity(url: str, turns: int, max_sessions: int) -> dict[str, Any]:
    """Raise the number of concurrent clients until one fails or p95 voice-to-voice passes twice
    the single-client figure; the best round's results, with ``capacity`` and every round."""
    rounds = [await load_round(url, 1, turns, None)]
    print(f"{rounds[-1]}", file=sys.stderr)
    single = rounds[0]["v2v_ms_p95"]
    found = 1 if rounds[0]["sessions_failed"] == 0 else 0
    for n in range(2, max_sessions + 1):
        if found < n - 1 or single is None:
            break
        rounds.append(await load_round(url, n, turns, None))
        print(f"{rounds[-1]}", file=sys.stderr)
        p95 = rounds[-1]["v2v_ms_p95"]
        if rounds[-1]["sessions_failed"] == 0 and p95 is not None and p95 <= 2 * single:
            found = n
    best = next((r for r in rounds if r["sessions"] == found), rounds[0])
    return {**best, "capacity": found, "single_v2v_ms_p95": single,
            "rounds": [{k: r[k] for k in ("sessions", "sessions_failed", "v2v_ms_p50", "v2v_ms_p95")} for r in rounds]}


async def bench_load(sessions: int = 1, duration_s: float | None = None, find_capacity: bool = False,
                     turns: int = 3, max_sessions: int = 12) -> dict[str, Any]:
    """Run the load benchmark against a fresh server process; see the module docstring."""
    server = ServerProcess(max_sessions=max_sessions + 1)
    memory: list[tuple[float, float]] = []
    sampler: asyncio.Task[None] | None = None
    try:
        await server.ready()
        sampler = asyncio.create_task(_sample_memory(server, 5.0 if duration_s and duration_s > 300 else 1.0, memory))
        if not find_capacity:
            result = await load_round(server.url, sessions, turns, duration_s)
            print(f"{result}", file=sys.stderr)
        else:
            result = await capacity(server.url, turns, max_sessions)
    finally:
        if sampler is not None:
            sampler.cancel()
        rss_peak = server.memory_mb()[1] if server.proc.poll() is None else None
        exit_code = server.stop()
    result["rss_mb_peak"] = rounded(rss_peak)
    result["server_exit_code"] = exit_code
    if duration_s:
        result["duration_s"] = duration_s
        result.update(memory_growth(memory, duration_s))
    return result
