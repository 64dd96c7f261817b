"""Who has the floor: the barge-in policy's decisions carried out on the playback clock and the turns.

The :class:`~.bargein.BargeIn` policy only decides; this carries its decisions out
(pause or resume the clock, cancel the reply's turn, cut the history to what was
heard, tell the client) and keeps the policy's timer, so that the session hands it
listener events and nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..config import DuplexConfig, TurnConfig
from ..events import (
    Event,
    Interrupted,
    ReplyPaused,
    ReplyResumed,
    SpeechStarted,
    SpeechStopped,
    TranscriptFinal,
    TranscriptPartial,
)
from .bargein import BargeIn, Decision, DropFinal, InterruptReply, PauseReply, ReopenTurn, ResumeReply
from .outbound import EventStream
from .playback import PlaybackClock
from .turns import Turn, TurnTable


class Floor:
    """Barge-in for one session. ``echo_share()`` is the listener's live measure of its own voice."""

    def __init__(self, config: DuplexConfig, turns: TurnTable, playback: PlaybackClock, events: EventStream,
                 echo_share: Callable[[], float], turn_config: TurnConfig | None = None) -> None:
        self.turns = turns
        self.playback = playback
        self.events = events
        self._echo_share = echo_share
        self.policy = BargeIn(config, self._recent_words, turn_config, self._heard_ms)
        self._tick: asyncio.TimerHandle | None = None
        self._stopped: tuple[int, int] | None = None  # (turn, input audio ms) of the latest speech end
        self._continues: dict[int, Turn] = {}  # speech turn -> the request it goes on with

    def heard(self, event: Event) -> bool:
        """Feed the policy one listener event; True when that event's final is not a request."""
        b, now = self.policy, self._now_ms()
        if isinstance(event, SpeechStarted):
            decisions = b.speech_started(event.turn_id, event.audio_ms, now)
        elif isinstance(event, SpeechStopped):
            self._stopped = (event.turn_id, event.audio_ms)
            decisions = b.speech_stopped(event.turn_id, event.audio_ms)
        elif isinstance(event, TranscriptPartial):
            decisions = b.partial(event.turn_id, event.text, self._echo_share(), event.stable, event.audio_ms)
        elif isinstance(event, TranscriptFinal):
            decisions = b.final(event.turn_id, event.transcript, event.echo_share, event.nbest)
        else:
            decisions = []
        return DropFinal(event.turn_id) in self._carry_out(decisions)

    def request(self, turn_id: int) -> None:
        """``turn_id``'s final was taken as a request (someone may go on with it: see reopening)."""
        if self._stopped is not None and self._stopped[0] == turn_id:
            self.policy.request_heard(turn_id, self._stopped[1])

    def take(self) -> list[int]:
        """The client takes the floor (a typed message, a cancel): every reply under way stops,
        as if interrupted. Returns their turn ids."""
        stopped = [t.id for t in self.turns.answering()]
        for turn_id in stopped:
            self._interrupt(turn_id)
        return stopped

    def continued(self, turn_id: int) -> Turn | None:
        """The earlier request that speech ``turn_id`` goes on with (its reply was dropped), if any."""
        return self._continues.pop(turn_id, None)

    def audible(self, turn_id: int | None) -> None:
        """The playback clock's news: ``turn_id``'s reply is audible, or (None) nothing is."""
        p = self.policy
        self._carry_out(p.assistant_speaking(turn_id) if turn_id is not None else p.assistant_silent())

    def close(self) -> None:
        self._cancel_tick()

    def _cancel_tick(self) -> None:
        if self._tick:
            self._tick.cancel()
            self._tick = None

    def _carry_out(self, decisions: list[Decision]) -> list[Decision]:
        for d in decisions:
            if isinstance(d, PauseReply):
                self.playback.pause()
                self.events.emit(ReplyPaused(d.reply_turn))
            elif isinstance(d, ResumeReply):
                self.playback.resume()
                self.events.emit(ReplyResumed(d.reply_turn))
            elif isinstance(d, InterruptReply):
                self._interrupt(d.reply_turn)
            elif isinstance(d, ReopenTurn):
                self._reopen(d.reply_turn, d.speech_turn)
        self._cancel_tick()
        if (deadline := self.policy.deadline_ms) is not None:
            self._tick = asyncio.get_running_loop().call_later(
                max(0.0, (deadline - self._now_ms()) / 1000), self._on_tick)
        return decisions

    def _on_tick(self) -> None:
        self._carry_out(self.policy.tick(self._now_ms(), self._echo_share()))

    def _interrupt(self, turn_id: int) -> None:
        """Cancel the reply: its work stops, its queued audio goes, the client is told first."""
        turn = self.turns.get(turn_id)
        if turn is None or not turn.cancel():
            return
        heard = turn.cut_to(self.playback.heard_samples(turn))
        self.events.emit_first(Interrupted(turn_id, heard), drop_audio_of=turn_id)
        self.playback.stop(turn)

    def _reopen(self, reply_turn: int, speech_turn: int) -> None:
        turn = self.turns.get(reply_turn)
        if turn is None:
            return
        self._continues = {speech_turn: turn}
        self._interrupt(reply_turn)  # whatever of the reply was sent is flushed; nothing more goes out

    def _heard_ms(self, turn_id: int) -> float:
        turn = self.turns.get(turn_id)
        return 1000 * self.playback.heard_samples(turn) / self.playback.rate if turn is not None else 0.0

    def _recent_words(self, turn_id: int) -> list[str]:
        turn = self.turns.get(turn_id)
        return self.playback.recent_words(turn) if turn is not None else []

    @staticmethod
    def _now_ms() -> float:
        return asyncio.get_running_loop().time() * 1000
