"""Speaking one chunk of a turn's reply: synthesised in a worker thread, sent at the playback clock's pace."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor

from ..audio import float_to_pcm16
from ..events import Event, ReplyAudio
from ..speak.synthesizer import Synthesizer
from ..threads import AnyOf, iterate_in_thread
from .playback import PlaybackClock
from .replying import SpeechChunk
from .turns import Turn


class Speaker:
    """Frames of speech out through ``emit``, each only once it is due and while its turn is live."""

    def __init__(self, synthesizer: Synthesizer, executor: Executor, playback: PlaybackClock,
                 emit: Callable[[Event], None], heard: Callable[[int], None] = lambda turn_id: None) -> None:
        self.synthesizer = synthesizer
        self.executor = executor
        self.playback = playback
        self._emit = emit
        self._heard = heard
        """Called with a turn's id once its first audio is out."""

    async def say(self, turn: Turn, chunk: SpeechChunk) -> None:
        synth = self.synthesizer
        # The reply's first words go first on the cores: the person waits for them. Later chunks
        # do not: with three sessions telling stories, every chunk first starved the LLM, which
        # then kept two of them silent for over 15 s (bench echo).
        urgent = "first_audio" not in turn.clock.marks
        async for frame in iterate_in_thread(
                lambda stop: synth.frames(chunk.text, AnyOf(stop, turn.stop_signal), urgent), executor=self.executor):
            await self.playback.wait_to_send(turn)
            if turn.cancelled:
                return
            first = "first_audio" not in turn.clock.marks
            turn.clock.mark("first_audio")
            self._emit(ReplyAudio(turn.id, float_to_pcm16(frame.audio), synth.sample_rate))
            self.playback.sent(turn, frame.audio, chunk.offset + frame.spoken_chars)
            if first:
                self._heard(turn.id)
