"""Text metrics pinned on hand-computable inputs (normalised n-grams, diversity, validity, sampling)."""
from __future__ import annotations

import math

import pytest

from steer_lib import metrics
from steer_lib.metrics.text import (cut_joined, diversity, duplicate_rate, ngram_ratio, normalised_ngrams, validity_rate)
from steer_lib.metrics.evaluation import sample_pair


def test_normalised_ngrams_by_hand():
    # a b c a b c -> trigrams abc, bca, cab, abc: 3 unique of 4
    assert normalised_ngrams(["a b c", "a b c"], n=3, tokenizer=str.split) == 0.75
    # bigrams of "a a a a": aa ×3 -> 1/3
    assert normalised_ngrams(["a a a a"], n=2, tokenizer=str.split) == pytest.approx(1 / 3)
    assert normalised_ngrams(["x y z w"], n=3, tokenizer=str.split) == 1.0


def test_ngrams_too_short_is_nan():
    assert math.isnan(normalised_ngrams(["a b"], n=3, tokenizer=str.split))
    with pytest.raises(ValueError, match="n=0"):
        ngram_ratio(["a"], 0)


def test_repeated_text_has_about_one_hundredth_of_its_ngrams(tokenizer):
    text = "Can Gaia astrometry reveal the dynamical history of the Sagittarius dwarf galaxy stream?"
    single = normalised_ngrams([text], 3, tokenizer)
    repeated = normalised_ngrams([text] * 100, 3, tokenizer)
    assert single == 1.0  # no trigram repeats inside this sentence
    # the joined stream is periodic, so unique trigrams ≈ one period's worth (+ the seam)
    assert single / 100 <= repeated <= 1.2 * single / 100


def test_default_tokenizer_is_the_default_models(tokenizer):
    texts = ["Is dark matter cold?", "Is dark matter warm?"]
    toks = tokenizer.tokenize(" ".join(texts))
    assert normalised_ngrams(texts) == ngram_ratio(toks, 3)
    assert diversity(texts) == pytest.approx(math.prod(ngram_ratio(toks, n) for n in (2, 3, 4)))
    # and selectable: a whitespace tokenizer gives a different token stream
    assert normalised_ngrams(texts, tokenizer=str.split) == pytest.approx(5 / 6)


def test_diversity_by_hand():
    assert diversity(["a b a b"], tokenizer=str.split) == pytest.approx(2 / 3)  # 2/3 · 2/2 · 1/1
    assert diversity(["a b c d e"], tokenizer=str.split) == 1.0
    assert diversity(["a a a a a"], tokenizer=str.split) == pytest.approx(1 / 4 * 1 / 3 * 1 / 2)


def test_cut_joined_matches_synthetic_length():
    assert cut_joined(["abc", "def", "ghi"], 6) == "abc de"
    assert cut_joined(["ab"], 10) == "ab"


def test_duplicate_and_validity():
    assert duplicate_rate(["x", "y", "x", "x"]) == 0.5
    assert duplicate_rate(["x", "y"]) == 0.0
    texts = ["Is dark matter made of cold particles?", "no question here", "Why?"]
    assert validity_rate(texts, "hypotheses") == pytest.approx(1 / 3)  # "Why?" has < 4 words
    with pytest.raises(ValueError, match="no texts"):
        validity_rate([], "hypotheses")


def test_sample_pair_is_seeded_order_preserving_and_nested():
    syn = [f"s{i}" for i in range(50)]
    real = [f"r{i}" for i in range(200)]
    s, r = sample_pair(syn, real, None, seed=0)
    assert s == syn and len(r) == 50 and set(r) <= set(real)
    assert r == sorted(r, key=lambda t: int(t[1:]))  # input order kept
    assert sample_pair(syn, real, None, seed=0) == (s, r)  # deterministic
    assert sample_pair(syn, real, None, seed=1)[1] != r
    s10, r10 = sample_pair(syn, real, 10, seed=0)
    assert len(s10) == len(r10) == 10 and set(r10) <= set(r)  # a smaller n is a subset of a larger one


def test_tokenizer_argument_is_checked():
    with pytest.raises(ValueError, match="tokenizer=42"):
        metrics.tokenize("a b", 42)
