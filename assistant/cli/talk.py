"""``assistant talk``: a conversation from the terminal, with a microphone and a speaker or with wav files.

With devices, sounddevice captures the microphone (16 kHz) and plays replies; the
terminal shows the live transcript, the intent and the timings. Barge-in works
as in the browser (headphones recommended; ``--half-duplex`` mutes the
microphone while the assistant speaks, for open speakers). ``--input`` and
``--output`` run the same conversation from and into wav files, with no audio
device at all. ``--server`` talks to a running ``assistant serve`` instead of
loading the models in this process.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import load_audio, write_wav
from ..bench.pacing import silence
from ..config import INPUT_SAMPLE_RATE
from ..errors import AssistantError


def _print_event(ev: dict[str, Any]) -> None:
    kind = ev.get("type")
    if kind == "conversation.item.input_audio_transcription.partial":
        print(f"\r  … {ev['stable']} {ev['unstable']}"[:100].ljust(100), end="", flush=True)
    elif kind == "conversation.item.input_audio_transcription.completed" and ev.get("transcript"):
        print(f"\r you: {ev['transcript']}".ljust(100))
    elif kind == "assistant.understood" and ev.get("decided_by") != "llm":
        conf = ev.get("confidence")
        print(f"      intent {ev['intent']} {'' if conf is None else f'{conf:.2f}'} → {ev['route']}")
    elif kind == "response.done":
        m = ev.get("metrics", {})
        print(f" bot: {ev['text']}")
        print("      " + ", ".join(f"{k}={v:.0f}" for k, v in m.items() if isinstance(v, (int, float)) and k.endswith("_ms")))
    elif kind == "interrupt":
        print(f"\n      (interrupted after: {ev['heard_text']!r})")
    elif kind == "error":
        print(f"      error: {ev['message']}", file=sys.stderr)


async def _connect(server: str | None) -> Any:
    from ..api import Assistant
    from ..bench.simclient import InProcess, WebSocket

    if server:
        try:
            return await WebSocket.connect(server)
        except OSError as err:
            raise AssistantError(f"cannot reach {server}: {err}") from None
    print("loading models …", file=sys.stderr, flush=True)
    bot = Assistant().load(progress=lambda msg: print(f"  {msg}", file=sys.stderr, flush=True))
    session = bot.session()
    await session.start()
    return InProcess(session)


async def talk_files(input_path: str, output_path: str, server: str | None) -> int:
    """Play ``input_path`` as the microphone (real-time pace); write what the assistant said."""
    from ..bench.simclient import SimulatedClient

    audio = load_audio(input_path)
    if not Path(output_path).expanduser().resolve().parent.is_dir():
        raise AssistantError(f"output folder does not exist: {Path(output_path).parent}")
    client = SimulatedClient(await _connect(server))
    await client.start()
    shown = 0
    try:
        await client.stream(np.concatenate([audio, silence(0.5)]))
        for _ in range(300):  # up to 60 s for the replies to finish
            for r in client.log[shown:]:
                _print_event(r.event)
            shown = len(client.log)
            done = client.events_of("response.done")
            started = client.events_of("input_audio_buffer.speech_started")
            if started and len(done) >= len(client.events_of("assistant.understood")) and done and not client.playing():
                break
            await client.stream(silence(0.2))
        for r in client.log[shown:]:
            _print_event(r.event)
    finally:
        await client.close()
    reply = np.concatenate(client.audio) if client.audio else np.zeros(0, np.float32)
    write_wav(output_path, reply, client.out_rate)
    print(f"wrote {output_path}: {len(reply) / client.out_rate:.2f} s of replies")
    if not client.events_of("response.done"):
        raise AssistantError(f"no reply: was there a spoken request in {input_path}?")
    return 0


async def talk_devices(server: str | None, half_duplex: bool) -> int:
    """Microphone and speaker through sounddevice."""
    try:
        import sounddevice as sd
    except OSError:
        raise AssistantError(
            "the PortAudio library is missing: install it (`apt-get install libportaudio2`), "
            "or run without devices: `assistant talk --input request.wav --output reply.wav`"
        ) from None
    try:
        sd.query_devices(kind="input")
        sd.query_devices(kind="output")
    except (sd.PortAudioError, ValueError):
        raise AssistantError(
            "no microphone or speaker found; run without devices: "
            "`assistant talk --input request.wav --output reply.wav`"
        ) from None
    transport = await _connect(server)
    loop = asyncio.get_running_loop()
    mic: asyncio.Queue[bytes] = asyncio.Queue()
    play = bytearray()
    holding = False  # the reply is paused: keep its queued audio, play nothing
    rate = 22050

    def on_mic(indata: np.ndarray, frames: int, _t: Any, _status: Any) -> None:
        if half_duplex and play:
            return
        loop.call_soon_threadsafe(mic.put_nowait, bytes(indata))

    def on_speaker(outdata: np.ndarray, frames: int, _t: Any, _status: Any) -> None:
        n = 0 if holding else min(len(play), frames * 2)
        outdata[: n // 2, 0] = np.frombuffer(bytes(play[:n]), dtype="<i2")
        outdata[n // 2 :, 0] = 0
        del play[:n]

    print("talk now (Ctrl-C to stop). Headphones avoid echo; --half-duplex for open speakers.", file=sys.stderr)

    async def receive() -> None:
        nonlocal rate, holding
        async for ev, pcm in transport.events():
            if ev.get("type") == "session.created":
                rate = int(ev["output_sample_rate"])
            if pcm is not None:
                play.extend(pcm)
                continue
            if ev.get("type") in ("response.paused", "response.resumed"):
                holding = ev["type"] == "response.paused"
            if ev.get("type") == "interrupt":
                play.clear()
                holding = False
            _print_event(ev)

    receiver = asyncio.create_task(receive())
    with sd.InputStream(samplerate=INPUT_SAMPLE_RATE, channels=1, dtype="int16", blocksize=320, callback=on_mic), \
            sd.OutputStream(samplerate=rate, channels=1, dtype="int16", blocksize=441, callback=on_speaker):
        try:
            while not receiver.done():
                await transport.send_audio(await mic.get())
        finally:
            receiver.cancel()
            await transport.close()
    return 0
