"""Understanding trained on the recogniser's own hypotheses: the data, the adapter, and what run time imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import ModelError
from assistant.models import ModelStore
from assistant.understand.encoder import ADAPTER_FILE, SentenceEncoder
from assistant.understand.speech_data import Condition, add_noise, condition_for, held_out

ROOT = Path(__file__).resolve().parent.parent


def test_run_time_never_imports_torch() -> None:
    """Serving, talking and understanding a request load no training library (torch, scikit-learn)."""
    code = (
        "import sys\n"
        "import assistant.cli.main, assistant.serve.server, assistant.cli.talk\n"
        "from assistant import Assistant\n"
        "from assistant.events import Hypothesis\n"
        "u = Assistant().understander.understand((Hypothesis('play some jazz in the kitchen', 0.0, 1.0),))\n"
        "assert u.intent == 'play_music', u\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sklearn', 'scipy'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {**os.environ, "ASSISTANT_LM_RESCORING": "0"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]


@pytest.fixture(scope="module")
def encoder_dir() -> Path:
    return ModelStore().path_for("sentence-encoder")


def test_an_adapter_is_added_to_the_shipped_weights(encoder_dir: Path, tmp_path: Path) -> None:
    texts = ["wake me up at nine", "what's the weather in paris"]
    plain = SentenceEncoder(encoder_dir)
    key = "encoder.layer.2.attention.self.query"
    rng = np.random.default_rng(0)
    a = rng.standard_normal((8, 384)).astype(np.float16)
    b = (rng.standard_normal((384, 8)) * 0.05).astype(np.float16)
    np.savez(tmp_path / "zero.npz", **{f"{key}.a": a, f"{key}.b": np.zeros_like(b)})
    np.savez(tmp_path / ADAPTER_FILE, **{f"{key}.a": a, f"{key}.b": b})
    zero = SentenceEncoder(encoder_dir, adapter=tmp_path / "zero.npz")
    assert np.allclose(zero.encode(texts), plain.encode(texts), atol=1e-6)
    adapted = SentenceEncoder(encoder_dir, adapter=tmp_path / ADAPTER_FILE)
    want = plain.w[f"{key}.weight"] + a.astype(np.float32).T @ b.astype(np.float32).T
    assert np.allclose(adapted.w[f"{key}.weight"], want, atol=1e-5)
    assert not np.allclose(adapted.encode(texts), plain.encode(texts), atol=1e-3)


def test_the_onnx_graph_computes_what_the_numpy_encoder_computes(encoder_dir: Path) -> None:
    """Same merged weights, two runtimes: every layer's token states agree on a padded batch."""
    texts = ["wake me up at nine", "what's the weather like in paris tomorrow morning", "hi"]
    adapter = ROOT / "models" / "intent" / ADAPTER_FILE
    ref = SentenceEncoder(encoder_dir, adapter=adapter, runtime="numpy")
    fast = SentenceEncoder(encoder_dir, adapter=adapter, runtime="onnxruntime")
    want, got = ref.encode_layers(texts), fast.encode_layers(texts)
    assert len(want) == len(got) == 6
    for a, b in zip(want, got):
        assert np.abs(a - b).max() < 1e-5
    states, spans = fast.token_states("hi")  # the batch's states, padding included
    assert states.shape[1] == 6 * 384 and spans[:3] == [(0, 0), (0, 2), (0, 0)]  # [CLS] hi [SEP]
    assert np.abs(states[:3] - ref.token_states("hi")[0][:3]).max() < 1e-4


def test_an_unknown_encoder_runtime_is_a_clear_error(encoder_dir: Path) -> None:
    with pytest.raises(ModelError, match="runtime 'tensorflow'"):
        SentenceEncoder(encoder_dir, runtime="tensorflow")


def test_an_adapter_for_a_layer_the_encoder_lacks_is_a_clear_error(encoder_dir: Path, tmp_path: Path) -> None:
    np.savez(tmp_path / "bad.npz", **{"encoder.layer.9.output.dense.a": np.zeros((8, 1536), np.float16),
                                       "encoder.layer.9.output.dense.b": np.zeros((384, 8), np.float16)})
    with pytest.raises(ModelError, match="does not have"):
        SentenceEncoder(encoder_dir, adapter=tmp_path / "bad.npz")


