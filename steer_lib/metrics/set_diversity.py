"""Diversity measures from work on synthetic text since the paper, each on one set of texts.

Shaib et al. ("Standardizing the Measurement of Text Diversity", arXiv 2403.00553) recommend a small set of
low-correlation measures; the Vendi score (Friedman & Dieng 2023) is the common embedding-space one. All of them
move with text length, so :func:`length_stats` is reported beside them.

- :func:`compression_ratio` -- ``len(bytes(" ".join(texts))) / len(gzip(...))``; higher = more repetitive;
- :func:`self_repetition` -- share of texts sharing at least one token n-gram (n = 4) with another text;
- :func:`self_bleu` -- mean BLEU (sacrebleu, 0–1) of a text against the others, on a seeded subsample;
- :func:`vendi_score` -- ``exp(−Σ λ log λ)``, λ the eigenvalues of ``K/n``, ``K`` the cosine kernel;
- :func:`length_stats` -- mean and sd (ddof=0) of the length in tokens.

>>> compression_ratio(["abc"] * 100) > 10 > compression_ratio(["the cat", "a dog barks"])
True
>>> self_repetition(["a b c d e", "x y z w", "p a b c d"], tokenizer=str.split)  # 'a b c d' is shared
0.6666666666666666
"""
from __future__ import annotations

import gzip
from collections import Counter
from typing import Sequence

import numpy as np

from .text import Tokenizer, tokenize

SELF_BLEU_SAMPLES = 200  # hypotheses scored; with SELF_BLEU_REFS refs each, ~1 s at 1,000 texts, any n
SELF_BLEU_REFS = 50  # references per hypothesis, drawn from the other texts
SELF_REPETITION_N = 4


def _texts(texts: Sequence[str], name: str, minimum: int = 1) -> list[str]:
    if isinstance(texts, str):
        raise ValueError(f"{name}: texts must be a list of texts, not one string ({texts[:30]!r})")
    texts = list(texts)
    if len(texts) < minimum:
        raise ValueError(f"{name} needs at least {minimum} texts; got {len(texts)}")
    return texts


def compression_ratio(texts: Sequence[str]) -> float:
    """Raw over gzip size (level 9) of the UTF-8 bytes of ``" ".join(texts)``, as Shaib et al. compute it.

    A set that repeats itself compresses well, so its ratio is high; unrepetitive English is ~2–3.
    The gzip header (~20 bytes) weighs on very short inputs, so compare sets of similar size.

    >>> round(compression_ratio(["to be or not to be"] * 50), 1)
    21.1
    """
    raw = " ".join(_texts(texts, "compression ratio")).encode("utf-8")
    if not raw.strip():
        raise ValueError("compression ratio: the texts are all empty")
    return len(raw) / len(gzip.compress(raw, compresslevel=9, mtime=0))  # mtime=0: the same bytes on every run


def self_repetition(texts: Sequence[str], n: int = SELF_REPETITION_N, tokenizer: Tokenizer = None) -> float:
    """Share of texts that contain a token ``n``-gram also found in another text (a copy counts as another text).

    0 = no two texts share a long phrase; 1 = every text repeats one from elsewhere in the set.

    >>> self_repetition(["a b c d", "a b c d", "e f g h"], tokenizer=str.split)
    0.6666666666666666
    >>> self_repetition(["a b c", "a b c"], tokenizer=str.split)  # shorter than n: nothing to share
    0.0
    """
    texts = _texts(texts, "self-repetition", minimum=2)
    return self_repetition_tokens([tokenize(t, tokenizer) for t in texts], n)


