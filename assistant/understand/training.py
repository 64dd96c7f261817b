"""Fit the intent head and slot tagger: ``python -m assistant.understand.training`` (step 3 of
``make train-intent``, after ``speech_data`` and ``finetune``).

Reproducible: fixed seeds, deterministic solver, the same data gives the same
weights. Needs the dev extras (scikit-learn, scipy), which the run-time path never
imports. Fits on the adapted encoder (``finetune``'s adapter in the output folder, if
any) with MASSIVE en-US ``train`` text and the recogniser's hypotheses of it, first less
the selection slice, measured on it (clean and heard), then again with it (the head that
is written); calibrates on ``dev`` (temperature only); reports SLURP devel text, which
nothing is trained or selected on.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..models import ModelStore, sha256_file
from .classifier import HEAD_DIR, IntentClassifier
from .encoder import ADAPTER_FILE, SentenceEncoder, adapter_in
from .intents import INTENTS, Example, read_examples
from .speech_data import SHARED, SHARED_MASSIVE, held_out, read_cache, row_ids
from .textfeatures import NgramTfidf

SEED = 13

#: How the head's defaults (C, --heard-weight) were chosen: on the selection slice, by the mean of
#: its clean-text and heard n-best accuracy, each fitted without the slice (December 2026).
SELECTION_RECORD = """The defaults were chosen on the selection slice by the mean of its
   clean-text and heard n-best accuracy (fitted without it): C 5 / heard weight 0.5: 0.774
   (0.906, 0.642); C 2.5 / 0.5: 0.768; C 10 / 0.5: 0.771; C 20 / 0.5: 0.767; C 5 / 0.25: 0.770;
   C 10 / 1: 0.766; C 10 / 0 (clean text only): n-best 0.593."""


def _sparse(vec: NgramTfidf, texts: list[str]):  # type: ignore[no-untyped-def]
    from scipy.sparse import csr_matrix

    rows, cols, vals = [], [], []
    for r, t in enumerate(texts):
        idx, val = vec.transform_one(t)
        rows += [r] * len(idx)
        cols += idx.tolist()
        vals += val.tolist()
    return csr_matrix((vals, (rows, cols)), shape=(len(texts), vec.size), dtype=np.float32)


class DenseFeatures:
    """The encoder's pooled layers of texts, each text encoded once: the refit and the second
    calibration ask again for the ~40000 texts of the first fit (an encoder pass of ~4.5 min here)."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        self.encoder = encoder
        self._seen: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self._seen]
        for i in range(0, len(new), 64):
            self._seen.update(zip(new[i : i + 64], self.encoder.pooled_layers(new[i : i + 64])))
        return np.stack([self._seen[t] for t in texts]) if texts else self.encoder.pooled_layers([])


def _fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    best_t, best_nll = 1.0, np.inf
    for t in np.arange(0.3, 3.01, 0.05):
        z = logits / t
        z = z - z.max(1, keepdims=True)
        nll = float(-(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(1))).mean())
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return round(best_t, 2)


def encoder_for(out: Path) -> SentenceEncoder:
    """The sentence encoder with the fine-tuned adapter in ``out``, if ``finetune`` wrote one."""
    return SentenceEncoder(ModelStore().path_for("sentence-encoder"), adapter=adapter_in(out))


def train_rows(data: Path) -> tuple[list[Example], list[Example], list[dict[str, Any]], list[dict[str, Any]]]:
    """(clean train rows, dev rows, heard train rows, heard rows of the selection slice).

    The selection slice (a tenth of the heard rows, by id) is left out of training, its
    clean text as well, so that choices are made on sentences no model has seen.
    """
    heard = read_cache("train")
    held = held_out(r["id"] for r in heard)
    rows = list(zip(row_ids(data), read_examples(data)))
    train_ex = [e for i, e in rows if e.partition == "train" and i not in held]
    dev_ex = [e for _, e in rows if e.partition == "dev"]
    return train_ex, dev_ex, [r for r in heard if r["id"] not in held], [r for r in heard if r["id"] in held]


def _hypotheses(heard: list[dict[str, Any]]) -> tuple[list[str], list[str], list[float]]:
    """Every hypothesis with words of the heard rows: (texts, intents, posteriors as sample weights)."""
    texts, intents, weights = [], [], []
    for r in heard:
        for text, posterior in r["nbest"]:
            if text.strip() and posterior > 0:
                texts.append(text)
                intents.append(r["intent"])
                weights.append(float(posterior))
    return texts, intents, weights