def test_each_utterance_has_one_reproducible_condition() -> None:
    conds = [condition_for(str(i)) for i in range(600)]
    assert conds == [condition_for(str(i)) for i in range(600)]
    voices = {c.voice.split(":")[0] for c in conds}
    noises = {(c.noise, c.snr_db) for c in conds}
    assert voices == {"espeak", "piper"} and len(noises) == 6
    assert 0.2 < sum(c.voice.startswith("piper") for c in conds) / len(conds) < 0.45


def test_the_selection_slice_is_a_tenth_and_stable() -> None:
    ids = [str(i) for i in range(5000)]
    held = held_out(ids)
    assert 0.08 < len(held) / len(ids) < 0.12
    assert held == held_out(reversed(ids))


@pytest.mark.parametrize("noise", ["white", "babble"])
def test_noise_is_mixed_at_the_asked_snr(noise: str) -> None:
    rng = np.random.default_rng(1)
    t = np.arange(16000) / 16000
    speech = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    others = [(0.2 * rng.standard_normal(12000)).astype(np.float32) for _ in range(4)]
    mixed = add_noise(speech, Condition("test", noise, 10.0), others, np.random.default_rng(2))
    assert len(mixed) == len(speech) + 9600  # 0.3 s of lead-in and tail
    added = mixed[4800:-4800] - speech
    snr = 10 * np.log10(np.mean(speech**2) / np.mean(added**2))
    assert abs(snr - 10.0) < 0.5, snr
    assert np.array_equal(add_noise(speech, Condition("test", "clean", None), others, rng)[4800:-4800], speech)


def test_the_encoders_gelu_is_the_exact_one() -> None:
    """The float32 erf approximation of the encoder's GELU stays within 1e-6 of math.erf's GELU."""
    import math

    from assistant.understand.encoder import _gelu

    x = np.linspace(-12, 12, 20001).astype(np.float32)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64)])
    assert _gelu(x).dtype == np.float32
    assert np.abs(_gelu(x) - exact).max() < 1e-6


def test_the_model_card_lists_the_checksums_of_the_shipped_files() -> None:
    """CARD.md's figures describe "this exact set of files": a retrained file must come with a new card."""
    import re

    from assistant.models import sha256_file

    folder = ROOT / "models" / "intent"
    listed = dict(re.findall(r"`([\w.-]+)`: sha256 `([0-9a-f]{64})`", (folder / "CARD.md").read_text()))
    assert {"head.npz", "features.json", "slots.npz", "slots.json", "complete.npz", ADAPTER_FILE} <= set(listed)
    for name, digest in listed.items():
        assert sha256_file(folder / name) == digest, name


def test_dense_features_are_the_encoders_whatever_was_asked_before(encoder_dir: Path) -> None:
    """The training features memoise each text: a second, reordered request with duplicates and
    new texts gives what a fresh encoder pass gives, row for row."""
    from assistant.understand.training import DenseFeatures

    encoder = SentenceEncoder(encoder_dir)
    dense = DenseFeatures(encoder)
    first = ["wake me up at nine", "what's the weather in paris", "hi"]
    assert np.allclose(dense(first), encoder.pooled_layers(first), atol=1e-5)
    again = ["hi", "turn off the lights", "wake me up at nine", "hi"]
    got = dense(again)
    assert got.shape == (4, encoder.dim * encoder.layers)
    assert np.allclose(got, encoder.pooled_layers(again), atol=1e-5)
    assert dense([]).shape[0] == 0


def test_completeness_data_cuts_a_request_but_never_right_after_a_slot_value() -> None:
    from assistant.understand.completeness_data import completeness_data, skill_requests
    from assistant.understand.intents import Example

    request = Example("set a timer for five minutes for cookies", "x", (("time", "five minutes"),))
    cuts = set()
    for seed in range(40):
        texts, labels = completeness_data([request], [], seed=seed)
        assert texts[0] == request.text and labels[0] == 1
        cuts.update(t for t, y in zip(texts[1:], labels[1:]) if y == 0)
    assert "set a timer for five minutes" not in cuts  # a whole request, not a cut
    assert {"set a timer for", "set a timer for five"} <= cuts
    # A cut that is itself a request of the data counts as whole.
    texts, labels = completeness_data([Example("turn on the lights in the kitchen", "x"), Example("turn on the lights", "x")],
                                      [], seed=0)
    assert all(y == 1 for t, y in zip(texts, labels) if t == "turn on the lights")
    # Normalised as the head reads at run time, and the excluded sentences stay out.
    made = skill_requests(set())
    assert any(t.startswith("set a timer for") for t in made)
    assert all(t == t.lower() and "'" not in t for t in made)
    assert not set(skill_requests(set(made[:5]))) & set(made[:5])
