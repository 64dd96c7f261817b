"""A reply begun at a pause, before its turn is sure.

At the first pause (the speculative final) a person has usually finished, but the endpoint
still waits: 300 ms when the turn judge is sure, 1.1-2 s where the words or the prosody trail
off (espeak-ng questions in ``bench latency`` waited 1.1-1.9 s). By then an LLM turn's
prompt is known (the n-best re-ranked and previewed), so the LLM starts writing the reply
into a buffer. If the turn then asks for exactly that prompt it takes the buffer, and the
generation goes on for it; otherwise, or once the person speaks again, the speculation is
stopped (one token later). Nothing of it is spoken unless its turn takes it.

A speculation holds the LLM (one context for every session), so one that nobody takes stops
itself after ``unclaimed_s``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from ..threads import Cancelled
from .llm import LLMBackend, Message

#: An untaken speculation stops after this long: past the longest endpoint wait (2 s after the
#: pause) and the final's understanding.
UNCLAIMED_S = 3.0


class Speculation:
    """One speculative generation, written by a thread of its own into a buffer."""

    def __init__(self, llm: LLMBackend, messages: list[Message], unclaimed_s: float = UNCLAIMED_S) -> None:
        self.messages = messages
        self._deadline = time.monotonic() + unclaimed_s
        self._state = threading.Condition()
        self._pieces: list[str] = []
        self._stopped = self._taken = self._ended = False
        self._error: Exception | None = None
        threading.Thread(target=self._write, args=(llm,), name="speculation", daemon=True).start()

    @property
    def taken(self) -> bool:
        """A turn took this reply over."""
        return self._taken

    def is_set(self) -> bool:
        """The generation's stop signal: stopped, or not taken in time (then for good)."""
        with self._state:
            if not self._taken and not self._stopped and time.monotonic() > self._deadline:
                self._stopped = True
            return self._stopped

    def stop(self) -> None:
        """Stop writing (a no-op once the reply is written)."""
        with self._state:
            self._stopped = True
            self._state.notify_all()

    def take(self, messages: list[Message], cancel: Cancelled) -> Iterator[str] | None:
        """The reply to ``messages``, if this is its speculation: what is written so far, then the
        rest as it comes. None (and stopped) where the prompt differs or it has stopped."""
        with self._state:
            if self._stopped or messages != self.messages:
                self._stopped = True
                return None
            self._taken = True
        return self._pieces_for(cancel)

    def _pieces_for(self, cancel: Cancelled) -> Iterator[str]:
        i = 0
        try:
            while not cancel.is_set():
                with self._state:
                    if len(self._pieces) <= i and not self._ended:
                        self._state.wait(0.05)  # a piece, the end, or look at ``cancel`` again
                    ready, ended = self._pieces[i:], self._ended
                i += len(ready)
                yield from ready
                if ended and not ready:
                    if self._error is not None:
                        raise self._error
                    return
        finally:  # the consumer left or was cancelled: the LLM stops too
            self.stop()

    def _write(self, llm: LLMBackend) -> None:
        try:
            for piece in llm.stream(self.messages, self):
                with self._state:
                    self._pieces.append(piece)
                    self._state.notify_all()
        except Exception as err:  # the turn that takes it raises it, as its own stream would
            self._error = err
        finally:
            with self._state:
                self._ended = True
                self._state.notify_all()
