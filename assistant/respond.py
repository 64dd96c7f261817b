"""Writing the reply: a fixed system prompt, bounded history, a streamed LLM answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from .llm import LLMBackend, Message

# Fixed across turns and sessions so the backend's prompt cache is reused.
SYSTEM_PROMPT = (
    "You are a friendly voice assistant. The user speaks to you and hears your reply "
    "read aloud. Answer in one or two short, plain spoken sentences. No lists, no "
    "markdown, no code, no emojis. You cannot see a clock, browse the internet or "
    "control devices, so never pretend to; say so briefly. If you do not know, say so."
)


@dataclass
class History:
    """Conversation memory, bounded to the last ``max_turns`` exchanges."""

    max_turns: int = 4
    messages: list[Message] = field(default_factory=list)

    def add(self, user: str, assistant: str) -> None:
        self.messages += [Message("user", user), Message("assistant", assistant)]
        del self.messages[: max(0, len(self.messages) - 2 * self.max_turns)]


class Responder:
    """Turns what the person said into a streamed reply."""

    def __init__(self, llm: LLMBackend) -> None:
        self.llm = llm

    def prompt(self, user_text: str, history: History) -> list[Message]:
        """The messages sent to the LLM for this turn."""
        return [Message("system", SYSTEM_PROMPT), *history.messages, Message("user", user_text)]

    def stream(self, user_text: str, history: History, cancel: threading.Event) -> Iterator[str]:
        """Yield reply text pieces as the LLM writes them."""
        yield from self.llm.stream(self.prompt(user_text, history), cancel)
