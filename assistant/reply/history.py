"""Conversation memory: the exchanges so far, which the LLM reads as chat messages."""

from __future__ import annotations

from dataclasses import dataclass, field

from .llm import Message


@dataclass
class Exchange:
    """One user request and the assistant's reply, which may grow or be cut after the fact."""

    user: str
    assistant: str = ""


@dataclass
class History:
    """Conversation memory, bounded to the last ``max_turns`` exchanges.

    The window moves in blocks: past ``max_turns`` the oldest ``drop`` exchanges go
    at once. The LLM's cached prompt is valid up to the first changed token, so a
    window that dropped one exchange every turn made every LLM turn re-prefill the
    whole history (1.4-2.3 s to the first token, measured); now that happens once
    every ``drop`` turns, and in the background (:meth:`Responder.prefill`).
    """

    max_turns: int = 8
    drop: int = 4
    exchanges: list[Exchange] = field(default_factory=list)
    instructions: str = ""
    """What the client asked the assistant to keep in mind (read with the system prompt)."""

    def add(self, user: str, assistant: str = "") -> Exchange:
        """Append an exchange (moving the window past ``max_turns``) and return it for later edits."""
        ex = Exchange(user, assistant)
        self.exchanges.append(ex)
        if len(self.exchanges) > self.max_turns:
            del self.exchanges[: max(self.drop, len(self.exchanges) - self.max_turns)]
        return ex

    def make_room(self) -> None:
        """Move the window now if the next exchange would overflow it (at the end of a turn, so
        that the moved window is prefilled in the background, not when the next turn begins)."""
        if len(self.exchanges) >= self.max_turns:
            del self.exchanges[: self.drop]

    def remove(self, ex: Exchange | None) -> None:
        """Take ``ex`` out (a request that the person went on with: it is asked again, whole)."""
        self.exchanges = [e for e in self.exchanges if e is not ex]

    def before(self, ex: Exchange | None) -> History:
        """The history up to, not including, ``ex`` (all of it for None)."""
        idx = next((i for i, e in enumerate(self.exchanges) if e is ex), len(self.exchanges))
        return History(self.max_turns, self.drop, self.exchanges[:idx], self.instructions)

    @property
    def messages(self) -> list[Message]:
        """Chat messages, oldest first (an exchange with no reply yet contributes its request only)."""
        out = []
        for e in self.exchanges:
            out.append(Message("user", e.user))
            if e.assistant:
                out.append(Message("assistant", e.assistant))
        return out