def self_repetition_tokens(token_lists: Sequence[Sequence], n: int = SELF_REPETITION_N) -> float:
    """:func:`self_repetition` on texts already tokenised (``evaluate`` tokenises each text once for all measures).

    >>> self_repetition_tokens([[1, 2, 3, 4], [0, 1, 2, 3, 4]])
    1.0
    """
    if n < 1:
        raise ValueError(f"n={n!r} must be >= 1")
    if len(token_lists) < 2:
        raise ValueError(f"self-repetition needs at least 2 texts; got {len(token_lists)}")
    grams = [set(zip(*(toks[i:] for i in range(n)))) for toks in token_lists]
    df = Counter(g for gs in grams for g in gs)  # document frequency: each text counts an n-gram once
    return sum(any(df[g] > 1 for g in gs) for gs in grams) / len(token_lists)


def self_bleu(texts: Sequence[str], *, samples: int = SELF_BLEU_SAMPLES, refs: int = SELF_BLEU_REFS,
              seed: int = 0) -> float:
    """Mean sentence BLEU (sacrebleu, 13a tokens, exponential smoothing, 0–1) of a text against the others.

    Up to ``samples`` hypotheses, each against up to ``refs`` other texts, all drawn with ``seed``: the full
    measure is quadratic in the set size, the subsample keeps it ~1 s at 1,000 texts. Higher = more alike.

    >>> round(self_bleu(["the cat sat on the mat"] * 3), 6)
    1.0
    >>> self_bleu(["alpha beta gamma delta", "one two three four", "red green blue black"])
    0.0
    """
    from sacrebleu.metrics import BLEU

    texts = _texts(texts, "Self-BLEU", minimum=2)
    if samples < 1 or refs < 1:
        raise ValueError(f"samples={samples!r} and refs={refs!r} must be >= 1")
    rng = np.random.default_rng([seed, 7])  # a stream of its own: other seeded draws do not shift it
    n = len(texts)
    hyps = rng.permutation(n)[:samples] if n > samples else np.arange(n)
    bleu = BLEU(effective_order=True)  # effective order: short texts are not zeroed by absent 4-grams
    scores = []
    for i in hyps:
        others = np.delete(np.arange(n), i)
        pick = rng.choice(others, size=refs, replace=False) if len(others) > refs else others
        scores.append(bleu.sentence_score(texts[i], [texts[j] for j in pick]).score / 100.0)
    return float(np.mean(scores))


def vendi_score(embeddings: np.ndarray) -> float:
    """Vendi score of the cosine kernel: ``exp(−Σ λ_i log λ_i)``, λ the eigenvalues of ``K/n``, ``K = X̂ X̂ᵀ``.

    The effective number of distinct items: 1 when all rows point the same way, ``n`` when they are orthogonal.
    Computed from the ``d × d`` matrix ``X̂ᵀ X̂ / n``, which has the same non-zero eigenvalues (O(n d²), not O(n³)).

    >>> round(vendi_score(np.eye(4)), 6), round(vendi_score(np.ones((5, 3))), 6)
    (4.0, 1.0)
    """
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"Vendi score: embeddings must be a non-empty (n, d) array; got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"Vendi score: {int((norms == 0).sum())} zero vector(s); cosine is undefined for them")
    u = x / norms
    from .fidelity import single_threaded

    with single_threaded():  # a 384 × 384 problem: two BLAS threads on a shared CPU only fight (see fidelity)
        small = u @ u.T if len(u) < u.shape[1] else u.T @ u  # whichever side is smaller
        lam = np.linalg.eigvalsh(small / len(u))
    lam = lam[lam > 1e-12]  # float noise around 0 contributes 0 · log 0 = 0
    return float(np.exp(-(lam * np.log(lam)).sum()))


def length_stats(texts: Sequence[str], tokenizer: Tokenizer = None) -> tuple[float, float]:
    """Mean and sd (ddof=0) of the number of tokens per text.

    >>> length_stats(["a b", "a b c d"], tokenizer=str.split)
    (3.0, 1.0)
    """
    lengths = np.array([len(tokenize(t, tokenizer)) for t in _texts(texts, "length")], dtype=float)
    return float(lengths.mean()), float(lengths.std())
