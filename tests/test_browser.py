"""The browser page in real headless Chromium, with a sample wav as the microphone.

Chromium's fake capture device plays the file in a loop as the microphone; the
page streams it to a real server, and must show the transcript and play the reply.
A screenshot is saved to artifacts/browser.png either way, for inspection.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from assistant import Assistant, load_audio
from assistant.serve.server import start_server
from conftest import ROOT, SAMPLES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "artifacts"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")


@pytest.fixture(scope="module")
def server_url(assistant: Assistant) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, object] = {}

    async def main() -> None:
        server = await start_server(assistant, port=0)
        box["port"] = server.sockets[0].getsockname()[1]
        box["server"] = server
        ready.set()
        await server.serve_forever()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    assert ready.wait(30)
    yield f"http://127.0.0.1:{box['port']}/"
    loop.call_soon_threadsafe(box["server"].close)  # type: ignore[attr-defined]
    thread.join(timeout=10)


@contextlib.contextmanager
def page_with_mic(url: str, mic: Path, screenshot: str) -> Iterator[tuple[Any, list[str]]]:
    """Headless Chromium on the page, ``mic`` as its microphone; yields (page, page errors)."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={mic}", "--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(url)
            yield page, errors
        finally:
            page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
            browser.close()


def test_page_hears_the_microphone_and_plays_the_reply(server_url: str, tmp_path: Path) -> None:
    mic = tmp_path / "mic.wav"
    speech = load_audio(SAMPLES / "what_time_is_it.wav")
    sf.write(mic, np.concatenate([np.zeros(8000, np.float32), speech, np.zeros(16000 * 6, np.float32)]), 16000)
    with page_with_mic(server_url, mic, "browser.png") as (page, errors):
        page.click("#start")
        page.wait_for_selector(".turn .final", timeout=30_000)
        page.wait_for_function("document.querySelector('.turn .final').textContent.length > 3", timeout=30_000)
        final = page.inner_text(".turn .final")
        assert "time" in final.lower(), final
        page.wait_for_function("window.assistantStats.playedSamples > 11025", timeout=30_000)  # 0.5 s played
        assert page.evaluate("window.assistantStats.audioFramesReceived") > 10
        assert "It's" in page.inner_text(".turn .reply .text")
        assert not errors, errors


def test_a_typed_message_is_answered_without_the_microphone(server_url: str, tmp_path: Path) -> None:
    mic = tmp_path / "silence.wav"
    sf.write(mic, np.zeros(16000, np.float32), 16000)
    with page_with_mic(server_url, mic, "browser-typed.png") as (page, errors):
        page.fill("#text", "What is 12 times 3?")
        page.press("#text", "Enter")
        page.wait_for_selector(".turn.typed", timeout=30_000)
        assert page.inner_text(".turn.typed .final") == "What is 12 times 3?"
        page.wait_for_function("window.assistantStats.playedSamples > 11025", timeout=60_000)
        reply = page.inner_text(".turn.typed .reply .text")
        assert "36" in reply or "thirty-six" in reply.lower(), reply
        assert page.evaluate("window.assistantStats.framesSent") == 0  # no microphone was opened
        assert not errors, errors
