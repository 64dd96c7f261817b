"""Scale-out on this machine with real parts: HAProxy in front of replicas that share one served LLM.

``assistant bench cluster`` starts, as plain processes: one LLM server on the embedded 1.5B
GGUF (llama.cpp's ``llama-server`` with ``--parallel`` slots and continuous batching, when
deploy/build-llama-server.sh has built it; else llama-cpp-python's ``python -m
llama_cpp.server``, which takes one request at a time), ``--replicas`` ``assistant serve``
processes that use it through ``ASSISTANT_LLM_URL``, and Debian's ``haproxy`` in front
(``leastconn``, health checks on ``/readyz``). In one sitting it measures:

1. ``single``: one ``assistant serve`` with its own LLM: capacity and latency, as
   ``bench load --find-capacity`` (the most concurrent conversations whose p95
   voice-to-voice stays within twice the single-conversation figure);
2. ``cluster``: the same through the load balancer;
3. ``failover``: clients talk through the balancer; halfway, one replica gets SIGTERM
   (it drains: replies under way finish, then its sessions close with 1001). Its clients
   reconnect through the balancer (the time to their next ``session.created``); the
   others must not notice.

Everything it starts, it stops (also on Ctrl-C or an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import llm_role
from ..errors import AssistantError
from ..models import PROJECT_ROOT, ModelStore
from .load import ClientRun, ServerProcess, capacity, clients, free_port, round_result

#: Where deploy/build-llama-server.sh puts llama.cpp's server.
LLAMA_SERVER = PROJECT_ROOT / ".cache" / "llama-server" / "bin" / "llama-server"


@dataclass
class Child:
    """A process this benchmark started, with its log."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        log = Path(tempfile.mkstemp(prefix=f"assistant-{name}-", suffix=".log")[1])
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        return cls(name, proc, log)

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-1500:]


async def http_ok(url: str, child: Child, timeout_s: float) -> None:
    """Wait until ``url`` answers 200 (or the child dies, or time runs out)."""
    def get() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    deadline = time.monotonic() + timeout_s
    loop = asyncio.get_running_loop()
    while time.monotonic() < deadline:
        if await loop.run_in_executor(None, get):
            return
        if child.proc.poll() is not None:
            break
        await asyncio.sleep(0.25)
    raise AssistantError(f"{child.name} did not come up at {url} (log {child.log}):\n{child.tail()}")


def haproxy_config(port: int, replicas: list[int]) -> str:
    """HAProxy in front of the replicas: least connections, /readyz decides who takes sessions."""
    servers = "\n".join(f"  server r{i} 127.0.0.1:{p} check" for i, p in enumerate(replicas))
    return f"""global
  maxconn 512
defaults
  mode http
  timeout connect 2s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  option redispatch
  retries 2
frontend voice
  bind 127.0.0.1:{port}
  default_backend replicas
backend replicas
  balance leastconn
  option httpchk GET /readyz
  http-check expect status 200
  # A replica that drains (or dies) stops getting sessions within ~0.5 s.
  default-server inter 250ms fall 1 rise 2
{servers}
"""


