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
from typing import Any, Protocol, cast

from ..config import LLMConfig
from ..threads import Cancelled


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: str  # "system" | "user" | "assistant"
    content: str


class LLMBackend(Protocol):
    """Streams the reply to a chat, token by token."""

    def stream(
        self, messages: list[Message], cancel: Cancelled, grammar: str | None = None, max_tokens: int | None = None
    ) -> Iterator[str]:
        """Yield text pieces until done or until ``cancel`` is set.

        ``grammar`` (GBNF) constrains the output where the backend supports it
        (llama.cpp does, locally and as a server); callers still validate.
        """
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

    def stream(
        self, messages: list[Message], cancel: Cancelled, grammar: str | None = None, max_tokens: int | None = None
    ) -> Iterator[str]:
        from llama_cpp import LlamaGrammar

        with self._lock:
            chunks: Any = self._llama.create_chat_completion(
                messages=cast(Any, [{"role": m.role, "content": m.content} for m in messages]),
                max_tokens=max_tokens or self.config.max_tokens,
                temperature=self.config.temperature,
                grammar=LlamaGrammar.from_string(grammar, verbose=False) if grammar else None,
                stream=True,
            )
            for chunk in chunks:
                if cancel.is_set():
                    break
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta


class OpenAICompatibleLLM:
    """Any OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM, llama.cpp's server, ...).

    This is how a deployment scales out: many assistant replicas share one served
    model. Streams server-sent events with the standard library's HTTP client.
    """

    def __init__(self, url: str, config: LLMConfig, model: str = "default", timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.config = config
        self.model = model
        self.timeout = timeout

    def stream(
        self, messages: list[Message], cancel: Cancelled, grammar: str | None = None, max_tokens: int | None = None
    ) -> Iterator[str]:
        import json
        import urllib.error
        import urllib.request

        body: dict[str, object] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens or self.config.max_tokens,
            "temperature": self.config.temperature,
            "stream": True,
        }
        if grammar:
            body["grammar"] = grammar  # llama.cpp's server honours it; others ignore unknown fields
        req = urllib.request.Request(
            f"{self.url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "text/event-stream"},
        )
        try:
            resp = urllib.request.urlopen(req, timeout=self.timeout)
        except (urllib.error.URLError, OSError) as err:
            raise ConnectionError(f"LLM endpoint {self.url} is unreachable: {err}") from None
        with resp:
            for raw in resp:
                if cancel.is_set():
                    return
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                delta = json.loads(data)["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta
