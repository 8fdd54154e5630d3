"""Embedding-space measures of how close a synthetic set is to a real one.

All functions take two ``(n, d)`` arrays of embeddings (rows = texts), raise ``ValueError``
with a message naming the metric when the input is too small for it, and are deterministic
given ``seed``. :func:`steer_lib.metrics.evaluate` turns those errors into NaN + a warning.

- :func:`cosine_similarity` -- mean of all pairwise cosines between the two sets,
  ``(1/(n_a n_b)) Σ_i Σ_j â_i·b̂_j`` (``x̂ = x/‖x‖``), computed exactly as ``mean(â)·mean(b̂)``.
- :func:`centroid_cosine` -- the cosine between the two sets' centroids ``mean(â)``, ``mean(b̂)``.
- :func:`mauve_score` -- MAUVE (Pillutla et al. 2021) with ``mauve-text`` on precomputed
  features, p = real, q = synthetic; mean and sd over several k-means seeds.
- :func:`adversarial_auroc` -- how well a classifier tells real (1) from synthetic (0):
  mean ROC-AUC over stratified k-fold cross-validation (0.5 = indistinguishable, 1 = fully separable).

Two scoring protocols (:data:`PROTOCOLS`, :func:`protocol_settings`): ``kit`` (the default) and ``authors``,
the STEER authors' own code -- a default ``XGBClassifier`` under plain shuffled ``KFold(5, random_state=42)``
and one MAUVE run with mauve-text's defaults (``num_buckets='auto'`` = n/10, seed 25). The kit's is the
better measurement: grouped stratified folds keep a text and its copies in one fold, a fixed bucket count
keeps MAUVE comparable across set sizes, and averaging k-means seeds shows MAUVE's own noise.
- :func:`precision_recall` -- k-NN manifold precision and recall (Kynkäänniemi et al. 2019),
  the measure the STEER authors' code calls α-precision / β-recall.

>>> a = np.array([[1.0, 0.0], [0.0, 1.0]]); b = np.array([[1.0, 0.0]])
>>> round(cosine_similarity(a, b), 6), round(centroid_cosine(a, b), 6)
(0.5, 0.707107)
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator, NamedTuple, Sequence

import numpy as np

MAUVE_MIN_SAMPLES = 20  # per side; below this the k-means histogram is meaningless
MAUVE_RELIABLE_N = 1000  # per side; below this MAUVE is optimistic and noisy (Pillutla et al.)
CLASSIFIERS = ("logreg", "xgboost", "hist_gb")  # hist_gb: scikit-learn's boosted trees, no xgboost needed
PROTOCOLS = ("kit", "authors")
AUTHORS_CV_SEED = 42  # their KFold(n_splits=5, shuffle=True, random_state=42)
AUTHORS_MAUVE_SEED = 25  # mauve-text's default seed, which their single compute_mauve call kept


class Protocol(NamedTuple):
    """How the two learned measures are computed: the adversarial classifier and its CV, MAUVE's histogram."""
    name: str
    classifier: str
    grouped_cv: bool  # StratifiedGroupKFold over identical texts (kit) or plain shuffled KFold (authors)
    mauve_buckets: int | str | None  # None: :func:`mauve_buckets`; "auto": mauve-text's n/10
    mauve_seeds: int


def protocol_settings(protocol: str = "kit", *, classifier: str | None = None, mauve_seeds: int | None = None,
                      mauve_buckets: int | None = None) -> Protocol:
    """The settings of ``protocol``; the kit's can be overridden, the authors' are fixed (asking to change
    them is an error, so a row labelled ``authors`` is always their protocol).

    >>> protocol_settings("authors")
    Protocol(name='authors', classifier='xgboost', grouped_cv=False, mauve_buckets='auto', mauve_seeds=1)
    >>> protocol_settings("kit", classifier="xgboost").classifier, protocol_settings().mauve_seeds
    ('xgboost', 3)
    """
    if protocol == "kit":
        return Protocol("kit", classifier or "logreg", True, mauve_buckets, 3 if mauve_seeds is None else mauve_seeds)
    if protocol != "authors":
        raise ValueError(f"protocol={protocol!r} is not one of {PROTOCOLS}")
    fixed = {"classifier": (classifier, "xgboost"), "mauve_seeds": (mauve_seeds, 1),
             "mauve_buckets": (mauve_buckets, None)}
    clash = [f"{k}={v!r}" for k, (v, ok) in fixed.items() if v is not None and v != ok]
    if clash:
        raise ValueError(f"protocol='authors' fixes the classifier (xgboost), MAUVE buckets ('auto') and seeds (1); "
                         f"drop {', '.join(clash)}")
    return Protocol("authors", "xgboost", False, "auto", 1)