class Cluster:
    """The LLM server, the replicas and the load balancer, as child processes."""

    def __init__(self, replicas: int, parallel: int, max_sessions: int) -> None:
        self.replica_count, self.parallel, self.max_sessions = replicas, parallel, max_sessions
        self.children: list[Child] = []
        self.replicas: list[ServerProcess] = []
        self.port = free_port()
        self.llm_server = "llama-server" if LLAMA_SERVER.is_file() else "llama_cpp.server"

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self) -> None:
        gguf = str(ModelStore().path_for(llm_role("1.5b")))
        llm_port = free_port()
        if self.llm_server == "llama-server":
            argv = [str(LLAMA_SERVER), "-m", gguf, "--host", "127.0.0.1", "--port", str(llm_port), "--parallel",
                    str(self.parallel), "--ctx-size", str(2048 * self.parallel), "--threads", "2", "--no-webui"]
        else:
            # interrupt_requests off: by default it drops the request it is streaming for a newer one.
            argv = [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1", "--port",
                    str(llm_port), "--n_ctx", "2048", "--n_threads", "2", "--interrupt_requests", "False"]
        llm = Child.start("llm", argv)
        self.children.append(llm)
        await http_ok(f"http://127.0.0.1:{llm_port}/v1/models", llm, 300)
        env = {"ASSISTANT_LLM_URL": f"http://127.0.0.1:{llm_port}/v1"}
        self.replicas = [ServerProcess(self.max_sessions, env) for _ in range(self.replica_count)]
        for r in self.replicas:
            await r.ready()
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(haproxy).is_file():
            raise AssistantError("haproxy is not installed: sudo apt-get install haproxy")
        cfg = Path(tempfile.mkstemp(prefix="assistant-haproxy-", suffix=".cfg")[1])
        cfg.write_text(haproxy_config(self.port, [r.port for r in self.replicas]))
        lb = Child.start("haproxy", [haproxy, "-f", str(cfg), "-db"])
        self.children.append(lb)
        for r in self.replicas:
            await http_ok(f"http://127.0.0.1:{r.port}/readyz", lb, 120)
        await http_ok(f"http://127.0.0.1:{self.port}/readyz", lb, 30)

    def stop(self) -> list[int]:
        """Stop everything (the balancer first); the replicas' exit codes."""
        for child in reversed(self.children[1:]):
            child.stop()
        codes = [r.stop() for r in self.replicas]
        if self.children:
            self.children[0].stop()
        return codes


@contextlib.asynccontextmanager
async def running_cluster(replicas: int, parallel: int, max_sessions: int) -> AsyncIterator[Cluster]:
    cluster = Cluster(replicas, parallel, max_sessions)
    try:
        await cluster.start()
        yield cluster
    finally:
        cluster.stop()


async def failover(cluster: Cluster, sessions: int, duration_s: float) -> dict[str, Any]:
    """Clients through the balancer; halfway one replica drains and closes. What each side saw."""
    talk = asyncio.create_task(clients(cluster.url, sessions, 3, duration_s, reconnect=True))
    await asyncio.sleep(duration_s / 2)
    victim = cluster.replicas[0]
    t0 = time.monotonic()
    victim.proc.send_signal(signal.SIGTERM)
    drained: list[float] = []
    exited = asyncio.get_running_loop().run_in_executor(None, victim.proc.wait)
    exited.add_done_callback(lambda _: drained.append(time.monotonic() - t0))
    runs = await talk
    exit_code = await asyncio.get_running_loop().run_in_executor(None, victim.stop)
    moved = [r for r in runs if isinstance(r, ClientRun) and r.reconnect_ms]
    stayed = [r for r in runs if isinstance(r, ClientRun) and not r.reconnect_ms]
    reconnects = [ms for r in moved for ms in r.reconnect_ms]
    return {
        **round_result(runs, sessions),
        "killed_at_s": round(duration_s / 2, 1),
        "killed_replica_exit_code": exit_code,
        "killed_replica_exit_s": round(drained[0], 2) if drained else None,  # SIGTERM -> exit (drain, 1001)
        "clients_moved": len(moved),
        "clients_moved_ok": sum(1 for r in moved if r.ok),
        "close_codes": sorted({c for r in moved for c in r.close_codes if c is not None}),
        "reconnect_ms_max": round(max(reconnects), 1) if reconnects else None,
        "clients_stayed": len(stayed),
        "clients_stayed_ok": sum(1 for r in stayed if r.ok),
    }


async def bench_cluster(replicas: int = 2, parallel: int = 2, turns: int = 3, max_sessions: int = 6,
                        failover_sessions: int = 4, failover_s: float = 60.0) -> dict[str, Any]:
    """The three measurements of the module docstring, in one sitting."""
    single = ServerProcess(max_sessions + 1)
    try:
        await single.ready()
        alone = await capacity(single.url, turns, max_sessions)
    finally:
        single.stop()
    async with running_cluster(replicas, parallel, max_sessions + 1) as cluster:
        together = await capacity(cluster.url, turns, max_sessions)
        moved = await failover(cluster, failover_sessions, failover_s)
        llm_server = cluster.llm_server
    keys = ("capacity", "single_v2v_ms_p95", "v2v_ms_p50", "v2v_ms_p95", "rounds")
    return {
        "replicas": replicas, "llm_server": llm_server, "llm_parallel": parallel if llm_server == "llama-server" else 1,
        "single": {k: alone[k] for k in keys}, "cluster": {k: together[k] for k in keys}, "failover": moved,
    }
