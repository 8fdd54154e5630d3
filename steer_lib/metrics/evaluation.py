""":func:`evaluate`: every measure on one (synthetic, real) pair, with warnings that say what is unreliable.

Both sides are down-sampled to the same size first (:func:`sample_pair`), so no measure is biased by the
sizes; the embeddings come from one cached embedder for the whole call.
"""
from __future__ import annotations

import math
import time
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from . import fidelity, set_diversity
from .embeddings import as_embedder
from .text import MetricWarning, Tokenizer, cut_joined, duplicate_rate, ngram_ratio, tokenize, validity_rate


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
             n: int | None = None, mauve_seeds: int | None = None, classifier: str | None = None, bootstrap: int = 0,
             tokenizer: Tokenizer = None, mauve_buckets: int | None = None, knn_k: int = 5,
             protocol: str = "kit") -> dict:
    """Score ``synthetic`` against ``real`` with every metric; deterministic given ``seed``.

    The larger set is sampled down to the smaller (and both to ``n`` if given) with ``seed``.
    ``embedder``: None (all-MiniLM-L6-v2, cached on disk), a model name/path, an
    :class:`~steer_lib.metrics.Embedder`, a loaded model or a function. ``bootstrap=B``
    adds 95 % percentile intervals (``<key>_ci``) for cosine, centroid cosine, validity and mean
    length (not for n-gram ratios: resampling with replacement duplicates texts and biases them).

    ``protocol``: ``"kit"`` (default: ``classifier`` logreg, grouped stratified 5-fold CV shuffled with
    ``seed``; MAUVE with :func:`~.fidelity.mauve_buckets` buckets averaged over ``mauve_seeds`` = 3 k-means
    seeds) or ``"authors"`` (the STEER authors' code: default XGBoost under plain shuffled
    ``KFold(5, random_state=42)``, one MAUVE run with ``num_buckets='auto'`` and seed 25; ``seed`` then
    only draws the samples). See :func:`~.fidelity.protocol_settings` and ``docs/fidelity.md``.

    Besides the paper's measures: compression ratio, self-repetition, Self-BLEU and Vendi score for both sides
    (:mod:`~steer_lib.metrics.set_diversity`), with the length's mean and sd beside them (all are length-biased).
    ``seconds["diversity"]`` is what those measures cost.

    A metric the input is too small for is NaN, with a line in ``warnings`` naming it and why.
    """
    synthetic, real = _check_texts(synthetic, "synthetic"), _check_texts(real, "real")
    if n is not None and n < 1:
        raise ValueError(f"n={n!r} must be >= 1")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    proto = fidelity.protocol_settings(protocol, classifier=classifier, mauve_seeds=mauve_seeds,
                                       mauve_buckets=mauve_buckets)
    classifier, mauve_seeds = proto.classifier, proto.mauve_seeds
    if classifier not in fidelity.CLASSIFIERS:
        raise ValueError(f"classifier={classifier!r} is not one of {fidelity.CLASSIFIERS}")
    if mauve_seeds < 1:
        raise ValueError(f"mauve_seeds={mauve_seeds!r} must be >= 1")
    if bootstrap < 0 or bootstrap == 1:
        raise ValueError(f"bootstrap={bootstrap!r} must be 0 (off) or >= 2 replicates")
    from ..data.tasks import get_task

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
    per_text = {"": [tokenize(t, tokenizer) for t in syn], "_real": [tokenize(t, tokenizer) for t in rea]}
    lengths = {side: np.array([len(x) for x in toks], dtype=float) for side, toks in per_text.items()}
    for side, texts in (("", syn), ("_real", rea)):
        out[f"mean_length{side}"] = float(lengths[side].mean())
        out[f"length_sd{side}"] = float(lengths[side].std())
        out[f"duplicate_rate{side}"] = duplicate_rate(texts)
    valid = None
    if task_obj is not None:
        valid = np.array([task_obj.parse(t).valid for t in syn], dtype=float)
        out["validity"] = float(valid.mean())
        out["validity_real"] = validity_rate(rea, task_obj)
    t_text = time.perf_counter()
    # --- diversity measures since the paper (Shaib et al.): the real side compressed at the synthetic side's
    # length, like the n-grams, because gzip's ratio grows with the input's size
    for side, texts, joined in (("", syn, syn_joined), ("_real", rea, real_cut)):
        out[f"compression_ratio{side}"] = guarded(f"compression_ratio{side}",
                                                  lambda: set_diversity.compression_ratio([joined]))
        out[f"self_repetition{side}"] = guarded(f"self_repetition{side}",
                                                lambda: set_diversity.self_repetition_tokens(per_text[side]))
        out[f"self_bleu{side}"] = guarded(f"self_bleu{side}", lambda: set_diversity.self_bleu(texts, seed=seed))
    t_div = time.perf_counter()
    # --- embedding metrics
    emb = as_embedder(embedder)
    e_syn, e_real = emb.encode(syn), emb.encode(rea)
    t_embed = time.perf_counter()
    out["vendi"] = guarded("vendi", lambda: set_diversity.vendi_score(e_syn))
    out["vendi_real"] = guarded("vendi_real", lambda: set_diversity.vendi_score(e_real))
    t_vendi = time.perf_counter()
    out["cosine"] = guarded("cosine", lambda: fidelity.cosine_similarity(e_syn, e_real))
    out["cosine_centroid"] = guarded("cosine_centroid", lambda: fidelity.centroid_cosine(e_syn, e_real))
    authors = proto.name == "authors"
    m = guarded("mauve", lambda: fidelity.mauve_score(
        e_real, e_syn, num_buckets=proto.mauve_buckets, seeds=mauve_seeds,
        seed=fidelity.AUTHORS_MAUVE_SEED if authors else seed), width=4)
    out["mauve"], out["mauve_sd"] = m[0], m[1]
    out["mauve_buckets"] = fidelity.bucket_count(proto.mauve_buckets, k)
    if k < fidelity.MAUVE_RELIABLE_N and not math.isnan(out["mauve"]):
        warns.append(f"mauve: n={k} < {fidelity.MAUVE_RELIABLE_N} per side, so MAUVE is optimistic and noisy; "
                     "compare methods only at equal n and read mauve_sd")
    a = guarded("adv_auroc", lambda: fidelity.adversarial_auroc(
        e_real, e_syn, classifier=classifier, seed=fidelity.AUTHORS_CV_SEED if authors else seed,
        grouped=proto.grouped_cv), 3)
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
    out.update(embedder=emb.model_id, protocol=proto.name, classifier=classifier, mauve_seeds=mauve_seeds,
               knn_k=knn_k,
               seconds={"text": round(t_text - t0, 2), "diversity": round(t_div - t_text + t_vendi - t_embed, 2),
                        "embed": round(t_embed - t_div, 2), "fidelity": round(t_end - t_vendi, 2),
                        "total": round(t_end - t0, 2)},
               warnings=warns)
    for w in warns:
        warnings.warn(w, MetricWarning, stacklevel=2)
    return out
