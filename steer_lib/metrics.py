"""Text-level metrics and :func:`evaluate`, which scores a synthetic set against a real one.

Text metrics (on token streams; tokenizer = the default model's, selectable):

- **normalised n-grams** ``= |unique n-grams| / |n-grams|`` of ``tokenize(" ".join(texts))``
  (n=3 by default; 1 = no n-gram repeats, → 0 as the set repeats itself). For the real set the
  joined text is first cut to the synthetic joined text's length in characters (as the STEER
  authors did), so both sides are scored on equally long streams.
- **diversity** ``= ∏_{n=2..4} normalised n-grams(n)`` on the same token streams.
- **validity** = share of texts the task's parser accepts; **duplicate rate** = ``1 − |unique texts| / |texts|``;
  **mean length** = mean tokens per text.

Embedding metrics (cosine, centroid cosine, MAUVE, adversarial AUROC, k-NN precision/recall)
live in :mod:`steer_lib.fidelity`; :func:`evaluate` runs all of them. MAUVE under ~1,000
samples per side is optimistic and noisy: ``evaluate`` says so in its ``warnings``.

>>> normalised_ngrams(["a b c a b c"], n=3, tokenizer=str.split)  # abc bca cab abc: 3 unique of 4
0.75
>>> diversity(["a b a b"], tokenizer=str.split)  # bigrams 2/3 × trigrams 2/2 × 4-grams 1/1
0.6666666666666666
"""
from __future__ import annotations

import math
import time
import warnings
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np

from . import fidelity
from .embeddings import as_embedder

Tokenizer = Any  # None (the default model's), a name/path, an HF tokenizer, or a function str -> list


class MetricWarning(UserWarning):
    """A metric is NaN (too little input) or should be read with care (e.g. MAUVE at small n)."""


@lru_cache(maxsize=4)
def _hf_tokenizer(name: str | None):
    from .models import load_tokenizer

    return load_tokenizer(name)


def tokenize(text: str, tokenizer: Tokenizer = None) -> list:
    """Tokens of ``text``: an HF tokenizer's ``.tokenize``, or any function ``str -> list``."""
    if tokenizer is None or isinstance(tokenizer, str):
        tokenizer = _hf_tokenizer(tokenizer)
    if hasattr(tokenizer, "tokenize"):
        return tokenizer.tokenize(text)
    if callable(tokenizer):
        return list(tokenizer(text))
    raise ValueError(f"tokenizer={tokenizer!r} is neither a tokenizer name, an object with .tokenize, nor a function")


def ngram_ratio(tokens: Sequence, n: int) -> float:
    """``|unique n-grams| / |n-grams|`` of one token stream; NaN when it has fewer than ``n`` tokens."""
    if n < 1:
        raise ValueError(f"n={n!r} must be >= 1")
    grams = list(zip(*(tokens[i:] for i in range(n))))
    return len(set(grams)) / len(grams) if grams else float("nan")


def normalised_ngrams(texts: Sequence[str], n: int = 3, tokenizer: Tokenizer = None) -> float:
    """Normalised n-grams: unique / total token n-grams of ``" ".join(texts)`` (NaN if < n tokens)."""
    return ngram_ratio(tokenize(" ".join(texts), tokenizer), n)


def diversity(texts: Sequence[str], tokenizer: Tokenizer = None) -> float:
    """Diversity: ``∏_{n=2..4} unique_n / total_n`` over the tokens of ``" ".join(texts)``."""
    tokens = tokenize(" ".join(texts), tokenizer)
    return math.prod(ngram_ratio(tokens, n) for n in (2, 3, 4))


def cut_joined(texts: Sequence[str], n_chars: int) -> str:
    """``" ".join(texts)[:n_chars]``: the real side of the n-gram metrics, as long as the synthetic side."""
    return " ".join(texts)[:n_chars]


def validity_rate(texts: Sequence[str], task) -> float:
    """Share of ``texts`` that ``task.parse`` accepts (``task``: a Task or its name)."""
    from .tasks import get_task

    task = get_task(task) if isinstance(task, str) else task
    if not texts:
        raise ValueError("validity: no texts")
    return sum(task.parse(t).valid for t in texts) / len(texts)


