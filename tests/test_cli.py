"""The command line, end to end through the real models, and its input errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assistant import Assistant, load_audio
from assistant.audio import rms_dbfs
from assistant.listen.vad import Endpointer, FrameVAD, Utterance
from assistant.textnorm import normalise_for_wer
from conftest import ROOT, SAMPLES, sample_transcripts


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], capture_output=True, text=True, cwd=ROOT,
        env=os.environ.copy(), timeout=timeout,
    )


def test_respond_writes_a_spoken_reply_and_prints_timings(assistant: Assistant, tmp_path: Path) -> None:
    name = "turn_on_the_living_room_lamp.wav"
    out = tmp_path / "reply.wav"
    res = run_cli("respond", str(SAMPLES / name), str(out))
    assert res.returncode == 0, res.stderr
    said = next(line for line in res.stdout.splitlines() if line.startswith("you said:"))
    assert normalise_for_wer(said.split(":", 1)[1]) == normalise_for_wer(sample_transcripts()[name])
    assert "assistant:" in res.stdout and "response_ms=" in res.stdout and "asr_final_ms=" in res.stdout

    info = sf.info(out)
    assert info.samplerate == 22050 and info.channels == 1 and info.duration > 0.5
    reply = load_audio(out)  # 16 kHz for the checks below
    assert rms_dbfs(reply) > -35  # not silent
    # It is speech: the VAD finds an utterance and Whisper hears words in it.
    ep = Endpointer(FrameVAD(assistant.silero_path, assistant.config.vad), assistant.config.vad)
    assert any(isinstance(e, Utterance) for e in ep.feed(reply) + ep.flush())
    assert len(assistant.recognizer.transcribe(reply).text.split()) >= 2


def test_transcribe_and_say(tmp_path: Path) -> None:
    res = run_cli("transcribe", str(SAMPLES / "go_forward_ten_meters.wav"))
    assert res.returncode == 0, res.stderr
    assert normalise_for_wer(res.stdout) == "go forward ten meters"
    out = tmp_path / "hello.wav"
    res = run_cli("say", "Hello there, how are you?", str(out))
    assert res.returncode == 0, res.stderr
    assert "first audio after" in res.stdout
    assert sf.info(out).samplerate == 22050


def test_stereo_44k_input_is_converted(tmp_path: Path) -> None:
    import soxr

    mono = load_audio(SAMPLES / "go_forward_ten_meters.wav")
    up = soxr.resample(mono, 16000, 44100)
    path = tmp_path / "stereo44k.wav"
    sf.write(path, np.stack([up, up], axis=1), 44100)
    res = run_cli("transcribe", str(path))
    assert res.returncode == 0, res.stderr
    assert normalise_for_wer(res.stdout) == "go forward ten meters"


@pytest.mark.parametrize(
    "args, message",
    [
        (["respond", "no/such/file.wav", "/tmp/x.wav"], "audio file not found"),
        (["transcribe", "pyproject.toml"], "not a readable audio file"),
        (["respond", str(SAMPLES / "go_forward_ten_meters.wav"), "/no/such/dir/out.wav"], "output folder does not exist"),
        (["say", "   ", "/tmp/x.wav"], "nothing to say"),
    ],
)
def test_input_errors_are_one_clear_line(args: list[str], message: str) -> None:
    res = run_cli(*args)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr


def test_respond_on_silence_says_no_speech(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(32000, dtype=np.float32), 16000)
    res = run_cli("respond", str(path), str(tmp_path / "out.wav"))
    assert res.returncode == 2 and "no speech" in res.stderr and "Traceback" not in res.stderr


def test_transcribe_stream_prints_partials_and_nbest_final() -> None:
    res = run_cli("transcribe", "--stream", "--fast", str(ROOT / "tests/data/jfk_ask_not.wav"))
    assert res.returncode == 0, res.stderr
    assert "partial" in res.stdout and "final, ready" in res.stdout
    assert "fellow americans" in res.stdout.lower()


def test_bench_asr_json_last_line(tmp_path: Path) -> None:
    import json

    res = run_cli("bench", "asr", "--manifest", str(ROOT / "tests/data/manifest.tsv"), "--fast", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert {"files", "wer", "wer_offline", "final_latency_ms_p50", "final_latency_ms_p95",
            "partial_interval_ms_p50", "rtf"} <= set(out)
    assert out["files"] == 3 and out["wer"] <= 0.2
    bad = tmp_path / "bad.tsv"
    bad.write_text("path\ttext\nx.wav\thello\n")
    res = run_cli("bench", "asr", "--manifest", str(bad))
    assert res.returncode == 2 and "'file' and 'transcript'" in res.stderr


def test_talk_from_and_to_wav_files_without_audio_devices(tmp_path: Path) -> None:
    out = tmp_path / "reply.wav"
    res = run_cli("talk", "--input", str(SAMPLES / "twelve_times_seven.wav"), "--output", str(out))
    assert res.returncode == 0, res.stderr
    assert "you: What is 12 times 7?" in res.stdout and "eighty-four" in res.stdout
    assert sf.info(out).duration > 1.0


def test_talk_without_devices_says_what_to_do() -> None:
    res = run_cli("talk", timeout=120)
    assert res.returncode == 2 and "--input" in res.stderr and "Traceback" not in res.stderr


def test_bench_turns_reports_both_modes_side_by_side() -> None:
    import json

    # One trailing request ("Set a timer for" ... "ten minutes.") with a 1 s thinking pause, and
    # the same request unbroken: the fixed endpoint cuts the first off; both modes are reported.
    res = run_cli("bench", "turns", "--limit", "1", "--pauses", "0,1000", "--voices", "piper", "--recordings", "",
                  "--json")
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["requests"] == 1 and out["sentences"] == "test"
    for mode in ("server_vad", "semantic_vad"):
        assert {"cut_off_rate_0", "cut_off_rate_1000", "whole_rate_1000", "complete_latency_ms_p50",
                "complete_waited_max_rate", "trials"} <= set(out[mode])
    assert out["server_vad"]["cut_off_rate_1000"] == 1.0  # 300 ms of silence ends the turn mid-request
    assert "semantic_extra_latency_ms_p50" in out


def test_bench_intent_speech_reports_nbest_1best_text_and_latency(tmp_path: Path) -> None:
    """Our own sentences spoken by espeak-ng in white noise, through the real recogniser and models."""
    import json

    rows = [("wake me up at seven tomorrow", "alarm_set", "wake me up at [time : seven] [date : tomorrow]"),
            ("what's the weather like in paris", "weather_query", "what's the weather like in [place_name : paris]"),
            ("play some jazz music", "play_music", "play some [music_genre : jazz] music")]
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps({"sentence": s, "intent": i, "sentence_annotation": a}) + "\n"
                            for s, i, a in rows))
    res = run_cli("bench", "intent", "--data", str(data), "--mode", "speech", "--snr", "20", "--no-llm", "--json")
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["n"] == 3 and out["noise"] == "white" and out["encoder_runtime"] == "onnxruntime"
    assert out["accuracy_text"] == 1.0 and out["accuracy_classifier"] >= 2 / 3  # 20 dB: espeak is mostly heard
    assert {"accuracy_1best", "slot_f1", "slot_f1_text", "latency_ms_p50", "latency_ms_p50_5best", "lists_of_5"} <= set(out)
    res = run_cli("bench", "intent", "--data", str(data), "--mode", "speech", "--noise", "pink", "--no-llm")
    assert res.returncode == 2 and "invalid choice: 'pink'" in res.stderr and "Traceback" not in res.stderr
