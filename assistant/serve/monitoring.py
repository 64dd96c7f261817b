"""What a server tells its operators: Prometheus metrics, and whether it is alive and ready.

One :class:`ServerMetrics` per server, with a registry of its own (two servers in one
process, as in the tests, do not share counters). The server feeds it every session
event (:meth:`ServerMetrics.saw`) and its own refusals and protocol errors; ``/metrics``
renders it in Prometheus' text format.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ..events import ErrorEvent, Event, Interrupted, ReplyDone, ReplyResumed, Understood

#: ``response.done`` metrics (ms) -> the stage they time.
STAGES = {
    "endpoint_ms": "endpoint",  # silence waited after the last speech before the turn ended
    "asr_final_ms": "asr_final",
    "understand_ms": "understand",
    "llm_first_token_ms": "llm_first_token",
    "reply_text_ms": "reply_text",  # the first words of the reply (after a label or a checked sentence)
    "tts_first_audio_ms": "tts_first_audio",
    "response_ms": "endpoint_to_first_audio",
}

#: Seconds; a voice turn's stages run from ~10 ms (a skill) to a few seconds (a cold LLM).
BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServerMetrics:
    """The server's Prometheus series (names start ``assistant_``)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.sessions_active = Gauge("assistant_sessions_active", "Sessions open now", registry=r)
        self.sessions = Counter("assistant_sessions", "Sessions opened", ["protocol"], registry=r)
        self.refused = Counter("assistant_connections_refused", "Connections refused before a session opened",
                               ["reason"], registry=r)
        self.turns = Counter("assistant_turns", "Requests understood, by who answers", ["route"], registry=r)
        self.replies = Counter("assistant_replies", "Replies completed (response.done)", registry=r)
        self.stage = Histogram("assistant_stage_seconds", "Time of each stage of a turn", ["stage"],
                               buckets=BUCKETS, registry=r)
        self.bargeins = Counter("assistant_bargeins", "Replies cut off by the person (or a cancel)", registry=r)
        self.resumed = Counter("assistant_false_interruptions_resumed",
                               "Replies paused for speech that was not an interruption, then resumed", registry=r)
        self.errors = Counter("assistant_errors", "Error events sent, by code", ["code"], registry=r)
        self.audio_dropped = Counter("assistant_audio_dropped_frames",
                                     "Reply audio frames dropped for clients that did not take them", registry=r)

    def saw(self, event: Event) -> None:
        """A session event on its way to a client."""
        if isinstance(event, Understood) and event.decided_by == "classifier":
            self.turns.labels(event.route).inc()
        elif isinstance(event, ReplyDone):
            self.replies.inc()
            m = event.metrics
            for key, stage in STAGES.items():
                if key in m:
                    self.stage.labels(stage).observe(m[key] / 1000)
            if "endpoint_ms" in m and "response_ms" in m:
                self.stage.labels("speech_end_to_first_audio").observe((m["endpoint_ms"] + m["response_ms"]) / 1000)
        elif isinstance(event, Interrupted):
            self.bargeins.inc()
        elif isinstance(event, ReplyResumed):
            self.resumed.inc()
        elif isinstance(event, ErrorEvent):
            self.errors.labels(event.code).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
