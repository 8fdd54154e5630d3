"""MAUVE and adversarial AUROC rebuilt step by step agree with mauve-text and the library."""
import numpy as np
import pytest

from steer_lib.metrics import fidelity, open_book as ob


def _clouds(seed=0, n=40, d=8, shift=0.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, d)) + shift


def test_frontier_on_mauve_texts_histograms_is_its_score():
    import mauve

    p, q = _clouds(shift=0.7)
    out = mauve.compute_mauve(p_features=p, q_features=q, num_buckets=4, seed=3, verbose=False)
    assert abs(ob.frontier_area(ob.divergence_frontier(out.p_hist, out.q_hist)) - out.mauve) < 1e-12


def test_open_mauve_falls_as_the_clouds_separate():
    scores = []
    for shift in (0.0, 3.0):
        p, q = _clouds(shift=shift)
        pl, ql = ob.quantise(p, q, 4, seed=0)
        scores.append(ob.frontier_area(ob.divergence_frontier(*ob.histograms(pl, ql, 4))))
    assert scores[0] > 0.8 > 0.2 > scores[1]


def test_close_and_disjoint_histograms():
    p = np.array([0.25, 0.75])
    near, far = (ob.frontier_area(ob.divergence_frontier(p, q)) for q in (np.array([0.3, 0.7]), np.array([0.9, 0.1])))
    assert 1.0 >= near > 0.99 > far
    assert ob.frontier_area(ob.divergence_frontier(np.array([1.0, 0.0]), np.array([0.0, 1.0]))) < 0.01


def test_fold_scores_reproduce_the_library_auroc():
    p, q = _clouds(shift=0.3)
    folds = ob.fold_scores(p, q, seed=1)
    assert np.mean([ob.rank_auc(f.labels, f.scores) for f in folds]) == pytest.approx(
        fidelity.adversarial_auroc(p, q, seed=1).mean, abs=1e-12)


def test_rank_auc_is_sklearns_roc_auc():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y, s = rng.integers(0, 2, 50), rng.integers(0, 5, 50).astype(float)  # many ties
    assert ob.rank_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_bad_input_is_one_line():
    with pytest.raises(ValueError, match="k=1"):
        ob.quantise(*_clouds(), 1)
    with pytest.raises(ValueError, match="both classes"):
        ob.rank_auc(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="differ in length"):
        ob.divergence_frontier(np.ones(2) / 2, np.ones(3) / 3)


def test_hist_gb_classifier_needs_no_xgboost():
    p, q = _clouds(shift=3.0)
    assert fidelity.adversarial_auroc(p, q, classifier="hist_gb").mean > 0.9


def test_the_open_steps_with_faiss_are_mauve_text_end_to_end():
    import mauve

    rng = np.random.default_rng(0)
    for shift in (0.0, 0.5):
        p, q = rng.normal(size=(40, 16)), rng.normal(size=(32, 16)) + shift
        for seed in (0, 101):
            ref = mauve.compute_mauve(p_features=p, q_features=q, num_buckets=7, seed=seed, verbose=False).mauve
            mine = ob.frontier_area(ob.divergence_frontier(*ob.histograms(*ob.quantise(p, q, 7, seed=seed), 7)))
            assert abs(mine - ref) < 1e-9
    with pytest.raises(ValueError, match="backend='kmeans'"):
        ob.quantise(p, q, 7, backend="kmeans")
