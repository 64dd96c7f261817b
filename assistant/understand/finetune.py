"""Fine-tune the MiniLM encoder on clean text and on the recogniser's own n-best (torch).

``python -m assistant.understand.finetune`` (step 2 of ``make train-intent``). Training
only: torch is imported here and nowhere on the run-time path.

The encoder's shipped weights stay frozen; low-rank adapters (LoRA, rank ``RANK``) on
every linear layer of the six transformer blocks learn the change. An intent head over
the mean-pooled states of all six layers (the run-time classifier's dense features) and
a BIO slot head over each word piece's states train with them. Clean MASSIVE text
trains both heads; for a heard row (``speech_data``), the intent loss is that of the
n-best fused the way the run-time classifier fuses it, p(intent) = sum_h p(h) p(intent | h),
so the encoder learns to read what Whisper makes of speech, weighted as Whisper weighs it.

Only the adapters are written (``encoder-lora.npz``, 0.6 MB): the run-time encoder
adds them to the shipped weights once, at load, in numpy, and costs what it cost before.
The heads that ship are then refitted on the adapted encoder by ``training`` (with the
TF-IDF features torch does not see).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load_file
from torch import nn

from ..models import ModelStore
from .classifier import HEAD_DIR
from .encoder import ADAPTER_FILE, tokenizer
from .intents import BIO_TAGS, INTENTS, read_examples
from .speech_data import SHARED_MASSIVE, held_out, read_cache, row_ids
from .training import SEED, bio_tags

RANK = 8
ALPHA = 16.0
#: The six linear layers of a block that get an adapter (the names of the safetensors keys).
ADAPTED = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
           "intermediate.dense", "output.dense")
TAG_INDEX = {t: i for i, t in enumerate(BIO_TAGS)}


class LoRALinear(nn.Module):
    """A frozen linear layer plus ``scale * B @ A`` (B starts at zero: training starts from the shipped model)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, rank: int, alpha: float, gen: torch.Generator) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.from_numpy(weight.copy()), requires_grad=False)  # (out, in)
        self.bias = nn.Parameter(torch.from_numpy(bias.copy()), requires_grad=False)
        out_dim, in_dim = weight.shape
        self.a = nn.Parameter(torch.randn(rank, in_dim, generator=gen) / math.sqrt(in_dim))
        self.b = nn.Parameter(torch.zeros(out_dim, rank))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias) + (x @ self.a.T @ self.b.T) * self.scale


