"""The OpenAI-compatible backend against a real server: llama.cpp's own, on the same GGUF."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from assistant import Assistant
from assistant.config import LLMConfig
from assistant.reply.llm import Message, OpenAICompatibleLLM
from assistant.reply.prompt import intent_grammar


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(assistant: Assistant) -> Iterator[str]:
    port = free_port()
    gguf = assistant.store.path_for("llm")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "1024", "--n_threads", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy(),
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("llama_cpp.server exited during start-up")
                time.sleep(0.5)
        else:
            pytest.fail("llama_cpp.server did not start within 120 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_streams_a_reply_from_a_served_model(llama_server: str) -> None:
    llm = OpenAICompatibleLLM(llama_server, LLMConfig(max_tokens=40))
    pieces = list(llm.stream([Message("user", "What is the capital of France? One short sentence.")], threading.Event()))
    assert len(pieces) > 1 and "paris" in "".join(pieces).lower()


def test_grammar_is_honoured_by_the_server(llama_server: str) -> None:
    llm = OpenAICompatibleLLM(llama_server, LLMConfig(max_tokens=30))
    grammar = intent_grammar(["weather_query", "alarm_set"])
    out = "".join(llm.stream([Message("user", "Wake me at 7. Which intent?")], threading.Event(), grammar=grammar))
    assert out.startswith("intent: ") and out.split("\n")[0].split(": ")[1] in {"weather_query", "alarm_set", "out_of_scope"}


def test_unreachable_endpoint_is_a_clear_error() -> None:
    llm = OpenAICompatibleLLM(f"http://127.0.0.1:{free_port()}/v1", LLMConfig())
    with pytest.raises(ConnectionError, match="unreachable"):
        list(llm.stream([Message("user", "hi")], threading.Event()))
