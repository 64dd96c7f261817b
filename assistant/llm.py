"""Language-model backends behind one streaming interface.

The local backend runs a GGUF with llama-cpp-python. llama-cpp-python keeps the
KV cache of the previous prompt and reuses its longest matching prefix, so a
fixed system prompt is prefilled once and later turns only pay for their own
tokens.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .config import LLMConfig


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: str  # "system" | "user" | "assistant"
    content: str


class LLMBackend(Protocol):
    """Streams the reply to a chat, token by token."""

    def stream(self, messages: list[Message], cancel: threading.Event) -> Iterator[str]:
        """Yield text pieces until done or until ``cancel`` is set."""
        ...


class LocalLLM:
    """llama-cpp-python on a local GGUF file; one generation at a time."""

    def __init__(self, model_path: Path, config: LLMConfig) -> None:
        from llama_cpp import Llama

        self.config = config
        self._llama = Llama(
            model_path=str(model_path),
            n_ctx=config.n_ctx,
            n_threads=config.n_threads,
            n_batch=256,
            seed=config.seed,
            verbose=False,
        )
        # llama.cpp contexts are not thread-safe; sessions take turns.
        self._lock = threading.Lock()

    def stream(self, messages: list[Message], cancel: threading.Event) -> Iterator[str]:
        with self._lock:
            chunks = self._llama.create_chat_completion(
                messages=[{"role": m.role, "content": m.content} for m in messages],
                max_tokens=self.config.max_tokens,
                temperature=self.config.temperature,
                stream=True,
            )
            for chunk in chunks:
                if cancel.is_set():
                    break
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta
