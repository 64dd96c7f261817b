"""What one server accepts, and the token bucket that enforces the rates."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class ServerLimits:
    """Limits and access rules of a :class:`~assistant.server.Server` (all per connection
    unless said otherwise). The maximum utterance length is a session setting
    (``VADConfig.max_utterance_s``)."""

    max_sessions: int = 8
    """Concurrent sessions; further connections are closed with 1013 (try again later)."""
    token: str | None = None
    """When set, clients must send it (``?token=...`` or ``Authorization: Bearer ...``)."""
    allowed_origins: tuple[str, ...] = ()
    """Browser origins allowed besides the page's own (same host and port); ``"*"`` allows any.
    Clients that send no Origin (not a browser) are allowed: the token is their gate."""
    max_message_bytes: int = 1 << 20
    """A bigger message closes the connection with 1009 (message too big)."""
    idle_timeout_s: float = 300.0
    """No message from the client for this long closes the session with 1000 ("idle")."""
    messages_per_s: float = 200.0
    """Sustained rate of client messages (50 audio frames of 20 ms a second is typical)."""
    messages_burst: float = 400.0
    audio_speed: float = 2.0
    """Audio may arrive at most this many times faster than real time, on average ..."""
    audio_burst_s: float = 30.0
    """... after a first burst of this many seconds (a recorded file sent at once)."""
    flood_close_after: int = 200
    """Messages refused for rate in a row before the connection is closed with 1008."""
    out_audio_s: float = 5.0
    """Reply audio waiting to be sent to a slow client is capped at this many seconds;
    newer frames are dropped beyond it (the client is told once, ``audio_dropped``)."""
    out_events: int = 1000
    """Other events waiting for a client that does not read; beyond it the connection closes (1008)."""
    stall_timeout_s: float = 20.0
    """A client that takes nothing for this long while messages wait is closed with 1008."""
    trim_memory_every_s: float = 30.0
    """How often free heap memory is handed back to the system (0: never); see ``memory.py``."""
    drain_s: float = 10.0
    """On SIGTERM: how long replies under way may take to finish before every session is
    closed with 1001 (new sessions are refused, and ``/readyz`` fails, at once)."""
    send_buffer_bytes: int = 1 << 16
    """The kernel's send buffer per connection (about 1.5 s of reply audio). Left to grow on
    its own, it would take megabytes from a client that never reads, and hide it."""


@dataclass
class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; :meth:`take` spends them."""

    rate: float
    burst: float
    tokens: float = field(default=-1.0)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, amount: float = 1.0, now: float | None = None) -> bool:
        """Spend ``amount`` if there is that much; False (nothing spent) if not."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True
