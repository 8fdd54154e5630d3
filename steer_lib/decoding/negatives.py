"""The negative prompt N: which examples STEER steers away from, and how they are tokenized.

STEER (arXiv 2308.07645, §3) conditions the third branch on N = k examples drawn at
random from a pool that starts as the real data and grows with every finished synthetic
sample, so the model is pushed away from what has already been said. Each sample draws
its own N.

Reproducibility: sample ``i``'s draw uses an RNG seeded from ``(seed, i)`` and the pool's
contents at that moment. The engine adds a batch's finished samples (in sample order) when
the batch ends, so the pool a sample sees depends only on earlier batches — which lets a
resumed run rebuild the exact pool from the records it already wrote.

>>> pool = NegativePool(["a", "b", "c", "d"], k=2, seed=0)
>>> pool.draw(0) == pool.draw(0) and len(pool.draw(0)) == 2
True
>>> pool.add(["e"]); len(pool)
5
"""
from __future__ import annotations

import random
import warnings
from typing import Callable, Iterable, Sequence


class NegativePool:
    """Pool of negative examples; ``draw(i)`` gives sample ``i`` its k examples (no replacement).

    ``clean`` (e.g. ``task.clean``) is applied to texts added with :meth:`add`, so the pool
    holds finished samples in the same form as the real data. Empty texts are not added.
    """

    def __init__(self, real_texts: Sequence[str], k: int = 10, grow: bool = True, seed: int = 0,
                 clean: Callable[[str], str] | None = None):
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k={k!r} must be an integer >= 1")
        texts = [t for t in real_texts if t and t.strip()]
        if not texts:
            raise ValueError("real_texts is empty: the negative pool needs at least one example")
        self.texts: list[str] = list(texts)
        self.n_real = len(self.texts)
        self.k, self.grow, self.seed, self.clean = k, grow, int(seed), clean

    def __len__(self) -> int:
        return len(self.texts)

    def draw_indices(self, index: int) -> list[int]:
        """Where sample ``index``'s k examples sit in the pool (``< n_real``: a real example; else synthetic).

        >>> pool = NegativePool(["a", "b", "c"], k=2, seed=0)
        >>> [pool.texts[i] for i in pool.draw_indices(5)] == pool.draw(5)
        True
        """
        rng = random.Random(f"steer-neg:{self.seed}:{index}")  # str seeds hash stably (sha512)
        return rng.sample(range(len(self.texts)), min(self.k, len(self.texts)))

    def draw(self, index: int) -> list[str]:
        """The k examples for sample ``index`` (fewer if the pool is smaller than k)."""
        return [self.texts[i] for i in self.draw_indices(index)]

    def add(self, texts: Iterable[str]) -> None:
        """Add finished synthetic samples (no-op when ``grow`` is off)."""
        if not self.grow:
            return
        for t in texts:
            t = self.clean(t) if self.clean else t
            if t and t.strip():
                self.texts.append(t)


_warned: set[int] = set()


def negative_ids(tokenizer, examples: Sequence[str], max_tokens: int) -> list[int]:
    """Token ids of N = the examples joined with one space, within ``max_tokens``.

    Too long a prompt drops whole examples from the end (and warns once per limit), so N
    never ends mid-example.
    """
    examples = list(examples)
    while True:
        ids = tokenizer(" ".join(examples))["input_ids"]
        if len(ids) <= max_tokens or len(examples) <= 1:
            break
        if max_tokens not in _warned:
            _warned.add(max_tokens)
            warnings.warn(f"negative prompt longer than max_negative_tokens={max_tokens}; dropping whole examples",
                          stacklevel=3)
        examples = examples[:-1]
    if not ids:
        raise ValueError("the negative prompt N tokenizes to nothing; give non-empty negative examples")
    return ids[-max_tokens:] if len(ids) > max_tokens else ids  # a single over-long example keeps its end
