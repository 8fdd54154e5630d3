"""Shared pieces of the downstream experiments: the config, sentence embeddings, input checks.

Both downstream tasks (toxicity classification, multiple-choice QA) work on frozen
sentence embeddings, so every text is embedded exactly once per run and looked up by
its string afterwards; seeds then only redraw subsets and classifier initialisations,
which takes seconds.

>>> DownstreamConfig.for_profile("smoke").seeds
(0,)
>>> DownstreamConfig().replace(n_real_per_class=0)
Traceback (most recent call last):
...
ValueError: n_real_per_class=0 must be >= 1
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np

from ..config import Config

# What an experiment accepts as an embedder: None (the kit's default, cached on disk), a model
# name, a callable ``texts -> (n, d) array``, a sentence-transformers model, or an
# ``steer_lib.metrics.Embedder``.
Embedder = Union[None, str, Callable[[list[str]], np.ndarray], Any]



MCQA_INITS = ("adapter", "scratch")


@dataclass(frozen=True)
class DownstreamConfig(Config):
    # Each seed redraws the real subset, the synthetic subset (and, at paper, the generation itself;
    # smoke and quick reuse generation seed 0) and the classifier's initialisation / sampling.
    seeds: tuple[int, ...] = (0, 1, 2)
    methods: tuple[str, ...] = ()  # methods to compare; () = the generation stage's own list (ExperimentConfig)
    # --- comments -> toxicity classifier
    n_real_per_class: int = 100  # scarce real data: this many toxic + this many clean comments
    n_synth_per_class: int | None = None  # synthetic per class per method; None = the fewest any method has
    n_test_per_class: int | None = None  # held-out Jigsaw comments per class; None = the whole pool (600)
    C: float = 1.0  # inverse L2 strength of the logistic regression on embeddings
    # --- commonsense -> multiple-choice QA
    n_synth_questions: int | None = None  # N synthetic questions per method; None = the fewest valid any method has
    n_real_questions: int | None = None  # real CSQA train questions; None = N, the synthetic count (a fair match)
    n_dev: int | None = None  # CSQA dev questions to score; None = all 1,221
    # The default learner ("adapter") starts as the zero-shot cosine scorer and learns W in s·cos(W q, o), early-
    # stopped on a held-out slice of its own training questions; "scratch" is a linear scorer (or MLP) over pair
    # features from random weights. Measured: docs/measurements.md (lr and epochs chosen on CSQA train, not dev).
    mcqa_init: str = "adapter"
    mcqa_epochs: int = 100  # passes over the training questions (adapter: at most; early stopping ends it sooner)
    mcqa_lr: float = 3e-4  # Adam(W) learning rate (scratch: 1e-3 was its measured setting)
    mcqa_weight_decay: float = 0.0  # adapter: L2 pull of W toward the identity; scratch: AdamW weight decay
    mcqa_val_frac: float = 0.2  # adapter: share of the training questions held out for early stopping
    mcqa_patience: int = 10  # adapter: epochs without a better held-out loss before it stops
    mcqa_hidden: int = 0  # scratch: width of the hidden layer; 0 = linear (an MLP overfits 400-1,000 questions)
    mcqa_dropout: float = 0.1  # scratch: dropout on the scorer's input and hidden layer
    mcqa_batch_size: int = 64  # scratch: questions per optimisation step (the adapter trains full-batch)
    # --- shared
    embedder: str | None = None  # sentence-transformers model; None = the embedded all-MiniLM-L6-v2

    PROFILES = {
        # CI: one seed, small subsets, two methods -- seconds once embeddings are cached.
        "smoke": {"seeds": (0,), "methods": ("top_k", "steer"), "n_real_per_class": 50,
                  "n_test_per_class": 150, "n_dev": 300},
        # This machine: three seeds, full held-out sets.
        "quick": {"seeds": (0, 1, 2)},
        # The paper's scale: more seeds and larger synthetic / real sets.
        "paper": {"seeds": (0, 1, 2, 3, 4)},
    }

    def validate(self) -> None:
        if not self.seeds:
            raise ValueError("seeds=() must name at least one seed")
        for s in self.seeds:
            if not isinstance(s, int) or s < 0:
                raise ValueError(f"seeds={self.seeds!r}: every seed must be a non-negative integer")
        for name in ("n_real_per_class", "mcqa_epochs", "mcqa_batch_size", "mcqa_patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 1")
        for name in ("n_synth_per_class", "n_test_per_class", "n_synth_questions", "n_real_questions", "n_dev"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"{name}={v!r} must be >= 1 or None")
        if self.C <= 0:
            raise ValueError(f"C={self.C!r} must be > 0")
        if self.mcqa_hidden < 0:
            raise ValueError(f"mcqa_hidden={self.mcqa_hidden!r} must be >= 0 (0 = linear scorer)")
        if self.mcqa_lr <= 0 or self.mcqa_weight_decay < 0:
            raise ValueError(f"mcqa_lr={self.mcqa_lr!r} must be > 0 and mcqa_weight_decay="
                             f"{self.mcqa_weight_decay!r} >= 0")
        if self.mcqa_init not in MCQA_INITS:
            raise ValueError(f"mcqa_init={self.mcqa_init!r} is not one of {MCQA_INITS}")
        if not 0 <= self.mcqa_val_frac < 1:
            raise ValueError(f"mcqa_val_frac={self.mcqa_val_frac!r} must be in [0, 1)")
        if not 0 <= self.mcqa_dropout < 1:
            raise ValueError(f"mcqa_dropout={self.mcqa_dropout!r} must be in [0, 1)")


# ---------------------------------------------------------------- embeddings
_SHARED: dict[str | None, Any] = {}  # one cached Embedder per model name, so its in-memory hits persist


def get_embedder(embedder: Embedder = None, name: str | None = None):
    """The :class:`steer_lib.metrics.Embedder` to use: ``embedder`` if given (a name, model,
    function or Embedder), else the kit's default model ``name`` through the on-disk cache."""
    from ..metrics.embeddings import Embedder as CachedEmbedder
    from ..metrics.embeddings import as_embedder

    if embedder is not None:
        return as_embedder(embedder)
    if name not in _SHARED:
        _SHARED[name] = CachedEmbedder(name)
    return _SHARED[name]