def train(data: Path, slurp: Path | None, out: Path, c: float = 5.0, heard_weight: float = 0.5,
          refit: bool = True) -> dict[str, Any]:
    """Fit features and head, calibrate, evaluate; write ``head.npz`` and ``features.json``.

    The head learns from the clean text and from every recogniser hypothesis of the heard
    rows (``speech_data``), each weighted by its posterior, so a misheard request's
    n-best counts as much as ``heard_weight`` clean sentences. It is fitted without the
    selection slice and measured on it; with ``refit`` (the default) it is then fitted
    again with the slice (5% more sentences), as is usual once the choices are made, and
    that head is written: its selection figures are the first fit's.
    """
    np.random.seed(SEED)
    train_ex, dev_ex, heard, selection = train_rows(data)
    encoder = encoder_for(out)
    t0 = time.time()
    texts, intents = [e.text for e in train_ex], [e.intent for e in train_ex]
    dense = DenseFeatures(encoder)
    temperature = _fit_head(dense, texts, intents, heard, dev_ex, out, c, heard_weight)
    metrics: dict[str, Any] = heard_accuracy(IntentClassifier(encoder, out), selection)
    if refit:
        texts += [r["text"] for r in selection]
        intents += [r["intent"] for r in selection]
        heard = heard + selection
        temperature = _fit_head(dense, texts, intents, heard, dev_ex, out, c, heard_weight)
    # Evaluate what was saved (float16 weights), through the run-time classifier.
    clf = IntentClassifier(encoder, out)
    metrics |= {"dev_accuracy": _accuracy(clf, dev_ex), "temperature": temperature,
                "train_s": round(time.time() - t0), "heard_rows": len(heard)}
    if slurp is not None and slurp.is_file():
        metrics["slurp_devel_accuracy"] = _accuracy(clf, read_examples(slurp))
    return metrics | {"clean_rows": len(texts), "dev_rows": len(dev_ex), "C": c, "heard_weight": heard_weight,
                      "refit_with_selection": refit}


