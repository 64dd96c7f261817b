"""Who gets the two cores first: the voice a person is about to hear.

Everything runs on the same two cores. The LLM decodes with both, and so does Piper; run
together, each goes at about half speed. For the LLM that costs nothing a person notices:
it writes ~14 tokens (~10 words) a second and a voice speaks ~2.5 words a second, so it is
well ahead after its first clause. For the voice it is the wait before the first word, and a
gap between chunks (the speaker keeps only 200 ms of audio ahead). Measured in ``bench
latency`` on a 2-core AMD EPYC: Piper's first audio of a reply took 270-375 ms beside the
LLM's decode and 450-620 ms beside a prefill of the history, against 110-130 ms alone.

So the synthesis of a reply's first words is :meth:`CorePriority.urgent` work. The LLM's
decode runs in :meth:`~CorePriority.step` s (one token each), which wait while urgent work
runs; urgent work lets a step under way finish first (one token, 70-120 ms here) rather than
share the cores with it. A prefill gives way between its slices
(:meth:`~CorePriority.give_way`); a slice under way is not waited for (16 tokens take 0.4-0.7
s). Every wait is bounded: a hung synthesis never stalls the LLM for good. One object per
process, shared by every session: the cores are. Only the first words, because of that: when
every chunk was urgent, three sessions telling stories at once held the LLM back so long that
two of them had said nothing after 15 s (``bench echo``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class CorePriority:
    """Urgent work goes first; background work yields to it between its steps."""

    def __init__(self, max_wait_s: float = 0.5, step_wait_s: float = 0.15) -> None:
        self.max_wait_s = max_wait_s
        """The longest background work waits for urgent work."""
        self.step_wait_s = step_wait_s
        """The longest urgent work waits for a background step under way to finish."""
        self._urgent = 0
        self._stepping = 0
        self._changed = threading.Condition()

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Run the body as urgent work (from any thread; may nest and overlap)."""
        with self._changed:
            self._urgent += 1
            self._changed.wait_for(lambda: not self._stepping, timeout=self.step_wait_s)
        try:
            yield
        finally:
            with self._changed:
                self._urgent -= 1
                self._changed.notify_all()

    @contextmanager
    def step(self) -> Iterator[None]:
        """Run the body as one short step of background work, once no urgent work runs."""
        with self._changed:
            self._changed.wait_for(lambda: not self._urgent, timeout=self.max_wait_s)
            self._stepping += 1
        try:
            yield
        finally:
            with self._changed:
                self._stepping -= 1
                self._changed.notify_all()

    def give_way(self) -> None:
        """Wait while urgent work runs (at most ``max_wait_s``), between longer pieces of work."""
        if self._urgent:
            with self._changed:
                self._changed.wait_for(lambda: not self._urgent, timeout=self.max_wait_s)
