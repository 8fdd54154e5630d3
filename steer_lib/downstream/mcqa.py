"""Commonsense → multiple-choice QA: do a method's synthetic questions train a better QA model?

The default scorer (:class:`AdapterScorer`, ``mcqa_init="adapter"``) *starts as* the zero-shot scorer -- the
option whose frozen sentence embedding is most similar to the question's -- and learns ``W`` in
``score = s · cos(W q, o)`` from ``W = I``: Adam on the cross-entropy over the five options, with the scale ``s``
fitted first on the training questions and then frozen, and early stopping on the held-out loss of a slice
(``mcqa_val_frac``) of the setting's *own* training questions, the untrained state included. So (a) with no
question (or too few to hold one out) it is exactly the zero-shot scorer; (b) real questions keep it at zero-shot
up to noise; (c) misleading questions pull it down. ``df.attrs["zero_shot"]`` is the reference line and
``df.attrs["vs_real"]`` each setting's difference from real-only with a paired bootstrap interval over the dev
questions (:func:`~steer_lib.downstream.common.vs_real`).

Why this learner: chosen on a slice of CSQA *train*, never on dev, against from-scratch, diagonal and early-stopped-
on-accuracy variants; it tells data that misleads (wrong answer keys) from data that does not, but frozen MiniLM
embeddings leave little for more real questions to add. The measurements behind that choice (dated, with every
variant's numbers) are in ``docs/measurements.md``. The old learner (``mcqa_init="scratch"``): a linear layer (or
MLP) over ``[q, o, q*o, |q-o|]`` from random weights (set ``mcqa_lr=1e-3, mcqa_epochs=30``), replaced by the adapter.

Settings: ``real`` (N real CSQA train questions, once, as method ``real-only``), ``synthetic``
(N synthetic questions per method -- only those the task parser accepts; the rejected ones are
counted per method) and ``real+synthetic``. Scored on CSQA dev (1,221 questions, chance 20 %),
which no generator saw: they were fine-tuned on CSQA train.
"""
from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data.tasks import LETTERS
from .common import (DownstreamConfig, Embedder, check_texts, embed_lookup, resolve_synthetic, sample, sub_rng,
                     vs_real)

REAL_METHOD = "real-only"
CHANCE = 1 / len(LETTERS)  # five options


@dataclass(frozen=True)
class Question:
    stem: str
    options: tuple[str, ...]  # the five options, A–E
    answer: int  # index of the correct option


def from_record(r: Mapping) -> Question:
    """A :func:`steer_lib.data.csqa_records` row (or a parsed synthetic sample) as a Question."""
    if len(r["options"]) != len(LETTERS) or r.get("answer") not in LETTERS:
        raise ValueError(f"a question needs 5 options and an answer letter A–E, got {r!r}")
    return Question(r["stem"], tuple(r["options"]), LETTERS.index(r["answer"]))


def real_questions(split: str = "train") -> list[Question]:
    """CSQA ``train`` (the generators' training data) or ``dev`` (held out; the score set)."""
    from ..data.tasks import csqa_records

    files = {"train": "csqa/train_rand_split.jsonl", "dev": "csqa/dev_rand_split.jsonl"}
    if split not in files:
        raise ValueError(f"split={split!r} is not one of {tuple(files)}")
    return [from_record(r) for r in csqa_records(files[split])]


def parse_questions(texts: list[str]) -> tuple[list[Question], Counter]:
    """Keep the samples the commonsense parser accepts; count the rejected ones by reason.

    >>> qs, why = parse_questions(["Where do fish live? A. sea B. tree C. sky D. car E. moon Answer: A",
    ...                            "Where? A. x B. y Answer: A"])
    >>> len(qs), qs[0].answer, dict(why)
    (1, 0, {'option C is missing': 1})
    """
    from ..data.tasks import get_task

    task = get_task("commonsense")
    kept, why = [], Counter()
    for t in check_texts(texts, "synthetic questions"):
        p = task.parse(t)
        if p.valid:
            kept.append(from_record(p.fields))
        else:
            why[p.reason or "invalid"] += 1
    return kept, why


