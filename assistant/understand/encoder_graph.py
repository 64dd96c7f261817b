"""The sentence encoder as an ONNX graph, built from the numpy weights at load time.

The same 6-layer BERT as ``encoder.SentenceEncoder``'s numpy forward pass, written with
ONNX Runtime's fused CPU kernels (``com.microsoft`` Attention, SkipLayerNormalization and
BiasGelu) so that onnxruntime runs it. Nothing is exported or stored: the graph is made
in memory from the already merged (shipped + fine-tuned adapter) weights, so the model
files and their checksums stay those of the pip packages, and torch is never needed.

Measured here (AMD EPYC, 2 cores, AVX2) on 82 five-hypothesis lists of the selection slice:
the network alone 13.9 ms p50 against 30.0 ms in numpy, every layer's states within 1e-5.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: ONNX Runtime's contributed operators live in this domain.
_MS = "com.microsoft"


class _Graph:
    """Collects nodes and weight initialisers under unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []

    def weight(self, name: str, value: np.ndarray) -> str:
        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=value.dtype), name))
        return name

    def op(self, kind: str, inputs: list[str], output: str, domain: str = "", **attrs: Any) -> str:
        self.nodes.append(helper.make_node(kind, inputs, [output], name=output, domain=domain, **attrs))
        return output


def build(w: dict[str, np.ndarray], layers: int, heads: int, eps: float) -> bytes:
    """The serialised model: inputs ``ids`` (batch x tokens, int64) and ``mask`` (the same
    shape, int32, 1 for a real token); outputs ``states``, every layer's token states side by
    side (batch x tokens x layers*width, float32), and ``pooled``, each layer's masked mean over
    the tokens scaled to unit length, side by side (batch x layers*width).

    Pooling in the graph saves the numpy work and copies after the run (0.8 ms of the
    classifier's ~15 ms on a 5-hypothesis list, measured here).

    ``w`` is ``SentenceEncoder``'s weight table: encoder linear weights stored as (in, out).
    """
    g = _Graph()  # ``w`` is all float32 already
    # The token-type embedding is always row 0: fold it into the position table.
    positions = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0][None]
    words = g.op("Gather", [g.weight("word_table", w["embeddings.word_embeddings.weight"]), "ids"],
                 "words")
    # The first ``tokens`` rows of the position table (Shape with start/end: a 1-D length).
    length = g.op("Shape", ["ids"], "length", start=1, end=2)
    where = g.op("Slice", [g.weight("position_table", positions),
                           g.weight("zero", np.array([0], dtype=np.int64)), length,
                           g.weight("axis0", np.array([0], dtype=np.int64))], "positions")
    summed = g.op("Add", [words, where], "embedded")
    x = g.op("LayerNormalization", [summed, g.weight("emb_ln_w", w["embeddings.LayerNorm.weight"]),
                                    g.weight("emb_ln_b", w["embeddings.LayerNorm.bias"])],
             "emb_ln", axis=-1, epsilon=eps)
    outputs = []
    for i in range(layers):
        p = f"encoder.layer.{i}."

        def param(name: str, p: str = p, i: int = i) -> str:
            return g.weight(f"l{i}.{name}", w[p + name])

        qkv_w = np.concatenate([w[p + f"attention.self.{k}.weight"] for k in ("query", "key", "value")], axis=1)
        qkv_b = np.concatenate([w[p + f"attention.self.{k}.bias"] for k in ("query", "key", "value")])
        ctx = g.op("Attention", [x, g.weight(f"l{i}.qkv_w", qkv_w),
                                 g.weight(f"l{i}.qkv_b", qkv_b), "mask"],
                   f"l{i}.ctx", domain=_MS, num_heads=heads)
        proj = g.op("MatMul", [ctx, param("attention.output.dense.weight")], f"l{i}.proj")
        x = g.op("SkipLayerNormalization", [proj, x, param("attention.output.LayerNorm.weight"),
                                            param("attention.output.LayerNorm.bias"),
                                            param("attention.output.dense.bias")],
                 f"l{i}.attn_out", domain=_MS, epsilon=eps)
        up = g.op("MatMul", [x, param("intermediate.dense.weight")], f"l{i}.up")
        act = g.op("BiasGelu", [up, param("intermediate.dense.bias")], f"l{i}.gelu", domain=_MS)
        down = g.op("MatMul", [act, param("output.dense.weight")], f"l{i}.down")
        x = g.op("SkipLayerNormalization", [down, x, param("output.LayerNorm.weight"), param("output.LayerNorm.bias"),
                                            param("output.dense.bias")],
                 f"state{i}", domain=_MS, epsilon=eps)
        outputs.append(x)
    width = w["embeddings.LayerNorm.weight"].shape[0]
    states = g.op("Concat", outputs, "states", axis=2)
    weights = g.op("Unsqueeze", [g.op("Cast", ["mask"], "mask_f", to=TensorProto.FLOAT),
                                 g.weight("axis2", np.array([2], dtype=np.int64))], "mask_3d")
    sums = g.op("ReduceSum", [g.op("Mul", [states, weights], "masked"), g.weight("axis1", np.array([1], dtype=np.int64))],
                "sums", keepdims=0)
    # Unit length per layer: the mean's own scale cancels, so the sum is normalised directly.
    per_layer = g.op("Reshape", [sums, g.weight("by_layer", np.array([0, layers, width], dtype=np.int64))], "per_layer")
    unit = g.op("LpNormalization", [per_layer], "unit", axis=-1, p=2)
    g.op("Reshape", [unit, g.weight("flat", np.array([0, layers * width], dtype=np.int64))], "pooled")
    graph = helper.make_graph(
        g.nodes, "minilm",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("mask", TensorProto.INT32, ["batch", "tokens"])],
        [helper.make_tensor_value_info("states", TensorProto.FLOAT, ["batch", "tokens", layers * width]),
         helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", layers * width])],
        initializer=g.weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(_MS, 1)])
    model.ir_version = 8
    return bytes(model.SerializeToString())
