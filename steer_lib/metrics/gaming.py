"""Three "synthetic" sets built to game the metrics, so a notebook can show what each measure alone rewards.

- ``copies``: the real reference texts themselves, unchanged;
- ``one_repeated``: one real text, repeated as many times;
- ``word_salad``: alphabetic words drawn uniformly at random from a vocabulary (by default the real texts'; pass a larger
  corpus, e.g. the whole training pool, as ``vocabulary``), as many per text as a real text has.

None of them is useful synthetic data, and each maximises at least one measure; which one is notebook 04's
predict-first exercise (so the scores are shown there, not written here).

>>> sets = gamed_sets(["a b c", "d e f g", "h i"], seed=0)
>>> sets["copies"], sets["one_repeated"]
(['a b c', 'd e f g', 'h i'], ['a b c', 'a b c', 'a b c'])
>>> [len(t.split()) for t in sets["word_salad"]]
[3, 4, 2]
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

GAMED = ("copies", "one_repeated", "word_salad")


def gamed_sets(real: Sequence[str], *, vocabulary: Sequence[str] | None = None,
               seed: int = 0) -> dict[str, list[str]]:
    """The three gamed sets, each as long as ``real`` (new lists; the inputs are not modified).

    ``vocabulary``: texts whose distinct words the salad draws from (default ``real``). A small vocabulary
    repeats words, and with them n-grams, so the salad's diversity grows with the vocabulary's size.
    """
    if isinstance(real, str) or not real:
        raise ValueError("gamed_sets: real must be a non-empty list of texts")
    if isinstance(vocabulary, str):
        raise ValueError("gamed_sets: vocabulary must be a list of texts, not one string")
    real = list(real)
    words = {w for t in (real if vocabulary is None else vocabulary) for w in t.split()}
    if not words:
        raise ValueError("gamed_sets: the real texts have no words")
    # Alphabetic words only: comments hold "words" like "!!!!!!" or "hahahaha" whose sub-word tokens repeat n-grams
    # inside a single word, which made the toxic-comment salad score *below* the real data (0.54 vs 0.79, smoke).
    vocab = sorted(w for w in words if w.isalpha()) or sorted(words)
    rng = np.random.default_rng(seed)
    salad = [" ".join(vocab[i] for i in rng.integers(0, len(vocab), max(1, len(t.split())))) for t in real]
    return {"copies": list(real), "one_repeated": [real[0]] * len(real), "word_salad": salad}
