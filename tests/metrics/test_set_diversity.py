"""The diversity measures of Shaib et al. and the Vendi score, pinned on hand-made sets with known answers."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from steer_lib.metrics import set_diversity as sd

WORDS = str.split
DISJOINT = ["alpha beta gamma delta epsilon", "one two three four five", "red green blue black white"]


def test_compression_ratio_extremes_and_definition():
    repeated = sd.compression_ratio(["the quick brown fox jumps over the lazy dog"] * 200)
    assert repeated > 50  # 200 copies compress to little more than one
    assert sd.compression_ratio(DISJOINT) < 2  # short, unrepetitive: barely compresses (header included)
    raw = " ".join(DISJOINT).encode()
    assert sd.compression_ratio(DISJOINT) == len(raw) / len(gzip.compress(raw, 9, mtime=0))
    with pytest.raises(ValueError, match="all empty"):
        sd.compression_ratio(["", ""])
    with pytest.raises(ValueError, match="not one string"):
        sd.compression_ratio("abc")


def test_self_repetition_known_answers():
    assert sd.self_repetition(DISJOINT, tokenizer=WORDS) == 0.0
    assert sd.self_repetition(["a b c d"] * 5, tokenizer=WORDS) == 1.0
    # 'x a b c d' shares 'a b c d' with the first; the third shares only 3 tokens ('a b c'): not a 4-gram
    assert sd.self_repetition(["a b c d e", "x a b c d", "a b c q r"], tokenizer=WORDS) == pytest.approx(2 / 3)
    assert sd.self_repetition(["a b c q r", "z a b c y"], n=3, tokenizer=WORDS) == 1.0
    with pytest.raises(ValueError, match="at least 2 texts; got 1"):
        sd.self_repetition(["a b c d"], tokenizer=WORDS)
    with pytest.raises(ValueError, match="n=0"):
        sd.self_repetition(DISJOINT, n=0, tokenizer=WORDS)


def test_self_bleu_extremes_subsampling_and_seed():
    assert sd.self_bleu(["the cat sat on the mat today"] * 4) == pytest.approx(1.0)
    assert sd.self_bleu(DISJOINT) == 0.0
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(300)]
    texts = [" ".join(rng.choice(vocab, 12)) for _ in range(400)]
    a = sd.self_bleu(texts, samples=30, refs=10, seed=1)
    assert a == sd.self_bleu(texts, samples=30, refs=10, seed=1)  # deterministic given the seed
    assert 0.0 <= a < 0.2
    with pytest.raises(ValueError, match="refs=0"):
        sd.self_bleu(texts, refs=0)


def test_vendi_extremes():
    assert sd.vendi_score(np.ones((10, 4))) == pytest.approx(1.0)  # one text repeated: one effective item
    assert sd.vendi_score(np.eye(6)) == pytest.approx(6.0)  # orthogonal: n
    assert sd.vendi_score(3.0 * np.eye(6)[:, :]) == pytest.approx(6.0)  # scale-free: cosine kernel
    two = np.vstack([np.tile([1.0, 0.0], (5, 1)), np.tile([0.0, 1.0], (5, 1))])
    assert sd.vendi_score(two) == pytest.approx(2.0)  # two clusters of copies
    with pytest.raises(ValueError, match="zero vector"):
        sd.vendi_score(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        sd.vendi_score(np.ones(3))


@pytest.mark.parametrize("n,d", [(50, 384), (500, 16)])  # both branches: n < d (kernel) and n > d (covariance)
def test_vendi_matches_the_vendi_score_package(n, d):
    vendi = pytest.importorskip("vendi_score.vendi")
    x = np.random.default_rng(n).normal(size=(n, d))
    x[: n // 5] = x[0]  # some copies, so the value is not simply near n
    assert sd.vendi_score(x) == pytest.approx(float(vendi.score_X(x)), rel=1e-9)


def test_length_stats():
    assert sd.length_stats(["a b c"] * 3, tokenizer=WORDS) == (3.0, 0.0)
    mean, spread = sd.length_stats(["a", "a b c"], tokenizer=WORDS)
    assert (mean, spread) == (2.0, 1.0)