class OptionScorer(nn.Module):
    """The from-scratch scorer (``mcqa_init="scratch"``): a linear layer (or MLP) over ``[q, o, q*o, |q-o|]``."""

    def __init__(self, dim: int, hidden: int = 0, dropout: float = 0.1):
        super().__init__()
        if dim < 1 or hidden < 0:
            raise ValueError(f"dim={dim!r} must be >= 1 and hidden={hidden!r} >= 0")
        self.net = (nn.Linear(4 * dim, 1) if hidden == 0 else
                    nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * dim, hidden), nn.GELU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, 1)))

    @staticmethod
    def features(q: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
        """``q``: (B, d) questions, ``o``: (B, 5, d) options → (B, 5, 4d) pair features."""
        q = q.unsqueeze(1).expand_as(o)
        return torch.cat([q, o, q * o, (q - o).abs()], dim=-1)

    def forward(self, q: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
        """(B, d) questions, (B, 5, d) options → (B, 5) option scores."""
        return self.net(self.features(q, o)).squeeze(-1)


class AdapterScorer(nn.Module):
    """The default scorer (``mcqa_init="adapter"``): ``score = s · cos(W q, o)`` with ``W = I + D``.

    ``D`` starts at zero, so the untrained scorer ranks options exactly as the zero-shot cosine scorer does
    (the scale ``s`` changes the loss, never the ranking); training moves ``W`` away from the identity, and the
    L2 penalty on ``D`` (``mcqa_weight_decay``) pulls it back toward it.

    >>> q, o = torch.eye(3)[:1], torch.eye(3)[torch.tensor([[1, 0, 2, 1, 2]])]
    >>> AdapterScorer(3)(q, o).argmax(-1).tolist()  # option B is the question itself
    [1]
    """

    def __init__(self, dim: int, scale: float = 10.0):
        super().__init__()
        if dim < 1 or scale <= 0:
            raise ValueError(f"dim={dim!r} must be >= 1 and scale={scale!r} > 0")
        self.D = nn.Parameter(torch.zeros(dim, dim))
        self.register_buffer("scale", torch.tensor(float(scale)))

    def penalty(self) -> torch.Tensor:
        """Squared distance of ``W`` from the identity."""
        return (self.D ** 2).sum()

    def forward(self, q: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
        """(B, d) questions, (B, 5, d) options → (B, 5) option scores."""
        wq = q + q @ self.D.T
        return self.scale * nn.functional.cosine_similarity(wq.unsqueeze(1), o, dim=-1)


Tensors = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # questions (n, d), options (n, 5, d), answers (n,)


def _tensors(qs: list[Question], emb: Mapping[str, np.ndarray]) -> Tensors:
    """Question and option embeddings and answer indices, stacked once per question set."""
    q = torch.from_numpy(np.stack([emb[x.stem] for x in qs]))
    o = torch.from_numpy(np.stack([[emb[t] for t in x.options] for x in qs]))
    return q, o, torch.tensor([x.answer for x in qs])


def fit_scale(q: torch.Tensor, o: torch.Tensor, y: torch.Tensor) -> float:
    """The cosine scale with the lowest cross-entropy on these questions (a grid from 1 to ~300): fitted first and
    frozen, so that early stopping on the held-out loss sees what ``W`` learnt, not a better-calibrated scale.

    >>> q, o = torch.eye(5)[:2], torch.eye(5)[torch.tensor([[0, 1, 2, 3, 4], [1, 0, 2, 3, 4]])]
    >>> fit_scale(q, o, torch.tensor([0, 0])) > 10  # perfectly separated: the sharper the better
    True
    """
    with torch.no_grad():
        cos = nn.functional.cosine_similarity(q.unsqueeze(1), o, dim=-1)
        grid = torch.logspace(0, 2.5, 60)
        losses = torch.stack([nn.functional.cross_entropy(s * cos, y) for s in grid])
    return float(grid[int(losses.argmin())])


def _train_adapter(data: Tensors, dim: int, cfg: DownstreamConfig, seed: int) -> AdapterScorer:
    """Adam on the cross-entropy + ``mcqa_weight_decay`` · ‖W − I‖², early-stopped on a held-out slice
    (``mcqa_val_frac``) of the training questions: the state with the lowest held-out loss is kept, the untrained
    (zero-shot) one included, so data that does not generalise leaves the scorer where it started."""
    q, o, y = data
    n = len(y)
    n_val = int(round(cfg.mcqa_val_frac * n))
    if n == 0 or n_val == 0 or n_val == n:  # nothing to learn from, or too few questions to hold any out
        return AdapterScorer(dim).eval()
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val, fit = perm[:n_val], perm[n_val:]
    model = AdapterScorer(dim, fit_scale(q[fit], o[fit], y[fit]))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.mcqa_lr)
    loss_of = lambda idx: nn.functional.cross_entropy(model(q[idx], o[idx]), y[idx])  # noqa: E731
    with torch.no_grad():
        best, best_d, since = float(loss_of(val)), model.D.detach().clone(), 0
    for _ in range(cfg.mcqa_epochs):  # full batch: the training sets are small
        loss = loss_of(fit) + cfg.mcqa_weight_decay * model.penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            v = float(loss_of(val))
        if v < best - 1e-6:
            best, best_d, since = v, model.D.detach().clone(), 0
        else:
            since += 1
            if since >= cfg.mcqa_patience:
                break
    with torch.no_grad():
        model.D.copy_(best_d)
    return model.eval()


def _train_scratch(data: Tensors, dim: int, cfg: DownstreamConfig, seed: int) -> OptionScorer:
    q, o, y = data
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the initial weights
    model = OptionScorer(dim, cfg.mcqa_hidden, cfg.mcqa_dropout)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.mcqa_lr, weight_decay=cfg.mcqa_weight_decay)
    model.train()
    for _ in range(cfg.mcqa_epochs):
        perm = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), cfg.mcqa_batch_size):
            b = perm[i:i + cfg.mcqa_batch_size]
            loss = nn.functional.cross_entropy(model(q[b], o[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def train_scorer(qs: list[Question], emb: Mapping[str, np.ndarray], cfg: DownstreamConfig,
                 seed: int) -> nn.Module:
    """Fit a scorer with cross-entropy over the five options: by default (``cfg.mcqa_init="adapter"``) an
    :class:`AdapterScorer` that starts as the zero-shot cosine scorer -- with no question (or too few to hold
    a slice out) it *is* the zero-shot scorer; ``"scratch"``: an :class:`OptionScorer` from random weights."""
    if cfg.mcqa_init == "scratch" and not qs:
        raise ValueError("cannot train a QA model from scratch on zero questions")
    if not emb:
        raise ValueError("emb holds no embeddings: cannot tell the embedding size")
    dim = len(next(iter(emb.values())))
    data = _tensors(qs, emb) if qs else (torch.zeros(0, dim), torch.zeros(0, len(LETTERS), dim),
                                         torch.zeros(0, dtype=torch.long))
    train = _train_adapter if cfg.mcqa_init == "adapter" else _train_scratch
    return train(data, dim, cfg, seed)


@torch.no_grad()
def correct(model: nn.Module, qs: list[Question] | Tensors,
            emb: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Per question, whether the top-scored option is the answer (``qs`` may be precomputed ``_tensors``)."""
    q, o, y = qs if isinstance(qs, tuple) else _tensors(qs, emb)
    return (model(q, o).argmax(-1) == y).numpy()


def accuracy(model: nn.Module, qs: list[Question] | Tensors,
             emb: Mapping[str, np.ndarray] | None = None) -> float:
    """Share of questions whose top-scored option is the answer (``qs`` may be precomputed ``_tensors``)."""
    return float(correct(model, qs, emb).mean())


def mcqa_experiment(synthetic: Mapping[str, list[str]] | Callable[[int], Mapping], *,
                    cfg: DownstreamConfig | None = None, embedder: Embedder = None,
                    real_train: list[Question] | None = None, dev: list[Question] | None = None,
                    **overrides) -> pd.DataFrame:
    """Train and score QA models for every method and seed.

    ``synthetic[method]`` = raw synthetic question texts (parsed here; rejects are counted), or a
    callable ``seed -> that dict``. Rows: (method, setting, seed, accuracy, n_train, n_real,
    n_synth, n_generated, n_accepted, n_rejected); the rejection reasons per method are in
    ``df.attrs["rejections"]``.
    """
    cfg = (cfg or DownstreamConfig()).replace(**overrides)
    real_train = real_questions("train") if real_train is None else list(real_train)
    dev = real_questions("dev") if dev is None else list(dev)
    if not real_train or not dev:
        raise ValueError(f"real_train ({len(real_train)}) and dev ({len(dev)}) must both hold questions")
    if cfg.n_dev:
        dev = sample(dev, min(cfg.n_dev, len(dev)), sub_rng(0, "dev"), "dev")

    skipped: dict[str, list[int]] = {}  # method -> seeds it had no valid question in
    plans, rejections = [], {}  # plans: (method, setting, seed, questions, n_real, n_synth, counts)
    counted: set[tuple[str, int]] = set()  # (method, hash of its texts): a set reused by every seed counts once
    for seed in cfg.seeds:
        syn, counts = {}, {}
        for m, texts in resolve_synthetic(synthetic, seed).items():
            kept, why = parse_questions(check_texts(texts, f"synthetic[{m!r}]"))
            syn[m] = kept
            counts[m] = {"n_generated": len(texts), "n_accepted": len(kept), "n_rejected": sum(why.values())}
            rejections.setdefault(m, Counter())
            key = (m, hash(tuple(texts)))
            if key not in counted:  # the reasons of each distinct set, not once per seed
                counted.add(key)
                rejections[m].update(why)
        if not syn:
            raise ValueError("synthetic data holds no methods")
        empty = [m for m, v in syn.items() if not v]
        if len(empty) == len(syn):
            raise ValueError(f"seed {seed}: no valid synthetic question for method(s) {empty}; "
                             f"rejection reasons: {dict(rejections[empty[0]].most_common(3))}")
        for m in empty:  # a method whose every question was rejected cannot train a model: say so, keep the rest
            warnings.warn(f"seed {seed}: method {m!r} produced no valid question "
                          f"({dict(rejections[m].most_common(3))}); it is left out of this seed", stacklevel=2)
            skipped.setdefault(m, []).append(seed)
            del syn[m]
        n_syn = min([cfg.n_synth_questions or 10**9] + [len(v) for v in syn.values()])
        n_real = cfg.n_real_questions or n_syn
        real = sample(real_train, n_real, sub_rng(seed, "real"), "real_train")
        plans.append((REAL_METHOD, "real", seed, real, n_real, 0, {}))
        for m, kept in syn.items():
            picked = sample(kept, n_syn, sub_rng(seed, "synth", m), f"synthetic[{m!r}] (valid)")
            plans.append((m, "real+synthetic", seed, real + picked, n_real, n_syn, counts[m]))
            plans.append((m, "synthetic", seed, picked, 0, n_syn, counts[m]))

    texts = [t for qs in [dev] + [p[3] for p in plans] for x in qs for t in (x.stem, *x.options)]
    emb = embed_lookup(texts, embedder, cfg.embedder)
    dev_xy = _tensors(dev, emb)
    rows, per_question = [], {}
    for method, setting, seed, qs, n_real, n_synth, counts in plans:
        model = train_scorer(qs, emb, cfg, seed)
        per_question[(method, setting, seed)] = hits = correct(model, dev_xy)
        rows.append({"method": method, "setting": setting, "seed": seed, "accuracy": float(hits.mean()),
                     "n_train": len(qs), "n_real": n_real, "n_synth": n_synth, **counts})
    df = pd.DataFrame(rows)
    # plain lists and records, not arrays or frames: pandas compares attrs when it combines frames
    df.attrs["dev_correct"] = {k: v.astype(int).tolist() for k, v in per_question.items()}  # for vs_real()
    df.attrs["vs_real"] = vs_real(per_question).to_dict(orient="records")
    df.attrs["rejections"] = {m: dict(c) for m, c in rejections.items()}
    df.attrs["skipped"] = skipped
    df.attrs["chance"] = CHANCE
    df.attrs["zero_shot"] = zero_shot_accuracy(dev, emb)
    return df


def zero_shot_accuracy(qs: list[Question], emb: Mapping[str, np.ndarray]) -> float:
    """Dev accuracy of picking the option most similar to the question (cosine, no training): the untrained
    :class:`AdapterScorer`, so the default learner with nothing to learn from scores exactly this. A reference
    point that shows how much the trained scorers add (or lose) over the embedder alone."""
    if not qs:
        raise ValueError("zero_shot_accuracy needs at least one question")
    data = _tensors(qs, emb)
    return float(correct(AdapterScorer(data[0].shape[1]).eval(), data).mean())
