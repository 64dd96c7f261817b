"""Barge-in as a pure state machine: listener facts and clock ticks in, decisions out.

States::

    idle --assistant audible--> speaking --person starts--> paused --words / long speech--> interrupted
      ^                            ^                           |
      +------assistant silent------+<------false start---------+  (resume; its final is dropped)

The policy never touches audio, tasks or queues: the session feeds it what
happened (:meth:`BargeIn.speech_started`, ``partial``, ``final``, ...) with the
time in milliseconds, asks it for its next :attr:`BargeIn.deadline_ms`, and carries
out the decisions it returns. Every wait and threshold is in
:class:`~assistant.config.DuplexConfig`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from ..config import DuplexConfig, TurnConfig
from ..events import Hypothesis
from ..listen.asr import word_key
from .ownvoice import is_backchannel, is_own_voice


class State(Enum):
    IDLE = "idle"
    SPEAKING = "speaking"
    PAUSED = "paused"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class PauseReply:
    """Hold the reply's audio: someone may be cutting in."""

    reply_turn: int


@dataclass(frozen=True)
class ResumeReply:
    """It was a false start: carry on where the reply stopped."""

    reply_turn: int


@dataclass(frozen=True)
class InterruptReply:
    """The person cut in: cancel the reply."""

    reply_turn: int


@dataclass(frozen=True)
class ReopenTurn:
    """The person went on with the request just answered: drop the reply, merge the two."""

    reply_turn: int
    speech_turn: int


@dataclass(frozen=True)
class DropFinal:
    """This final is not a request (a false start, a backchannel, the assistant's own echo)."""

    turn_id: int


Decision = PauseReply | ResumeReply | InterruptReply | ReopenTurn | DropFinal