def _fit_head(dense: DenseFeatures, texts: list[str], intents: list[str], heard: list[dict[str, Any]],
              dev_ex: list[Example], out: Path, c: float, heard_weight: float) -> float:
    """Fit the vectorizers and the logistic head on clean ``texts`` plus the ``heard`` n-best lists,
    calibrate on ``dev_ex``, write them to ``out``; returns the temperature."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression

    labels = list(INTENTS)
    index = {label: i for i, label in enumerate(labels)}
    vecs = [
        NgramTfidf.fit(texts, "word", 1, 2, max_features=8000),
        NgramTfidf.fit(texts, "char_wb", 2, 5, max_features=12000),
    ]

    def features(batch: list[str]):  # type: ignore[no-untyped-def]
        return hstack([csr_matrix(dense(batch)), *[_sparse(v, batch) for v in vecs]]).tocsr()

    hyp_texts, hyp_intents, hyp_weights = _hypotheses(heard)
    x_train = features(texts + hyp_texts)
    y_train = np.array([index[i] for i in intents + hyp_intents])
    weights = np.array([1.0] * len(texts) + [heard_weight * w for w in hyp_weights])
    x_dev, y_dev = features([e.text for e in dev_ex]), np.array([index[e.intent] for e in dev_ex])
    model = LogisticRegression(C=c, max_iter=4000, random_state=SEED)
    model.fit(x_train, y_train, sample_weight=weights)
    temperature = _fit_temperature(model.decision_function(x_dev), y_dev)

    dense_dim = dense.encoder.dim * dense.encoder.layers
    coef = model.coef_.astype(np.float32)
    splits = np.cumsum([dense_dim, *[v.size for v in vecs]])
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out / "head.npz",
        w_dense=coef[:, : splits[0]].astype(np.float16),
        bias=model.intercept_.astype(np.float32),
        **{f"w_sparse{i}": coef[:, splits[i] : splits[i + 1]].astype(np.float16) for i in range(len(vecs))},
    )
    (out / "features.json").write_text(json.dumps(
        {"labels": labels, "temperature": temperature, "vectorizers": [v.to_json() for v in vecs]}
    ))
    return temperature


def heard_accuracy(clf: IntentClassifier, heard: list[dict[str, Any]]) -> dict[str, float]:
    """Accuracy on heard rows from the fused n-best and from the 1-best (a row heard as nothing is
    wrong), and on their clean text."""
    from ..events import Hypothesis

    fused = best = text = 0
    for r in heard:
        text += clf.classify([Hypothesis(r["text"], 0.0, 1.0)]).intent == r["intent"]
        nbest = [Hypothesis(t, 0.0, p) for t, p in r["nbest"] if t.strip()]
        if nbest:
            fused += clf.classify(nbest).intent == r["intent"]
            best += clf.classify(nbest[:1]).intent == r["intent"]
    n = max(1, len(heard))
    return {"selection_rows": len(heard), "selection_accuracy_nbest": round(fused / n, 4),
            "selection_accuracy_1best": round(best / n, 4), "selection_accuracy_text": round(text / n, 4)}


def bio_tags(text: str, slots: tuple[tuple[str, str], ...], offsets: list[tuple[int, int]]) -> list[str]:
    """Per-piece BIO tags for ``text`` given its (type, value) slots, located left to right."""
    from .slots import word_starts

    spans, pos = [], 0
    low = text.lower()
    for typ, value in slots:
        i = low.find(value.lower(), pos)
        if i < 0:
            continue
        spans.append((i, i + len(value), typ))
        pos = i + len(value)
    tags = []
    for (start, end), _first in zip(offsets, word_starts(offsets, text)):
        tag = "O"
        for a, b, typ in spans:
            if end > start and a <= start < b:
                tag = ("B-" if start == a else "I-") + typ
        tags.append(tag)
    return tags


def train_slots(data: Path, out: Path, c: float = 1.0) -> dict[str, float]:
    """Fit the BIO slot tagger on MASSIVE train word-piece states; write slots.npz/json."""
    from sklearn.linear_model import LogisticRegression

    from .intents import BIO_TAGS
    from .slots import SlotTagger

    train_ex, dev_ex, _, _ = train_rows(data)
    encoder = encoder_for(out)
    tags = list(BIO_TAGS)
    index = {t: i for i, t in enumerate(tags)}
    xs, ys = [], []
    for e in train_ex:
        states, offsets = encoder.token_states(e.text)
        for vec, tag, (a, b) in zip(states, bio_tags(e.text, e.slots, offsets), offsets):
            if b > a:
                xs.append(vec)
                ys.append(index[tag])
    model = LogisticRegression(C=c, max_iter=120, random_state=SEED)
    model.fit(np.asarray(xs, dtype=np.float32), np.asarray(ys))
    print(f"slot tagger: {len(xs)} word pieces, {model.n_iter_[0]} iterations", file=sys.stderr)
    w = np.zeros((len(tags), model.coef_.shape[1]), dtype=np.float32)
    bias = np.full(len(tags), -1e4, dtype=np.float32)  # tags never seen in training are never predicted
    w[model.classes_] = model.coef_
    bias[model.classes_] = model.intercept_
    np.savez_compressed(out / "slots.npz", w=w.astype(np.float16), b=bias)
    (out / "slots.json").write_text(json.dumps({"tags": tags}))
    tagger = SlotTagger(encoder, out)
    return {"slot_f1_dev": slot_f1(tagger, dev_ex)}


def train_completeness(data: Path, out: Path, c: float = 0.1) -> dict[str, float]:
    """Fit the completeness head (``completeness.TextCompleteness``) on MASSIVE train and the skill
    requests, measure it on MASSIVE dev cut the same way; write complete.npz. C 0.1 did better on
    dev than 0.3 (0.867 against 0.861)."""
    from sklearn.linear_model import LogisticRegression

    from ..bench.turn_sentences import DEV, TEST
    from ..textnorm import normalise_for_wer
    from .completeness import COMPLETE_FILE, TextCompleteness
    from .completeness_data import completeness_data, skill_requests

    # All of train: the selection slice is for the intent head's choices, and this head's own
    # choice (C, on dev) does not need it. The bench's sentences stay out of the skill requests.
    examples = read_examples(data)
    exclude = {normalise_for_wer(t) for first, rest in DEV + TEST for t in (first, f"{first} {rest}")}
    texts, y = completeness_data([e for e in examples if e.partition == "train"], skill_requests(exclude))
    dev_texts, dev_y = completeness_data([e for e in examples if e.partition == "dev"], [], seed=SEED + 1)
    encoder = encoder_for(out)
    features = np.vstack([encoder.ending_features(texts[i : i + 64]) for i in range(0, len(texts), 64)])
    model = LogisticRegression(C=c, max_iter=2000, random_state=SEED).fit(features, y)
    np.savez_compressed(out / COMPLETE_FILE, w=model.coef_[0].astype(np.float16),
                        b=np.float32(model.intercept_[0]))
    head = TextCompleteness(encoder, out)
    p = np.concatenate([head.probabilities(dev_texts[i : i + 64]) for i in range(0, len(dev_texts), 64)])
    return {"complete_rows": len(texts), "complete_C": c,
            "complete_dev_accuracy": round(float(((p >= 0.5) == dev_y).mean()), 4)}


def slot_f1(tagger, examples: list) -> float:  # type: ignore[no-untyped-def,type-arg]
    """Micro F1 over (type, value) pairs, values compared case-insensitively."""
    from collections import Counter

    tp = fp = fn = 0
    for e in examples:
        gold = Counter((t, v.lower().strip()) for t, v in e.slots)
        pred = Counter((s.type, s.value.lower().strip()) for s in tagger.tag(e.text))
        hit = sum((gold & pred).values())
        tp += hit
        fp += sum(pred.values()) - hit
        fn += sum(gold.values()) - hit
    return round(2 * tp / max(1, 2 * tp + fp + fn), 4)


def _accuracy(clf: IntentClassifier, examples: list) -> float:  # type: ignore[type-arg]
    hits = 0
    for i in range(0, len(examples), 64):
        batch = examples[i : i + 64]
        probs = clf.probabilities([e.text for e in batch])
        hits += sum(clf.labels[int(p.argmax())] == e.intent for p, e in zip(probs, batch))
    return round(hits / len(examples), 4)


def write_card(out: Path, m: dict[str, Any]) -> None:
    """``CARD.md``: what the models are, what they learnt from, how to remake them, what they score."""
    tuning = json.loads((out / "finetune.json").read_text()) if (out / "finetune.json").is_file() else {}
    adapter = adapter_in(out) is not None
    encoder = (f"all-MiniLM-L6-v2 with low-rank adapters (LoRA, rank {tuning.get('rank', '?')}) on all 36 linear "
               f"layers, {tuning.get('adapter_parameters', '?')} parameters in `{ADAPTER_FILE}`, fine-tuned with "
               "torch (`understand/finetune.py`) and added to the shipped weights at load"
               if adapter else "all-MiniLM-L6-v2 as shipped (no adapter)")
    refit = m.get("refit_with_selection", False)
    clean_note = " (the selection slice included, see below)" if refit else " (the selection slice left out)"
    refit_note = (" The head that ships was then fitted once more with it;\n  its selection figures below are"
                  " those of the same settings fitted without it." if refit else "")
    files = "\n".join(f"  - `{name}`: sha256 `{sha256_file(out / name)}`"
                       for name in ("head.npz", "features.json", "slots.npz", "slots.json", "complete.npz",
                                    ADAPTER_FILE)
                       if (out / name).is_file())
    (out / "CARD.md").write_text(f"""# Understanding models (models/intent)

