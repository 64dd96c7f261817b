"""Language-model backends behind one streaming interface.

The local backend runs a GGUF with llama-cpp-python. llama-cpp-python keeps the
KV cache of the previous prompt and reuses its longest matching prefix, so a
fixed system prompt is prefilled once and later turns only pay for their own
tokens. :meth:`LocalLLM.prefill` moves that cache ahead of the conversation: the
history after a turn, and the words a person has said so far, are evaluated in the
background, so a turn's prompt is mostly cached when it comes (on an AVX2 CPU the 1.5B
evaluates a prompt at ~22 ms a token: 59 more tokens cost 1.3 s, measured).

When the history window moves (``History`` drops its oldest exchanges in a block), the
new prompt is the cached one with a stretch cut out after the system prompt. Instead of
evaluating everything after the cut again (99-130 tokens in ``bench latency``), the
stretch is removed from the KV cache and the rest shifted back: llama.cpp's context
shift, as its server does when a context fills. The kept tokens were computed with the
dropped ones in view; llama.cpp accepts that, and so do we.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from ..config import LLMConfig
from ..cores import CorePriority
from ..errors import ModelError
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

    def prefill(self, messages: list[Message], open_user: str | None = None) -> int:
        """Evaluate the prompt these messages begin, ahead of the turn that will use it.

        The prefix ends where the next user message's text begins, or, with
        ``open_user``, after those first words of it (what the person has said so far).
        Returns the tokens evaluated (0 where the backend has nothing to warm or was busy).
        """
        ...


#: Marks where the next message's text goes when a prompt prefix is cut from the chat template.
_CUT = "\x00"


class LocalLLM:
    """llama-cpp-python on a local GGUF file; one generation at a time."""

    def __init__(self, model_path: Path, config: LLMConfig, cores: CorePriority | None = None) -> None:
        from llama_cpp import Llama

        self.config = config
        # Its next token and its next prefill slice wait while a voice is being synthesised.
        self.cores = cores or CorePriority()
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
        # Generations waiting for the lock: a background prefill gives way to them.
        self._waiting = 0
        self._count = threading.Lock()
        self._format = _chat_formatter(self._llama)

    def stream(
        self, messages: list[Message], cancel: Cancelled, grammar: str | None = None, max_tokens: int | None = None
    ) -> Iterator[str]:
        from llama_cpp import LlamaGrammar

        with self._count:
            self._waiting += 1
        try:
            self._lock.acquire()
        finally:
            with self._count:
                self._waiting -= 1
        try:
            chat = [{"role": m.role, "content": m.content} for m in messages]
            self._cut_dropped(self._llama.tokenize(self._format(messages=chat).prompt.encode("utf-8"),
                                                   add_bos=False, special=True))
            chunks: Any = self._llama.create_chat_completion(
                messages=cast(Any, chat),
                max_tokens=max_tokens or self.config.max_tokens,
                temperature=self.config.temperature,
                grammar=LlamaGrammar.from_string(grammar, verbose=False) if grammar else None,
                stream=True,
            )
            while not cancel.is_set():
                with self.cores.step():  # a token (the first: the prompt too) is computed here
                    chunk = next(chunks, None)
                if chunk is None:
                    break
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta
        finally:
            self._lock.release()

    # Evaluated in slices this long, so that a generation waiting for the lock waits at most
    # one slice (~0.4 s on a 2-core AVX2 CPU).
    PREFILL_SLICE = 16
    # A cut is made only where this many tokens after the common prefix are found further on
    # in the cache (a message boundary and more: no accidental match).
    CUT_PROBE = 12

    def _cut_dropped(self, tokens: list[int]) -> int:
        """Where the cache holds ``tokens`` except for a stretch after their common prefix (the
        history window moved), remove that stretch from the KV cache and shift the rest back.
        Returns the tokens cut (0: no such stretch). Called with the lock held."""
        import llama_cpp

        llama = self._llama
        cached = llama._input_ids.tolist()
        keep = llama.longest_token_prefix(cached, tokens)
        probe = tokens[keep : keep + self.CUT_PROBE]
        if len(probe) < self.CUT_PROBE or len(cached) - keep <= len(probe):
            return 0
        ctx = llama._ctx
        if ctx.memory is None or not llama_cpp.llama_memory_can_shift(ctx.memory):
            return 0
        start = next((i for i in range(keep + 1, len(cached) - len(probe) + 1)
                      if cached[i] == probe[0] and cached[i : i + len(probe)] == probe), None)
        if start is None:
            return 0
        end = len(cached)
        gap = start - keep
        ctx.kv_cache_seq_rm(0, keep, start)
        ctx.kv_cache_seq_shift(0, start, end, -gap)
        llama.input_ids[keep : end - gap] = llama.input_ids[start:end]
        llama.n_tokens = end - gap
        return gap

    def prefill(self, messages: list[Message], open_user: str | None = None) -> int:
        chat = [{"role": m.role, "content": m.content} for m in messages]
        chat.append({"role": "user", "content": (open_user or "") + _CUT})
        text = self._format(messages=chat).prompt
        text = text[: text.index(_CUT)]
        if not self._lock.acquire(blocking=False):
            return 0  # a generation runs: it moves the cache itself
        try:
            llama = self._llama
            tokens = llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            self._cut_dropped(tokens)
            keep = llama.longest_token_prefix(llama._input_ids.tolist(), tokens)
            if keep == len(tokens) or len(tokens) + self.config.max_tokens >= self.config.n_ctx:
                return 0
            llama.n_tokens = keep  # eval() drops the KV cache from here on
            done = 0
            for at in range(keep, len(tokens), self.PREFILL_SLICE):
                self.cores.give_way()
                if self._waiting:
                    break
                piece = tokens[at: at + self.PREFILL_SLICE]
                llama.eval(piece)
                done += len(piece)
            return done
        finally:
            self._lock.release()


def _chat_formatter(llama: Any) -> Any:
    """The GGUF's own chat template, as llama-cpp-python renders it for a chat completion."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def token_text(token: int) -> str:
        return llama.detokenize([token], special=True).decode("utf-8", "replace") if token != -1 else ""

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise ModelError("the GGUF has no chat template (tokenizer.chat_template); use an instruct model")
    return Jinja2ChatFormatter(template=template, eos_token=token_text(llama.token_eos()),
                               bos_token=token_text(llama.token_bos()))


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

    def reachable(self, timeout_s: float = 2.0) -> str | None:
        """None when the endpoint answers ``GET /models``; else why not (for a readiness check)."""
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.url}/models", timeout=timeout_s) as resp:
                return None if resp.status == 200 else f"GET {self.url}/models answered {resp.status}"
        except (urllib.error.URLError, OSError) as err:
            return f"LLM endpoint {self.url} is unreachable: {err}"

    def prefill(self, messages: list[Message], open_user: str | None = None) -> int:
        # A served model keeps its own prompt cache per slot; which slot the next
        # request lands on is the server's choice, so there is nothing to warm here.
        return 0