def duplicate_rate(texts: Sequence[str]) -> float:
    """``1 − |distinct texts| / |texts|`` (exact string match).

    >>> duplicate_rate(["a", "b", "a", "a"])
    0.5
    """
    if not texts:
        raise ValueError("duplicate rate: no texts")
    return 1.0 - len(set(texts)) / len(texts)


def sample_pair(synthetic: Sequence[str], real: Sequence[str], n: int | None, seed: int):
    """Both sets cut to ``min(len(syn), len(real), n)`` texts, chosen with ``seed``, in input order.

    The synthetic and real draws use separate streams, and each takes a prefix of a seeded
    permutation, so the same real subset is used for every method scored at the same n, and a
    larger n extends a smaller one (embedding caches stay warm).
    """
    k = min(len(synthetic), len(real), n if n is not None else len(synthetic))

    def draw(xs: Sequence[str], stream: int) -> list[str]:
        if len(xs) == k:
            return list(xs)
        idx = np.random.default_rng([seed, stream]).permutation(len(xs))[:k]
        return [xs[i] for i in sorted(idx)]

    return draw(synthetic, 0), draw(real, 1)


def _check_texts(texts: Sequence[str], name: str) -> list[str]:
    if isinstance(texts, str):
        raise ValueError(f"{name} must be a list of texts, not one string")
    texts = list(texts)
    if not texts:
        raise ValueError(f"{name} set is empty")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise ValueError(f"{name} set: items {bad[:5]} are not strings (e.g. {texts[bad[0]]!r})")
    return texts


