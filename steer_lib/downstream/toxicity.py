"""Comments → toxicity classifier: does a method's synthetic data train a better classifier?

A logistic regression on frozen sentence embeddings (label 1 = toxic) is trained in three
settings and scored on the held-out Jigsaw test pools (600 toxic + 600 clean comments that
no generator saw; the generators were fine-tuned on the ``train`` split only):

- ``real``: a small real set (``n_real_per_class`` toxic + clean), mimicking scarce data;
  it does not depend on the method, so it appears once, as method ``real-only``;
- ``real+synthetic``: that real set plus ``n_synth_per_class`` synthetic comments per class;
- ``synthetic``: the synthetic comments alone.

Every method gets the same synthetic count per class (the fewest any method has, unless
set), so a method cannot win by having produced more samples.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import pandas as pd

from .common import (DownstreamConfig, Embedder, check_texts, embed_lookup, resolve_synthetic, sample, sub_rng,
                     vs_real)

CLASSES = ("toxic", "non-toxic")  # the keys of each method's synthetic dict; toxic is the positive class
REAL_METHOD = "real-only"  # the method name of the real-only baseline rows
SETTINGS = ("real", "real+synthetic", "synthetic")


def real_pools(split: str) -> dict[str, list[str]]:
    """Real Jigsaw comments per class: ``train`` (the generators' training pool) or ``test`` (held out)."""
    from ..data.tasks import get_task

    return {"toxic": get_task("comments-toxic").real_texts(split),
            "non-toxic": get_task("comments-nontoxic").real_texts(split)}


def _check_pools(pools: Mapping, what: str) -> dict[str, list[str]]:
    if not isinstance(pools, Mapping):
        raise TypeError(f"{what} must be a dict with keys {CLASSES}, got {type(pools).__name__}")
    missing = [c for c in CLASSES if c not in pools]
    extra = [k for k in pools if k not in CLASSES]
    if missing or extra:
        raise ValueError(f"{what} must have exactly the keys {CLASSES}; missing {missing}, unexpected {extra}")
    out = {c: check_texts(pools[c], f"{what}[{c!r}]") for c in CLASSES}
    for c, texts in out.items():
        if not texts:
            raise ValueError(f"{what}[{c!r}] is empty")
    return out


def _xy(pools: Mapping[str, list[str]], emb: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    texts = list(pools["toxic"]) + list(pools["non-toxic"])
    y = np.r_[np.ones(len(pools["toxic"])), np.zeros(len(pools["non-toxic"]))].astype(int)
    return np.stack([emb[t] for t in texts]), y


def fit_classifier(X: np.ndarray, y: np.ndarray, *, C: float = 1.0, seed: int = 0):
    """Logistic regression on embeddings; class-balanced so an uneven synthetic split cannot
    buy accuracy by predicting the majority class."""
    from sklearn.linear_model import LogisticRegression

    if len(set(y.tolist())) < 2:
        raise ValueError("the training set holds only one class; both toxic and non-toxic examples are needed")
    return LogisticRegression(C=C, max_iter=2000, class_weight="balanced", random_state=seed).fit(X, y)


def score(clf, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy, F1 (toxic = positive) and ROC-AUC on a held-out set."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    p = clf.predict_proba(X)[:, 1]
    pred = (p >= 0.5).astype(int)
    return {"accuracy": float(accuracy_score(y, pred)), "f1": float(f1_score(y, pred, zero_division=0)),
            "roc_auc": float(roc_auc_score(y, p))}


def toxicity_experiment(synthetic: Mapping[str, Mapping[str, list[str]]] | Callable[[int], Mapping],
                        *, cfg: DownstreamConfig | None = None, embedder: Embedder = None,
                        real_train: Mapping[str, list[str]] | None = None,
                        test: Mapping[str, list[str]] | None = None, **overrides) -> pd.DataFrame:
    """Train and score toxicity classifiers for every method and seed.

    ``synthetic[method] = {"toxic": [...], "non-toxic": [...]}``, or a callable ``seed -> that dict``
    (a fresh generation per seed). ``cfg`` / ``overrides`` (e.g. ``seeds=(0, 1)``) set sizes;
    ``real_train`` / ``test`` default to the Jigsaw ``train`` / ``test`` pools.

    Returns one row per (method, setting, seed) with ``accuracy``, ``f1``, ``roc_auc``,
    ``n_train``, ``n_real``, ``n_synth``; the ``real`` setting appears once, as ``real-only``.
    ``df.attrs["vs_real"]``: each setting's accuracy minus real-only's with a paired bootstrap interval over the
    test comments (:func:`~steer_lib.downstream.common.vs_real`).
    """
    cfg = (cfg or DownstreamConfig()).replace(**overrides)
    real_train = _check_pools(real_pools("train") if real_train is None else real_train, "real_train")
    test = _check_pools(real_pools("test") if test is None else test, "test")
    if cfg.n_test_per_class:  # a fixed, seed-independent subset: every row is scored on the same comments
        test = {c: sample(test[c], min(cfg.n_test_per_class, len(test[c])), sub_rng(0, "test", c), f"test[{c!r}]")
                for c in CLASSES}

    # Draw every seed's data first, so all texts are embedded in one batch.
    plans = []  # (method, setting, seed, pools, n_real, n_synth)
    for seed in cfg.seeds:
        syn = {m: _check_pools(v, f"synthetic[{m!r}]") for m, v in resolve_synthetic(synthetic, seed).items()}
        if not syn:
            raise ValueError("synthetic data holds no methods")
        real = {c: sample(real_train[c], cfg.n_real_per_class, sub_rng(seed, "real", c), f"real_train[{c!r}]")
                for c in CLASSES}
        plans.append((REAL_METHOD, "real", seed, real, 2 * cfg.n_real_per_class, 0))
        n_syn = cfg.n_synth_per_class or min(len(v[c]) for v in syn.values() for c in CLASSES)
        for m, pools in syn.items():
            picked = {c: sample(pools[c], n_syn, sub_rng(seed, "synth", m, c), f"synthetic[{m!r}][{c!r}]")
                      for c in CLASSES}
            both = {c: real[c] + picked[c] for c in CLASSES}
            plans.append((m, "real+synthetic", seed, both, 2 * cfg.n_real_per_class, 2 * n_syn))
            plans.append((m, "synthetic", seed, picked, 0, 2 * n_syn))

    all_texts = [t for pools in [test] + [p[3] for p in plans] for c in CLASSES for t in pools[c]]
    emb = embed_lookup(all_texts, embedder, cfg.embedder)
    X_test, y_test = _xy(test, emb)
    rows, hits = [], {}
    for method, setting, seed, pools, n_real, n_synth in plans:
        X, y = _xy(pools, emb)
        clf = fit_classifier(X, y, C=cfg.C, seed=seed)
        hits[(method, setting, seed)] = (clf.predict_proba(X_test)[:, 1] >= 0.5).astype(int) == y_test
        rows.append({"method": method, "setting": setting, "seed": seed, **score(clf, X_test, y_test),
                     "n_train": len(y), "n_real": n_real, "n_synth": n_synth})
    df = pd.DataFrame(rows)
    # accuracy's difference from real-only, paired over the test comments (plain lists: pandas compares attrs)
    df.attrs["test_correct"] = {k: v.astype(int).tolist() for k, v in hits.items()}
    df.attrs["vs_real"] = vs_real(hits, real_method=REAL_METHOD).to_dict(orient="records")
    return df