class BargeIn:
    """What to do about speech while the assistant talks.

    ``recent_words(reply_turn)`` gives the words the assistant said in the last few
    seconds of that reply: speech made only of them is its own echo. With ``turn`` set
    (semantic turn detection), speech that starts within ``turn.reopen_ms`` of the last
    request's end, when at most ``turn.reopen_heard_ms`` of its reply has been heard
    (``heard_ms(reply_turn)``), continues that request instead.
    """

    def __init__(self, config: DuplexConfig, recent_words: Callable[[int], Sequence[str]] = lambda _: (),
                 turn: TurnConfig | None = None, heard_ms: Callable[[int], float] = lambda _: 0.0) -> None:
        self.config = config
        self.turn = turn
        self._recent_words = recent_words
        self._heard_ms = heard_ms
        self._request: tuple[int, int] | None = None  # (turn, audio ms its speech ended) of the last request
        self.state = State.IDLE
        self.reply_turn: int | None = None
        """The reply being spoken, paused or (last) interrupted."""
        self._speech_turn: int | None = None  # the speech over the paused reply
        self._person_turn: int | None = None  # the speech that cut the last reply: a person, not echo
        self._speech_start_ms = 0
        self._speech_ms = math.inf  # how long that speech lasted, once it stopped
        self._paused_at = 0.0
        self._check_at = 0.0
        self._heard_to_ms = 0  # how far into the input the listener's partials have got
        self._sure_words = False  # the latest partial has stable words, or a stop command
        self._reopen_pending: ReopenTurn | None = None  # speech over the reply that would reopen, once confirmed

    # -- the assistant's side --------------------------------------------------

    def assistant_speaking(self, reply_turn: int) -> list[Decision]:
        """The assistant's voice is audible, reading ``reply_turn``."""
        if self.state is not State.PAUSED:
            self.state, self.reply_turn = State.SPEAKING, reply_turn
        return []

    def assistant_silent(self) -> list[Decision]:
        """Nothing of the assistant's is audible any more (its reply ended or was cut)."""
        self.state, self._speech_turn = State.IDLE, None
        return []

    # -- the person's side -----------------------------------------------------

    def request_heard(self, turn_id: int, end_audio_ms: int) -> list[Decision]:
        """``turn_id``'s final is a request, its speech ended at ``end_audio_ms`` of the input."""
        self._request = (turn_id, end_audio_ms)
        return []

    def speech_started(self, turn_id: int, audio_ms: int, now_ms: float) -> list[Decision]:
        reopen = self._reopen(turn_id, audio_ms)
        reply = self.reply_turn if self.state is State.SPEAKING else None
        if reopen is not None and reopen.reply_turn != reply:
            return self._reopened(reopen)  # its reply is not audible yet: this can only be the person
        if reply is None:
            return []
        # Over its own reply the start may be that reply's echo (the canceller is still settling
        # in its first second; bench echo: 2 of 12 replies in the RT60 0.8 s room): pause, and
        # reopen only once words show it is the person, as for any barge-in.
        self._reopen_pending = reopen
        self.state, self._speech_turn = State.PAUSED, turn_id
        self._speech_start_ms, self._speech_ms = audio_ms, math.inf
        self._paused_at, self._check_at = now_ms, now_ms + self.config.confirm_ms
        self._heard_to_ms, self._sure_words = audio_ms, False
        return [PauseReply(reply)]

    def speech_stopped(self, turn_id: int, audio_ms: int) -> list[Decision]:
        if self._over_reply(turn_id):
            self._speech_ms = audio_ms - self._speech_start_ms
        return []

    def partial(self, turn_id: int, text: str, echo_share: float, stable: str | None = None,
                audio_ms: int | None = None) -> list[Decision]:
        """Live words for ``turn_id``: ``stable`` the part two decodes agree on (None: all of
        ``text``), ``audio_ms`` how far into the input they go.

        Only stable words (or a stop command) interrupt: a first decode of a hum over the reply
        is often words Whisper made up ("mm hmm" heard as "And then." or "And man, I'm gonna...",
        its final "Mm."): 1-3 of 10 hums cut the reply in bench bargein when any words did.
        """
        if not self._over_reply(turn_id):
            return []
        if audio_ms is not None:
            self._heard_to_ms = max(self._heard_to_ms, audio_ms)
        sure = text if stable is None else stable
        stop = self._stop_command(text, ())
        self._sure_words = not self._nothing(text) and (stop or (bool(sure) and not self._nothing(sure)))
        if self._only_echo(echo_share) or not self._sure_words:
            return []
        return self._interrupt()

    def final(self, turn_id: int, transcript: str, echo_share: float,
              nbest: Sequence[Hypothesis] = ()) -> list[Decision]:
        # A stop command is heard whatever the echo share or a backchannel reading say. Once it
        # has cut the reply it has done all it asked, and is not a request to answer (it was:
        # "Stop." got "I'm sorry, but I can't assist with that.").
        over_reply = self._over_reply(turn_id)
        stop = self._stop_command(transcript, nbest, short=over_reply and self._short_speech())
        stopped: list[Decision] = [DropFinal(turn_id)] if stop else []
        if over_reply:
            # A blip shorter than any real interruption ("stop" takes longer) is a false start,
            # whatever Whisper made of it; so is the reply's own echo.
            if self._speech_ms < self.config.min_interrupt_ms or self._nothing(transcript) or (
                    not stop and (self._only_echo(echo_share) or self._maybe_backchannel(nbest))):
                return [*self._resume(), DropFinal(turn_id)]
            return [*self._interrupt(), *stopped]
        if turn_id == self._person_turn:
            # It cut the reply on its words, so it is a person's request, even if the reply's
            # tail echo under its first syllables lifts its echo share over the bar by the end
            # (0.563 for a "What time is it?" over the story in a duplex test: it was dropped,
            # and the assistant went silent).
            return stopped
        # Not speech over a paused reply; still, what was only the reply's echo (by energy,
        # or by words that are all the reply's own) is not a request.
        if transcript and (self._only_echo(echo_share) or (
                self.state is State.SPEAKING and self._own_voice(transcript))):
            return [DropFinal(turn_id)]
        return []

    def tick(self, now_ms: float, echo_share: float) -> list[Decision]:
        """Time passed; ``echo_share`` is the listener's current measure for the speech."""
        if self.state is not State.PAUSED:
            return []
        if self._speech_ms < math.inf:  # the speech ended: its final decides
            return self._resume() if now_ms >= self._paused_at + self.config.max_pause_ms else []
        if now_ms < self._check_at:
            return []
        # Still speaking after confirm_ms. Sure words interrupt (they do as they come, in
        # :meth:`partial`, unless the echo share held them back; it has fallen now). Without
        # them (a sound, a backchannel, a first guess, the assistant's own words) wait for the
        # words rather than cut the reply on a sound, up to words_wait_ms of speech. What is
        # still its own echo never interrupts, however long it lasts; the paused reply's echo
        # fades, and its final then decides.
        if self._only_echo(echo_share):
            self._check_at = now_ms + self.config.recheck_ms
            return []
        if not self._sure_words and not self._waited_for_words(now_ms):
            self._check_at = now_ms + self.config.recheck_ms
            return []
        return self._interrupt()

    def _waited_for_words(self, now_ms: float) -> bool:
        """Speech over the reply has gone on for ``words_wait_ms`` with no sure words. Counted in
        input audio, as far as the listener has decoded it: on 2 busy cores its events come
        0.5-1 s late (a 640 ms hum's speech end reached the policy 1.75 s after the pause), so
        the wall clock alone would cut the reply for a hum whose end was still on its way.
        ``max_pause_ms`` on the wall clock bounds the wait if the listener falls silent."""
        heard = self._heard_to_ms - self._speech_start_ms
        return heard >= self.config.words_wait_ms or now_ms - self._paused_at >= self.config.max_pause_ms

    @property
    def deadline_ms(self) -> float | None:
        """When :meth:`tick` next has something to decide (None: only events matter now)."""
        if self.state is not State.PAUSED:
            return None
        return self._paused_at + self.config.max_pause_ms if self._speech_ms < math.inf else self._check_at

    # -- rules -----------------------------------------------------------------

    def _reopen(self, turn_id: int, audio_ms: int) -> ReopenTurn | None:
        t, request = self.turn, self._request
        if t is None or not t.semantic or request is None or request[0] == turn_id:
            return None
        self._request = None
        reply_turn, ended_ms = request
        if audio_ms - ended_ms > t.reopen_ms or self._heard_ms(reply_turn) > t.reopen_heard_ms:
            return None
        return ReopenTurn(reply_turn, turn_id)

    def _reopened(self, reopen: ReopenTurn) -> list[Decision]:
        if self.reply_turn == reopen.reply_turn:
            self.state, self._speech_turn = State.IDLE, None
        return [reopen]

    def _over_reply(self, turn_id: int) -> bool:
        return self.state is State.PAUSED and turn_id == self._speech_turn

    def _nothing(self, text: str) -> bool:
        return is_backchannel(text, self.config.backchannels) or self._own_voice(text)

    def _own_voice(self, text: str) -> bool:
        return self.reply_turn is not None and is_own_voice(text, self._recent_words(self.reply_turn))

    def _maybe_backchannel(self, nbest: Sequence[Hypothesis]) -> bool:
        """Short speech that the recogniser also heard as a backchannel, fairly likely: over a
        reply, a misheard "yeah" ("he hasn't", with "Yes." at 0.23 in the n-best, 384 ms, in a
        duplex test) would otherwise cut the reply; a short "stop" has no such reading."""
        return self._short_speech() and any(
            is_backchannel(h.text, self.config.backchannels) and h.text.strip() for h in self._likely(nbest))

    def _short_speech(self) -> bool:
        """The speech over the reply lasted less than any request (``backchannel_max_ms``)."""
        return self._speech_ms < self.config.backchannel_max_ms

    def _likely(self, nbest: Sequence[Hypothesis], floor: float | None = None) -> list[Hypothesis]:
        """The readings at ``reading_min_posterior`` (or ``floor``) or above."""
        least = self.config.reading_min_posterior if floor is None else floor
        return [h for h in nbest if h.posterior >= least]

    def _stop_command(self, transcript: str, nbest: Sequence[Hypothesis], short: bool = False) -> bool:
        """The words, or a likely reading of them, are a stop command (a duplex test heard
        "Start up." 0.66 with "Stop." 0.21, which the LM re-ranking then took as the request).
        Over the reply, short speech needs a less likely reading (``short_stop_min_posterior``)."""
        floor = self.config.short_stop_min_posterior if short else None
        texts = [transcript, *(h.text for h in self._likely(nbest, floor))]
        return any(word_key(t) in self.config.stop_commands for t in texts)

    def _only_echo(self, echo_share: float) -> bool:
        return echo_share >= self.config.echo_share_max

    def _resume(self) -> list[Decision]:
        self.state, self._speech_turn, self._reopen_pending = State.SPEAKING, None, None
        assert self.reply_turn is not None
        return [ResumeReply(self.reply_turn)]

    def _interrupt(self) -> list[Decision]:
        self._person_turn = self._speech_turn
        if (reopen := self._reopen_pending) is not None:
            self._reopen_pending = None
            return self._reopened(reopen)
        self.state, self._speech_turn = State.INTERRUPTED, None
        assert self.reply_turn is not None
        return [InterruptReply(self.reply_turn)]
