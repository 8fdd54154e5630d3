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
live in :mod:`steer_lib.metrics.fidelity`; :func:`evaluate` runs all of them. MAUVE under ~1,000
samples per side is optimistic and noisy: ``evaluate`` says so in its ``warnings``.

>>> normalised_ngrams(["a b c a b c"], n=3, tokenizer=str.split)  # abc bca cab abc: 3 unique of 4
0.75
>>> diversity(["a b a b"], tokenizer=str.split)  # bigrams 2/3 × trigrams 2/2 × 4-grams 1/1
0.6666666666666666
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Sequence

Tokenizer = Any  # None (the default model's), a name/path, an HF tokenizer, or a function str -> list


class MetricWarning(UserWarning):
    """A metric is NaN (too little input) or should be read with care (e.g. MAUVE at small n)."""


@lru_cache(maxsize=4)
def _hf_tokenizer(name: str | None):
    from ..models import load_tokenizer

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
    from ..data.tasks import get_task

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