def embed_lookup(texts: Sequence[str], embedder: Embedder = None, name: str | None = None) -> dict[str, np.ndarray]:
    """Embed the distinct ``texts`` once (through the shared embedding cache); return ``{text: vector}``.

    >>> fake = lambda ts: np.array([[len(t), 1.0] for t in ts])
    >>> embed_lookup(["ab", "abc", "ab"], fake)["abc"].tolist()
    [3.0, 1.0]
    """
    uniq = list(dict.fromkeys(texts))
    if not uniq:
        return {}
    vecs = np.asarray(get_embedder(embedder, name).encode(uniq), dtype=np.float32)
    return dict(zip(uniq, vecs))


# ---------------------------------------------------------------- helpers
def sub_rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator fixed by the seed and a label, so each method's subset is independent of
    which other methods ran (adding a method never changes another method's numbers)."""
    salt = zlib.crc32("/".join(parts).encode())
    return np.random.default_rng([seed, salt])


def sample(items: Sequence, n: int, rng: np.random.Generator, what: str) -> list:
    """``n`` items drawn without replacement; a clear error when there are too few."""
    if n > len(items):
        raise ValueError(f"{what}: asked for {n} examples but only {len(items)} are available")
    idx = rng.choice(len(items), size=n, replace=False)
    return [items[i] for i in sorted(idx)]


def check_texts(texts: Any, what: str) -> list[str]:
    """A list of strings, or a ValueError/TypeError that names ``what`` is wrong."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"{what} must be a list of strings, got {type(texts).__name__}")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"{what}[{bad[0]}] is {type(texts[bad[0]]).__name__}, not str")
    return list(texts)


def resolve_synthetic(synthetic: Mapping | Callable[[int], Mapping], seed: int) -> Mapping:
    """Synthetic data for one seed: either a fixed mapping, or a callable ``seed -> mapping``
    (how the pipeline passes a fresh generation per seed)."""
    out = synthetic(seed) if callable(synthetic) else synthetic
    if not isinstance(out, Mapping):
        raise TypeError(f"synthetic data must be a dict keyed by method, got {type(out).__name__}")
    return out


# ---------------------------------------------------------------- paired comparison with real-only
def vs_real(per_question: Mapping[tuple, Sequence], *, reps: int = 2000, seed: int = 0, level: float = 0.95,
            real_method: str = "real-only"):
    """Each (method, setting)'s held-out accuracy minus real-only's, with a paired bootstrap interval over the
    held-out items (dev questions, test comments): the same resampled items for both; each seed paired with
    real-only at that seed, seeds averaged. ``per_question[(method, setting, seed)]`` = 0/1 hit per item.

    >>> hits = {("real-only", "real", 0): np.r_[np.ones(50), np.zeros(50)].astype(bool),
    ...         ("m", "synthetic", 0): np.r_[np.ones(50), np.zeros(50)].astype(bool)}
    >>> r = vs_real(hits).to_dict(orient="records")[0]
    >>> r["method"], r["diff"], bool(r["ci_lo"] <= 0 <= r["ci_hi"]), bool(r["separated"])
    ('m', 0.0, True, False)
    """
    import pandas as pd

    per_question = {k: np.asarray(v, dtype=bool) for k, v in per_question.items()}
    base = {s: v for (m, _, s), v in per_question.items() if m == real_method}
    keys = sorted({(m, st) for (m, st, _) in per_question if m != real_method}, key=str)
    if not base or not keys:
        return pd.DataFrame(columns=["method", "setting", "diff", "ci_lo", "ci_hi", "separated", "seeds"])
    n = len(next(iter(base.values())))
    idx = np.random.default_rng([seed, 6]).integers(0, n, (reps, n))  # paired: one draw for every setting
    rows = []
    for m, st in keys:
        seeds = [s for (mm, ss, s) in per_question if (mm, ss) == (m, st) and s in base]
        d = np.mean([per_question[(m, st, s)].astype(float) - base[s].astype(float) for s in seeds], axis=0)
        boot = d[idx].mean(1)
        alpha = (1 - level) / 2
        lo, hi = np.quantile(boot, [alpha, 1 - alpha])
        rows.append({"method": m, "setting": st, "diff": float(d.mean()), "ci_lo": float(lo), "ci_hi": float(hi),
                     "separated": bool(lo > 0 or hi < 0), "seeds": len(seeds)})
    return pd.DataFrame(rows)