def evaluate(synthetic: Sequence[str], real: Sequence[str], *, task=None, embedder=None, seed: int = 0,
             n: int | None = None, mauve_seeds: int = 3, classifier: str = "logreg", bootstrap: int = 0,
             tokenizer: Tokenizer = None, mauve_buckets: int | None = None, knn_k: int = 5) -> dict:
    """Score ``synthetic`` against ``real`` with every metric; deterministic given ``seed``.

    The larger set is sampled down to the smaller (and both to ``n`` if given) with ``seed``.
    ``embedder``: None (all-MiniLM-L6-v2, cached on disk), a model name/path, an
    :class:`~steer_lib.embeddings.Embedder`, a loaded model or a function. ``bootstrap=B``
    adds 95 % percentile intervals (``<key>_ci``) for cosine, centroid cosine, validity and mean
    length (not for n-gram ratios: resampling with replacement duplicates texts and biases them).

    A metric the input is too small for is NaN, with a line in ``warnings`` naming it and why.
    """
    synthetic, real = _check_texts(synthetic, "synthetic"), _check_texts(real, "real")
    if n is not None and n < 1:
        raise ValueError(f"n={n!r} must be >= 1")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    if classifier not in fidelity.CLASSIFIERS:
        raise ValueError(f"classifier={classifier!r} is not one of {fidelity.CLASSIFIERS}")
    if mauve_seeds < 1:
        raise ValueError(f"mauve_seeds={mauve_seeds!r} must be >= 1")
    if bootstrap < 0 or bootstrap == 1:
        raise ValueError(f"bootstrap={bootstrap!r} must be 0 (off) or >= 2 replicates")
    from .tasks import get_task

    task_obj = get_task(task) if isinstance(task, str) else task
    warns: list[str] = []
    t0 = time.perf_counter()
    syn, rea = sample_pair(synthetic, real, n, seed)
    k = len(syn)
    if n is not None and n > k:
        warns.append(f"n: asked for {n} but only {k} texts per side are available "
                     f"({len(synthetic)} synthetic, {len(real)} real)")
    empty = sum(not t.strip() for t in syn)
    if empty:
        warns.append(f"input: {empty} of {k} synthetic texts are empty")

    def guarded(name: str, fn: Callable[[], Any], width: int = 1):
        try:
            return fn()
        except ValueError as exc:  # too little input for this metric: NaN, never a silent number
            warns.append(f"{name}: NaN because {exc}")
            return (float("nan"),) * width if width > 1 else float("nan")

    out: dict[str, Any] = {"n": k, "n_synthetic_in": len(synthetic), "n_real_in": len(real), "seed": seed}
    # --- text metrics: one token stream per side, shared by n-grams and diversity
    syn_joined = " ".join(syn)
    real_cut = cut_joined(rea, len(syn_joined))
    if len(real_cut) < len(syn_joined):
        warns.append(f"ngram3_real: the real joined text ({len(real_cut)} chars) is shorter than the synthetic one "
                     f"({len(syn_joined)} chars), so the real side is scored on fewer tokens")
    streams = {"": tokenize(syn_joined, tokenizer), "_real": tokenize(real_cut, tokenizer)}
    for side, toks in streams.items():
        ratios = {m: ngram_ratio(toks, m) for m in (2, 3, 4)}
        out[f"ngram3{side}"] = ratios[3]
        out[f"diversity{side}"] = math.prod(ratios.values())
        if math.isnan(ratios[4]):
            warns.append(f"ngram3{side}/diversity{side}: NaN because the text has only {len(toks)} tokens")
    lengths = {"": np.array([len(tokenize(t, tokenizer)) for t in syn], dtype=float),
               "_real": np.array([len(tokenize(t, tokenizer)) for t in rea], dtype=float)}
    for side, texts in (("", syn), ("_real", rea)):
        out[f"mean_length{side}"] = float(lengths[side].mean())
        out[f"duplicate_rate{side}"] = duplicate_rate(texts)
    valid = None
    if task_obj is not None:
        valid = np.array([task_obj.parse(t).valid for t in syn], dtype=float)
        out["validity"] = float(valid.mean())
        out["validity_real"] = validity_rate(rea, task_obj)
    t_text = time.perf_counter()
    # --- embedding metrics
    emb = as_embedder(embedder)
    e_syn, e_real = emb.encode(syn), emb.encode(rea)
    t_embed = time.perf_counter()
    out["cosine"] = guarded("cosine", lambda: fidelity.cosine_similarity(e_syn, e_real))
    out["cosine_centroid"] = guarded("cosine_centroid", lambda: fidelity.centroid_cosine(e_syn, e_real))
    m = guarded("mauve", lambda: fidelity.mauve_score(e_real, e_syn, num_buckets=mauve_buckets,
                                                        seeds=mauve_seeds, seed=seed), width=4)
    out["mauve"], out["mauve_sd"] = m[0], m[1]
    out["mauve_buckets"] = mauve_buckets or fidelity.mauve_buckets(k)
    if k < fidelity.MAUVE_RELIABLE_N and not math.isnan(out["mauve"]):
        warns.append(f"mauve: n={k} < {fidelity.MAUVE_RELIABLE_N} per side, so MAUVE is optimistic and noisy; "
                     "compare methods only at equal n and read mauve_sd")
    a = guarded("adv_auroc", lambda: fidelity.adversarial_auroc(e_real, e_syn, classifier=classifier, seed=seed), 3)
    out["adv_auroc"], out["adv_auroc_sd"] = a[0], a[1]
    out["alpha_precision"], out["beta_recall"] = guarded(
        "alpha_precision/beta_recall", lambda: fidelity.precision_recall(e_real, e_syn, k=knn_k), 2)
    if bootstrap:
        u_syn = e_syn / np.linalg.norm(e_syn, axis=1, keepdims=True)
        u_real = e_real / np.linalg.norm(e_real, axis=1, keepdims=True)
        cis = {"cosine": (lambda s, r: float(s.mean(0) @ r.mean(0)), [u_syn, u_real]),
               "cosine_centroid": (lambda s, r: fidelity.centroid_cosine(s, r), [u_syn, u_real]),
               "mean_length": (np.mean, [lengths[""]])}
        if valid is not None:
            cis["validity"] = (np.mean, [valid])
        for key, (stat, arrays) in cis.items():
            out[f"{key}_ci"] = list(guarded(f"{key}_ci", lambda: fidelity.bootstrap_ci(
                stat, arrays, reps=bootstrap, seed=seed), 2))
    t_end = time.perf_counter()
    out.update(embedder=emb.model_id, classifier=classifier, mauve_seeds=mauve_seeds, knn_k=knn_k,
               seconds={"text": round(t_text - t0, 2), "embed": round(t_embed - t_text, 2),
                        "fidelity": round(t_end - t_embed, 2), "total": round(t_end - t0, 2)},
               warnings=warns)
    for w in warns:
        warnings.warn(w, MetricWarning, stacklevel=2)
    return out