class AdaptedMiniLM(nn.Module):
    """all-MiniLM-L6-v2 as ``encoder.SentenceEncoder`` computes it, with adapters and two heads."""

    def __init__(self, model_dir: Path, rank: int = RANK, alpha: float = ALPHA) -> None:
        super().__init__()
        cfg = json.loads((model_dir / "config.json").read_text())
        self.heads, self.layers = int(cfg["num_attention_heads"]), int(cfg["num_hidden_layers"])
        self.dim, self.eps = int(cfg["hidden_size"]), float(cfg.get("layer_norm_eps", 1e-12))
        w = load_file(str(model_dir / "model.safetensors"))
        gen = torch.Generator().manual_seed(SEED)
        self.w = {k: torch.from_numpy(v.copy()) for k, v in w.items() if not k.startswith("encoder.")}
        self.lin = nn.ModuleDict({
            f"{i}_{name.replace('.', '_')}": LoRALinear(w[f"encoder.layer.{i}.{name}.weight"],
                                                        w[f"encoder.layer.{i}.{name}.bias"], rank, alpha, gen)
            for i in range(self.layers) for name in ADAPTED
        })
        self.norms = {k: torch.from_numpy(v.copy()) for k, v in w.items() if "LayerNorm" in k and k.startswith("encoder.")}
        width = self.dim * self.layers
        self.intent_head = nn.Linear(width, len(INTENTS))
        self.slot_head = nn.Linear(width, len(BIO_TAGS))

    def _ln(self, x: torch.Tensor, prefix: str, src: dict[str, torch.Tensor]) -> torch.Tensor:
        return nn.functional.layer_norm(x, (self.dim,), src[prefix + ".weight"], src[prefix + ".bias"], self.eps)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(pooled features n x 2304, token states n x t x 2304)."""
        n, t = ids.shape
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t][None]
        x = self._ln(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm", w)
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        hd = self.dim // self.heads
        pooled, states = [], []
        for i in range(self.layers):
            def lin(h: torch.Tensor, name: str, i: int = i) -> torch.Tensor:
                return self.lin[f"{i}_{name.replace('.', '_')}"](h)

            def split(h: torch.Tensor) -> torch.Tensor:
                return h.view(n, t, self.heads, hd).transpose(1, 2)

            q, k, v = (split(lin(x, f"attention.self.{m}")) for m in ("query", "key", "value"))
            attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1)
            ctx = (attn @ v).transpose(1, 2).reshape(n, t, self.dim)
            p = f"encoder.layer.{i}."
            x = self._ln(x + lin(ctx, "attention.output.dense"), p + "attention.output.LayerNorm", self.norms)
            x = self._ln(x + lin(nn.functional.gelu(lin(x, "intermediate.dense")), "output.dense"),
                         p + "output.LayerNorm", self.norms)
            m = mask[..., None]
            mean = (x * m).sum(1) / m.sum(1).clamp_min(1e-9)
            pooled.append(mean / mean.norm(dim=1, keepdim=True).clamp_min(1e-12))
            states.append(x)
        return torch.cat(pooled, 1), torch.cat(states, 2)

    def adapters(self) -> dict[str, np.ndarray]:
        """``<layer>.<name>.a`` / ``.b`` arrays (float16) and the scale, for ``SentenceEncoder``."""
        out: dict[str, np.ndarray] = {}
        for i in range(self.layers):
            for name in ADAPTED:
                mod = self.lin[f"{i}_{name.replace('.', '_')}"]
                assert isinstance(mod, LoRALinear)
                out[f"encoder.layer.{i}.{name}.a"] = mod.a.detach().numpy().astype(np.float16)
                out[f"encoder.layer.{i}.{name}.b"] = (mod.b.detach().numpy() * mod.scale).astype(np.float16)
        return out


class Batcher:
    """Tokenises as the run-time encoder does (lower case, at most 64 pieces)."""

    def __init__(self, model_dir: Path) -> None:
        self.tok = tokenizer(model_dir)

    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, list[Any]]:
        enc = self.tok.encode_batch([t.lower() for t in texts])
        ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.float32)
        return ids, mask, enc


def _items(data: Path, heard: list[dict[str, Any]], held: set[str], clean_weight: float) -> list[dict[str, Any]]:
    """Training items: every clean MASSIVE train row (its loss weighted ``clean_weight``), and every heard row
    with words (weight 1), both outside ``held``."""
    index = {label: i for i, label in enumerate(INTENTS)}
    items: list[dict[str, Any]] = []
    for row_id, e in zip(row_ids(data), read_examples(data)):
        if e.partition == "train" and row_id not in held:
            items.append({"texts": [e.text], "weights": [1.0], "y": index[e.intent], "slots": e.slots,
                          "loss_weight": clean_weight})
    for r in heard:
        hyps = [(t, p) for t, p in r["nbest"] if t.strip() and p > 0]
        if hyps and r["id"] not in held:
            total = sum(p for _, p in hyps)
            items.append({"texts": [t for t, _ in hyps], "weights": [p / total for _, p in hyps],
                          "y": index[r["intent"]], "slots": None, "loss_weight": 1.0})
    return items


def _loss(model: AdaptedMiniLM, batcher: Batcher, batch: list[dict[str, Any]]) -> torch.Tensor:
    texts = [t for it in batch for t in it["texts"]]
    ids, mask, enc = batcher.encode(texts)
    pooled, states = model(ids, mask)
    logp = torch.log_softmax(model.intent_head(pooled), dim=-1)
    losses, row, slot_x, slot_y = [], 0, [], []
    loss_weights = torch.tensor([it["loss_weight"] for it in batch])
    for it in batch:
        k = len(it["texts"])
        w = torch.tensor(it["weights"]).log()
        losses.append(-torch.logsumexp(w + logp[row : row + k, it["y"]], dim=0))  # the fused n-best's loss
        if it["slots"] is not None:
            offsets = list(enc[row].offsets)
            for j, (tag, (a, b)) in enumerate(zip(bio_tags(it["texts"][0], it["slots"], offsets), offsets)):
                if b > a:
                    slot_x.append(states[row, j])
                    slot_y.append(TAG_INDEX[tag])
        row += k
    loss = (torch.stack(losses) * loss_weights).sum() / loss_weights.sum()
    if slot_x:
        loss = loss + nn.functional.cross_entropy(model.slot_head(torch.stack(slot_x)), torch.tensor(slot_y))
    return loss


def finetune(data: Path, out: Path, epochs: int = 2, batch_size: int = 32, lr: float = 1e-3,
             clean_weight: float = 1.0) -> dict[str, Any]:
    """Train the adapters on everything but the selection slice; write ``out/encoder-lora.npz``."""
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    model_dir = ModelStore().path_for("sentence-encoder")
    heard = read_cache("train")
    held = held_out(r["id"] for r in heard)
    items = _items(data, heard, held, clean_weight)
    model, batcher = AdaptedMiniLM(model_dir), Batcher(model_dir)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(items) / batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100) * max(0.0, 1 - s / steps))
    rng = np.random.default_rng(SEED)
    t0, step = time.time(), 0
    print(f"finetune: {len(items)} items ({sum(it['slots'] is None for it in items)} heard), {steps} steps",
          file=sys.stderr)
    model.train()
    for epoch in range(epochs):
        order = rng.permutation(len(items))
        for i in range(0, len(order), batch_size):
            loss = _loss(model, batcher, [items[j] for j in order[i : i + batch_size]])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 50 == 0:
                print(f"epoch {epoch} step {step}/{steps} loss {loss.item():.3f} ({time.time() - t0:.0f} s)",
                      file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    adapters = model.adapters()
    np.savez_compressed(out / ADAPTER_FILE, **adapters)  # type: ignore[arg-type]  # numpy types its kwargs as allow_pickle
    summary = {"finetune_items": len(items), "finetune_steps": steps, "finetune_s": round(time.time() - t0),
               "epochs": epochs, "lr": lr, "clean_weight": clean_weight,
               "rank": RANK, "adapter_parameters": sum(a.size for a in adapters.values())}
    (out / "finetune.json").write_text(json.dumps(summary))
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED_MASSIVE)
    ap.add_argument("--out", type=Path, default=HEAD_DIR)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--clean-weight", type=float, default=1.0,
                    help="loss weight of a clean sentence (a heard row weighs 1)")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(json.dumps(finetune(args.data, args.out, args.epochs, lr=args.lr, clean_weight=args.clean_weight)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