- **Encoder**: {encoder}. Run time never imports torch: the merged weights run on onnxruntime
  (a graph built at load) and cost what the shipped ones cost.
- **Intent head**: multinomial logistic regression over [mean-pooled states of all 6 encoder
  layers (2304 numbers); TF-IDF word 1-2-grams (8000); TF-IDF character 2-5-grams inside words
  (12000)], 60 SLURP/MASSIVE intents, weights float16; an n-best list is fused by posterior,
  p(intent) = sum_h p(h) p(intent | h).
- **Slot tagger**: a linear BIO tagger over each word piece's states of all 6 layers.
- **Completeness** (`complete.npz`, the turn judge's words cue): logistic regression over the
  pooled layers and the last word piece's states of all 6 layers (4608 numbers): does the
  text read as a whole request? Trained on each MASSIVE train utterance and each templated
  request of the skills (`understand/completeness_data.py`) as whole, and one cut of each after
  a random word, never right after a slot value, as not whole (unless the cut is itself a
  request there): {m.get('complete_rows', '?')} texts, C = {m.get('complete_C', '?')}. MASSIVE dev
  cut the same way: accuracy {m.get('complete_dev_accuracy', 'n/a')}.

## Data

- MASSIVE 1.0 en-US `train`: {m.get('clean_rows', '?')} clean utterances{clean_note}.
- The same utterances **heard by our own recogniser** (`understand/speech_data.py`): every second
  train row spoken by one of six espeak-ng voices/speeds or Piper joe at three speeds, with no
  noise, white noise (20, 10, 5 dB) or babble of three other utterances (10, 5 dB), through
  Whisper tiny.en's n-best decode; {m.get('heard_rows', '?')} rows for training. The fine-tuning
  loss on a heard row is that of its n-best fused as above; the head takes each hypothesis as a
  sample weighted by its posterior times {m.get('heard_weight', '?')} (a clean sentence weighs 1).
- **Selection slice**: a tenth of the heard rows by a hash of their id ({m.get('selection_rows', '?')}
  rows), text and speech never trained on while the choices were made on it (the head's settings,
  below; the encoder's adapter is trained without it).{refit_note}
- MASSIVE `dev` ({m.get('dev_rows', '?')}): temperature scaling only (it does not move the argmax).
- SLURP devel (text only; the speech benchmarks speak it) is never trained or selected on; it
  shares most sentences with MASSIVE dev, and 6 of its 2033 sentences occur in MASSIVE train.
- Licence of the data: CC BY 4.0 (../shared/eval/intents/MASSIVE_LICENSE, MASSIVE_NOTICE.md);
  these weights derive from it and carry its attribution: "MASSIVE, Amazon.com, Inc., CC BY 4.0".

## Recipe

`make train-intent`, seed {SEED}: installs torch 2.13.0 (the `[train]` extra), then
1. `python -m assistant.understand.speech_data --partition train --every 2` (about 50 min on 2 cores
   the first time; cached in ~/.cache/assistant/speech-hypotheses, a stopped run resumes);
2. `python -m assistant.understand.finetune`: {tuning.get('epochs', '?')} epochs of AdamW, lr
   {tuning.get('lr', '?')}, batches of 32, {tuning.get('finetune_items', '?')} items,
   {tuning.get('finetune_s', '?')} s;
3. `python -m assistant.understand.training`: heads (C = {m.get('C', '?')}, heard weight
   {m.get('heard_weight', '?')}), {m.get('train_s', '?')} s. {SELECTION_RECORD}

## Figures (this exact set of files)

- Text: MASSIVE dev accuracy {m.get('dev_accuracy')}, SLURP devel accuracy
  {m.get('slurp_devel_accuracy', 'n/a')}; slot F1 MASSIVE dev {m.get('slot_f1_dev', 'n/a')}.
- Selection slice, heard: accuracy from the n-best {m.get('selection_accuracy_nbest')}, from the
  1-best {m.get('selection_accuracy_1best')}; its clean text {m.get('selection_accuracy_text', 'n/a')}.
- Speech benchmarks on held-out SLURP devel: `assistant bench intent --mode speech` (figures in
  the README's understanding section).

## Files

{files}
""")


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the intent classifier head")
    parser.add_argument("--data", type=Path, default=SHARED_MASSIVE)
    parser.add_argument("--slurp", type=Path, default=SHARED / "slurp_devel.jsonl")
    parser.add_argument("--out", type=Path, default=HEAD_DIR)
    parser.add_argument("--C", type=float, default=5.0)
    parser.add_argument("--heard-weight", type=float, default=0.5,
                        help="a heard row's weight in the head against a clean sentence's")
    parser.add_argument("--complete-C", type=float, default=0.1, help="the completeness head's C")
    parser.add_argument("--only", choices=["intent", "slots", "complete", "all"], default="all",
                        help="which head to fit (the card keeps the others' last figures)")
    parser.add_argument("--no-refit", dest="refit", action="store_false",
                        help="write the head fitted without the selection slice (for choosing settings)")
    args = parser.parse_args()
    metrics: dict[str, Any] = {}
    if args.only in ("intent", "all"):
        metrics |= train(args.data, args.slurp, args.out, args.C, args.heard_weight, args.refit)
    if args.only in ("slots", "all"):
        metrics |= train_slots(args.data, args.out)
    if args.only in ("complete", "all"):
        metrics |= train_completeness(args.data, args.out, args.complete_C)
    # The figures of the heads not fitted this time stay those of their last fit.
    record = args.out / "training.json"
    metrics = (json.loads(record.read_text()) if record.is_file() else {}) | metrics
    record.write_text(json.dumps(metrics, indent=1, sort_keys=True) + "\n")
    write_card(args.out, metrics)
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
