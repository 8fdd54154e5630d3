"""MAUVE and adversarial AUROC computed "in the open": each step a small function a notebook can show.

The library's :func:`~steer_lib.metrics.fidelity.mauve_score` calls mauve-text and
:func:`~steer_lib.metrics.fidelity.adversarial_auroc` hides its folds; notebook 04 rebuilds both from these
pieces and checks them against the library's numbers.

MAUVE (Pillutla et al. 2021), as mauve-text computes it:

1. :func:`quantise` — L2-normalise both clouds, PCA to 90 % explained variance, k-means into ``k`` clusters
   fitted on the union (faiss's, with mauve-text's settings and seeds; scikit-learn's as an alternative);
2. :func:`histograms` — the share of each side's points per cluster: two distributions P (real), Q (synthetic);
3. :func:`divergence_frontier` — for mixtures R_λ = λP + (1−λ)Q, the points (exp(−c·KL(Q‖R_λ)), exp(−c·KL(P‖R_λ)));
4. :func:`frontier_area` — the area under that curve: MAUVE (1 = the same histogram).

Adversarial AUROC: :func:`fold_scores` fits the library's classifier on the library's folds and returns each test
fold's labels and scores; :func:`rank_auc` is ROC-AUC as a probability — the share of (real, synthetic) pairs in
which the real text gets the higher score (ties count ½).

>>> p = np.array([0.5, 0.5])
>>> [round(frontier_area(divergence_frontier(p, q)), 3) for q in (np.array([0.6, 0.4]), np.array([0.9, 0.1]))]
[0.998, 0.671]
>>> rank_auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.1, 0.2]))
1.0
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import fidelity

MAUVE_SCALING = 5.0  # mauve-text's mauve_scaling_factor c
FRONTIER_POINTS = 25  # mauve-text's divergence_curve_discretization_size


def quantise(p_feats: np.ndarray, q_feats: np.ndarray, k: int, *, seed: int = 0,
             explained_variance: float = 0.9, backend: str = "faiss") -> tuple[np.ndarray, np.ndarray]:
    """Cluster labels ``(p_labels, q_labels)`` of both clouds, from one k-means fitted on their union.

    ``backend="faiss"`` runs faiss's k-means with mauve-text's settings and seeds (so the labels, and the MAUVE
    built from them, are mauve-text's); ``"sklearn"`` runs scikit-learn's. At the kit's small sizes the two
    clusterings can differ a lot, and MAUVE with them: the score depends on the quantisation, not only on the texts.
    """
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import normalize

    if backend not in ("faiss", "sklearn"):
        raise ValueError(f"backend={backend!r}: expected 'faiss' (as mauve-text) or 'sklearn'")
    p, q = fidelity.check_rows(p_feats, "p_feats"), fidelity.check_rows(q_feats, "q_feats")
    if not isinstance(k, int) or not 2 <= k <= len(p) + len(q):
        raise ValueError(f"k={k!r} must be an integer between 2 and the number of points ({len(p) + len(q)})")
    data = normalize(np.vstack([q, p]), norm="l2", axis=1)
    with fidelity.single_threaded():
        pca = PCA(random_state=seed + 1).fit(data)
        dims = int(np.argmax(np.cumsum(pca.explained_variance_ratio_) >= explained_variance)) + 1
        low = pca.transform(data)[:, :dims]
        if backend == "faiss":
            import faiss  # mauve-text's dependency

            with fidelity.without_faiss_size_note():
                km = faiss.Kmeans(low.shape[1], k, niter=500, verbose=False, nredo=5, update_index=True,
                                  seed=seed + 2)
                km.train(low.astype(np.float32))
                labels = km.index.search(low.astype(np.float32), 1)[1].reshape(-1)
        else:
            from sklearn.cluster import KMeans

            labels = KMeans(n_clusters=k, n_init=5, max_iter=500, random_state=seed + 2).fit_predict(low)
    return labels[len(q):], labels[:len(q)]


def histograms(p_labels: np.ndarray, q_labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each side's share of points per cluster (two probability vectors of length ``k``).

    >>> histograms(np.array([0, 0, 1]), np.array([1, 1, 1]), 2)
    (array([0.66666667, 0.33333333]), array([0., 1.]))
    """
    if len(p_labels) == 0 or len(q_labels) == 0:
        raise ValueError("histograms: both sides need at least one label")
    return (np.bincount(p_labels, minlength=k) / len(p_labels), np.bincount(q_labels, minlength=k) / len(q_labels))


def kl(a: np.ndarray, b: np.ndarray) -> float:
    """KL(a‖b) in nats; ∞ when ``a`` puts mass where ``b`` has none.

    >>> round(kl(np.array([0.5, 0.5]), np.array([0.25, 0.75])), 4)
    0.1438
    """
    if np.any((a > 0) & (b == 0)):
        return float("inf")
    m = (a > 0) & (b > 0)
    return float(np.sum(a[m] * np.log(a[m] / b[m])))


def divergence_frontier(p_hist: np.ndarray, q_hist: np.ndarray, *, points: int = FRONTIER_POINTS,
                        c: float = MAUVE_SCALING) -> np.ndarray:
    """The ``(points + 2, 2)`` curve ``(exp(−c·KL(Q‖R_λ)), exp(−c·KL(P‖R_λ)))`` for R_λ = λP + (1−λ)Q,
    with λ on mauve-text's grid ``linspace(1e-6, 1 − 1e-6, points)`` and the two end points (0, 1) side."""
    if p_hist.shape != q_hist.shape:
        raise ValueError(f"histograms differ in length: {p_hist.shape} vs {q_hist.shape}")
    curve = [[0.0, float("inf")]]
    for lam in np.linspace(1e-6, 1 - 1e-6, points):
        r = lam * p_hist + (1 - lam) * q_hist
        curve.append([kl(q_hist, r), kl(p_hist, r)])
    curve.append([float("inf"), 0.0])
    return np.exp(-c * np.asarray(curve))


def frontier_area(curve: np.ndarray) -> float:
    """MAUVE: the area under the divergence frontier (trapezoids, averaged over both axis orders as mauve-text)."""
    x, y = curve[:, 0], curve[:, 1]
    i, j = np.argsort(x), np.argsort(y)
    return float(0.5 * (np.trapezoid(y[i], x[i]) + np.trapezoid(x[j], y[j])))


def rank_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC as P(score of a random positive > score of a random negative), ties counting ½."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError(f"rank_auc needs both classes; got {len(pos)} positive, {len(neg)} negative")
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


class Fold(NamedTuple):
    labels: np.ndarray  # 1 = real, 0 = synthetic
    scores: np.ndarray  # the classifier's P(real) on the held-out fold


def fold_scores(real_emb: np.ndarray, syn_emb: np.ndarray, *, classifier: str = "logreg", folds: int = 5,
                seed: int = 0) -> list[Fold]:
    """The held-out labels and scores of each fold: the library's classifier on the library's grouped folds
    (identical embeddings share a fold), so ``mean(rank_auc(f.labels, f.scores))`` is its adversarial AUROC."""
    r, s = fidelity.check_rows(real_emb, "real_emb"), fidelity.check_rows(syn_emb, "syn_emb")
    x = np.vstack([r, s])
    y = np.concatenate([np.ones(len(r), dtype=int), np.zeros(len(s), dtype=int)])
    groups = np.unique(x, axis=0, return_inverse=True)[1].ravel()
    out = []
    with fidelity.single_threaded():
        for tr, te in fidelity.cv_folds(True, folds, seed).split(x, y, groups):
            model = fidelity.make_classifier(classifier, seed).fit(x[tr], y[tr])
            out.append(Fold(y[te], model.predict_proba(x[te])[:, 1]))
    return out