def single_threaded():
    """Limit BLAS/OpenMP pools to one thread for these small problems.

    Spinning BLAS threads fight other processes on a busy CPU: one thread is many times faster there for
    these sizes (measured: ``docs/measurements.md``).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn depends on it, so this is rare
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


# faiss's k-means writes this to the C stderr whenever it has fewer than 39 points per centroid, which MAUVE at the
# kit's sample sizes always does, once per k-means seed. The kit's own MetricWarning already says what matters
# ("MAUVE is optimistic and noisy at this n"), so this one line is dropped; anything else faiss writes is kept.
FAISS_SIZE_NOTE = re.compile(rb"WARNING clustering \d+ points to \d+ centroids: please provide at least \d+ "
                             rb"training points\r?\n?")


@contextlib.contextmanager
def without_faiss_size_note() -> Iterator[None]:
    """Capture file descriptor 2 while MAUVE clusters; write back all of it except :data:`FAISS_SIZE_NOTE` lines.

    A file-descriptor redirect, not ``sys.stderr``: faiss prints from C++, which Python's streams never see (a
    Jupyter kernel forwards fd 2 into the notebook, which is how the line reached executed notebooks).
    """
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (a detached process): nothing can be printed there anyway
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            rest = FAISS_SIZE_NOTE.sub(b"", tmp.read())
            if rest:
                os.write(2, rest)


def check_rows(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` as a float64 ``(n, d)`` array with n ≥ 1, or a ``ValueError`` naming ``name``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty (n, d) array; got shape {x.shape}")
    return x


def _unit(x: np.ndarray, name: str) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{name} has {int((norms == 0).sum())} zero vector(s); cosine is undefined for them")
    return x / norms


def cosine_similarity(a_emb: np.ndarray, b_emb: np.ndarray) -> float:
    """Mean pairwise cosine ``(1/(n_a n_b)) Σ_ij cos(a_i, b_j)``, via ``mean(â)·mean(b̂)`` in O(n·d).

    >>> round(cosine_similarity(np.eye(3), np.eye(3)), 6)  # 3 of 9 pairs have cosine 1
    0.333333
    """
    a, b = _unit(check_rows(a_emb, "a_emb"), "a_emb"), _unit(check_rows(b_emb, "b_emb"), "b_emb")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"cosine: embedding sizes differ ({a.shape[1]} vs {b.shape[1]})")
    return float(a.mean(0) @ b.mean(0))


def centroid_cosine(a_emb: np.ndarray, b_emb: np.ndarray) -> float:
    """Cosine between the centroids of the unit-normalised embeddings of each set."""
    ca = _unit(check_rows(a_emb, "a_emb"), "a_emb").mean(0)
    cb = _unit(check_rows(b_emb, "b_emb"), "b_emb").mean(0)
    denom = np.linalg.norm(ca) * np.linalg.norm(cb)
    if denom == 0:
        raise ValueError("cosine_centroid: a centroid is the zero vector (the set's embeddings cancel out)")
    return float(ca @ cb / denom)


def mauve_buckets(n: int) -> int:
    """The k-means histogram size used for MAUVE: 25 from 250 samples per side up, else ``max(2, n // 10)``.

    A constant keeps MAUVE comparable across methods whose sets differ in size (the authors'
    released sets hold 399–1,000 usable lines); mauve-text's own default, ``n/10``, would give
    each method a different histogram. Below 250 samples it falls back to ~10 points a bucket.

    >>> mauve_buckets(1000), mauve_buckets(250), mauve_buckets(100), mauve_buckets(5)
    (25, 25, 10, 2)
    """
    return 25 if n >= 250 else max(2, n // 10)


def bucket_count(num_buckets: int | str | None, n: int) -> int:
    """The histogram size MAUVE uses for ``n`` samples per side: ``None`` → :func:`mauve_buckets`,
    ``"auto"`` → mauve-text's ``max(2, round(n / 10))``, an int → itself.

    >>> bucket_count(None, 399), bucket_count("auto", 399), bucket_count("auto", 1000), bucket_count(7, 50)
    (25, 40, 100, 7)
    """
    if num_buckets == "auto":
        return max(2, int(round(n / 10)))
    return int(num_buckets) if num_buckets else mauve_buckets(n)


class MauveResult(NamedTuple):
    mean: float
    sd: float  # across k-means seeds (ddof=0); 0 with one seed
    scores: tuple[float, ...]
    num_buckets: int


def mauve_score(p_feats: np.ndarray, q_feats: np.ndarray, *, num_buckets: int | str | None = None,
                seeds: int = 3, seed: int = 0) -> MauveResult:
    """MAUVE of q (synthetic) against p (real) on precomputed features, over ``seeds`` k-means seeds.

    ``num_buckets`` defaults to :func:`mauve_buckets` of the smaller side; ``"auto"`` is mauve-text's
    own ``max(2, round(n / 10))`` (the authors' protocol). The k-means seeds are ``seed``,
    ``seed + 101``, …. MAUVE under ~1,000 samples per side is optimistic and noisy: report the sd
    and compare methods at equal n.
    """
    p, q = check_rows(p_feats, "p_feats"), check_rows(q_feats, "q_feats")
    n = min(len(p), len(q))
    if n < MAUVE_MIN_SAMPLES:
        raise ValueError(f"MAUVE needs at least {MAUVE_MIN_SAMPLES} samples per side; "
                         f"got {len(p)} real, {len(q)} synthetic")
    if seeds < 1:
        raise ValueError(f"seeds={seeds!r} must be >= 1")
    k = bucket_count(num_buckets, n)
    import mauve  # imported here: it pulls in faiss, which only MAUVE needs

    # mauve seeds PCA/k-means with seed+1, seed+2, seed+5; stepping by 101 keeps runs apart
    with single_threaded(), without_faiss_size_note():
        scores = tuple(float(mauve.compute_mauve(p_features=p, q_features=q, num_buckets=k, seed=seed + 101 * i,
                                                 verbose=False).mauve) for i in range(seeds))
    return MauveResult(float(np.mean(scores)), float(np.std(scores)), scores, k)


class AurocResult(NamedTuple):
    mean: float
    sd: float  # across folds
    folds: tuple[float, ...]


def make_classifier(name: str, seed: int):
    """A fresh, unfitted classifier of :data:`CLASSIFIERS` (``logreg``, ``xgboost``, ``hist_gb``) seeded with ``seed``."""
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        # standardised features: unit-norm sentence embeddings have tiny coordinates, which
        # would otherwise make the default L2 penalty dominate the fit
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    if name == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(random_state=seed, tree_method="hist", n_jobs=1)  # n_jobs=1: deterministic
    if name == "hist_gb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        # gradient-boosted trees like xgboost's, from scikit-learn (always installed; the hosted-runtime install
        # leaves xgboost out)
        return HistGradientBoostingClassifier(random_state=seed)
    raise ValueError(f"classifier={name!r} is not one of {CLASSIFIERS}")


def cv_folds(grouped: bool, folds: int, seed: int):
    """The cross-validation splitter: stratified and grouped (no group on both sides) or plain shuffled k-fold."""
    from sklearn.model_selection import KFold, StratifiedGroupKFold

    if grouped:
        return StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return KFold(n_splits=folds, shuffle=True, random_state=seed)  # ignores the groups it is given


def adversarial_auroc(real_emb: np.ndarray, syn_emb: np.ndarray, *, classifier: str = "logreg",
                      folds: int = 5, seed: int = 0, grouped: bool = True) -> AurocResult:
    """Mean ROC-AUC of a classifier telling real (label 1) from synthetic (label 0) embeddings,
    over ``folds``-fold stratified cross-validation shuffled with ``seed``.

    Identical embeddings (the same text, in either set) are kept in one fold. Otherwise a
    synthetic copy of a real text leaks its opposite label into training -- a set scored
    against itself then gets AUROC ≈ 0.25, not 0.5 -- and repeated synthetic samples are
    "recognised" across folds, inflating the AUROC of repetitive methods such as beam search.
    ``grouped=False`` is the authors' plain shuffled ``KFold`` (neither stratified nor grouped).
    """
    from sklearn.metrics import roc_auc_score

    r, s = check_rows(real_emb, "real_emb"), check_rows(syn_emb, "syn_emb")
    if classifier not in CLASSIFIERS:
        raise ValueError(f"classifier={classifier!r} is not one of {CLASSIFIERS}")
    if min(len(r), len(s)) < folds:
        raise ValueError(f"adversarial AUROC with {folds}-fold CV needs >= {folds} samples per side; "
                         f"got {len(r)} real, {len(s)} synthetic")
    x = np.vstack([r, s])
    y = np.concatenate([np.ones(len(r), dtype=int), np.zeros(len(s), dtype=int)])
    groups = np.unique(x, axis=0, return_inverse=True)[1].ravel()  # one id per distinct row
    if grouped and len(np.unique(groups)) < folds:
        raise ValueError(f"adversarial AUROC with {folds}-fold CV needs >= {folds} distinct texts; "
                         f"got {len(np.unique(groups))}")
    scores = []
    with single_threaded():
        cv = cv_folds(grouped, folds, seed)
        for tr, te in cv.split(x, y, groups if grouped else None):
            if len(np.unique(y[te])) < 2 or len(np.unique(y[tr])) < 2:
                raise ValueError("adversarial AUROC: a cross-validation fold holds only one class "
                                 "(too few distinct texts on one side)")
            model = make_classifier(classifier, seed).fit(x[tr], y[tr])
            scores.append(float(roc_auc_score(y[te], model.predict_proba(x[te])[:, 1])))
    return AurocResult(float(np.mean(scores)), float(np.std(scores)), tuple(scores))


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)  # clip float noise below zero


def _knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each row to its k-th nearest *other* row (column 0 of the sorted row is itself)."""
    return np.partition(_sq_dists(x, x), k, axis=1)[:, k]


def precision_recall(real_emb: np.ndarray, syn_emb: np.ndarray, *, k: int = 5) -> tuple[float, float]:
    """k-NN manifold precision and recall (Kynkäänniemi et al. 2019), Euclidean, on the embeddings.

    The real manifold is the union of balls around each real point with radius its distance
    to its k-th nearest real neighbour (likewise for the synthetic one). Then
    ``precision = share of synthetic points inside the real manifold`` (fidelity) and
    ``recall = share of real points inside the synthetic manifold`` (coverage).
    The STEER authors ran this with k=10 on a 2-D UMAP projection; the kit uses the raw
    embeddings (no stochastic projection) and k=5.

    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> precision_recall(x, x + 100.0, k=1)
    (0.0, 0.0)
    >>> precision_recall(x, x, k=1)
    (1.0, 1.0)
    """
    r, s = check_rows(real_emb, "real_emb"), check_rows(syn_emb, "syn_emb")
    if k < 1:
        raise ValueError(f"k={k!r} must be >= 1")
    if min(len(r), len(s)) <= k:
        raise ValueError(f"precision/recall with k={k} needs > {k} samples per side; "
                         f"got {len(r)} real, {len(s)} synthetic")
    with single_threaded():
        d_sr = _sq_dists(s, r)
        precision = (d_sr <= _knn_radii(r, k)[None, :]).any(1).mean()
        recall = (d_sr.T <= _knn_radii(s, k)[None, :]).any(1).mean()
    return float(precision), float(recall)


def bootstrap_ci(stat, arrays: Sequence[np.ndarray], *, reps: int, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat(*arrays)``, resampling each array's rows independently.

    >>> lo, hi = bootstrap_ci(np.mean, [np.arange(100.0)], reps=200)
    >>> 40 < lo < 49.5 < hi < 59
    True
    """
    if reps < 2:
        raise ValueError(f"reps={reps!r} must be >= 2 for a bootstrap interval")
    rng = np.random.default_rng(seed)
    vals = [stat(*(a[rng.integers(0, len(a), len(a))] for a in arrays)) for _ in range(reps)]
    alpha = (1.0 - level) / 2
    return float(np.quantile(vals, alpha)), float(np.quantile(vals, 1 - alpha))
