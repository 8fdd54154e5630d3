"""Embedding metrics pinned on hand-computable inputs: cosine, MAUVE, adversarial AUROC, k-NN precision/recall."""
from __future__ import annotations

import numpy as np
import pytest

from steer_lib.metrics import fidelity


def _blobs(n=200, d=16, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)) + shift


def test_cosine_by_hand():
    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    b = np.array([[2.0, 0.0]])  # length does not matter, only direction
    assert fidelity.cosine_similarity(a, b) == pytest.approx(0.5)  # pairs: 1 and 0
    assert fidelity.centroid_cosine(a, b) == pytest.approx(1 / np.sqrt(2))
    # mean pairwise cosine equals the brute-force mean over all pairs
    x, y = _blobs(30, 5, seed=1), _blobs(40, 5, 0.3, seed=2)
    xn, yn = x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)
    assert fidelity.cosine_similarity(x, y) == pytest.approx((xn @ yn.T).mean())


def test_cosine_rejects_bad_input():
    with pytest.raises(ValueError, match="zero vector"):
        fidelity.cosine_similarity(np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="sizes differ"):
        fidelity.cosine_similarity(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="non-empty"):
        fidelity.cosine_similarity(np.ones((0, 3)), np.ones((2, 3)))


def test_mauve_self_is_one_and_disjoint_is_low():
    x = _blobs(300)
    same = fidelity.mauve_score(x, x.copy(), seeds=2)
    assert same.mean == pytest.approx(1.0, abs=1e-6) and same.num_buckets == 25 and len(same.scores) == 2
    far = fidelity.mauve_score(x, _blobs(300, shift=10.0, seed=1), seeds=1)
    assert far.mean < 0.05
    # deterministic given the seed
    y = _blobs(300, shift=0.3, seed=2)
    assert fidelity.mauve_score(x, y, seed=3).scores == fidelity.mauve_score(x, y, seed=3).scores


def test_mauve_too_few_samples():
    with pytest.raises(ValueError, match="MAUVE needs at least 20"):
        fidelity.mauve_score(_blobs(10), _blobs(300))


@pytest.mark.parametrize("classifier", ["logreg", "xgboost"])
def test_adversarial_auroc_self_and_disjoint(classifier):
    x = _blobs(150)
    same = fidelity.adversarial_auroc(x, x.copy(), classifier=classifier)
    assert abs(same.mean - 0.5) < 0.1 and len(same.folds) == 5
    far = fidelity.adversarial_auroc(x, _blobs(150, shift=3.0, seed=1), classifier=classifier)
    assert far.mean > 0.99


def test_adversarial_auroc_is_seeded_and_checks_input():
    x, y = _blobs(100), _blobs(100, shift=0.2, seed=1)
    assert fidelity.adversarial_auroc(x, y, seed=4) == fidelity.adversarial_auroc(x, y, seed=4)
    with pytest.raises(ValueError, match="needs >= 5 samples per side"):
        fidelity.adversarial_auroc(x[:4], y)
    with pytest.raises(ValueError, match="classifier='svm'"):
        fidelity.adversarial_auroc(x, y, classifier="svm")


def test_precision_recall_by_hand():
    line = np.arange(6.0)[:, None]  # points 0..5 on a line; k=1 radii are 1
    assert fidelity.precision_recall(line, line, k=1) == (1.0, 1.0)
    assert fidelity.precision_recall(line, line + 100, k=1) == (0.0, 0.0)
    # synthetic = 3 points near real point 0 only: all inside the real manifold (precision 1),
    # but their tiny balls cover only real point 0 (recall 1/6)
    syn = np.array([[0.0], [0.01], [0.02]])
    p, r = fidelity.precision_recall(line, syn, k=1)
    assert p == 1.0 and r == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="k=5 needs > 5"):
        fidelity.precision_recall(line[:5], line)


def test_mauve_buckets_and_bootstrap():
    assert [fidelity.mauve_buckets(n) for n in (5, 100, 249, 250, 5000)] == [2, 10, 24, 25, 25]
    vals = np.arange(50.0)
    lo, hi = fidelity.bootstrap_ci(np.mean, [vals], reps=100, seed=0)
    assert lo < vals.mean() < hi
    assert (lo, hi) == fidelity.bootstrap_ci(np.mean, [vals], reps=100, seed=0)


def test_adversarial_auroc_keeps_duplicates_in_one_fold():
    # a synthetic set of 5 distinct points each repeated 30 times, drawn from the real distribution:
    # without grouping, the classifier would memorise the repeats across folds and score far above 0.5
    real = _blobs(150, 4, seed=0)
    syn = np.repeat(_blobs(5, 4, seed=1), 30, axis=0)
    res = fidelity.adversarial_auroc(real, syn, classifier="xgboost")
    assert res.mean < 0.8
    with pytest.raises(ValueError, match="distinct texts"):
        fidelity.adversarial_auroc(np.ones((10, 2)), np.ones((10, 2)))


def test_authors_plain_kfold_leaks_copies_the_grouped_cv_does_not():
    """A set scored against itself: plain KFold puts copies of a text on both sides of a split, so the classifier
    learns the opposite label and the AUROC drops well below chance; grouped stratified folds keep it near 0.5."""
    x = np.random.default_rng(0).normal(size=(60, 8))
    grouped = fidelity.adversarial_auroc(x, x, seed=0).mean
    plain = fidelity.adversarial_auroc(x, x, seed=fidelity.AUTHORS_CV_SEED, grouped=False).mean
    assert abs(grouped - 0.5) < 0.15 and plain < 0.35
