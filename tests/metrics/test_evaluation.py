"""evaluate(): keys, determinism, size handling, NaN + warnings; the embedding cache; real-embedder sanity."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from conftest import bag_of_words
from steer_lib.authors import outputs as reference
from steer_lib.metrics.embeddings import Embedder, as_embedder, model_slug
from steer_lib.metrics.text import MetricWarning
from steer_lib.metrics.evaluation import evaluate

KEYS = ("n", "ngram3", "ngram3_real", "diversity", "diversity_real", "cosine", "cosine_centroid", "mauve",
        "mauve_sd", "adv_auroc", "alpha_precision", "beta_recall", "validity")



class Counting:
    def __init__(self):
        self.calls, self.texts = 0, 0

    def __call__(self, texts):
        self.calls += 1
        self.texts += len(texts)
        return bag_of_words(texts)


@pytest.fixture(scope="module")
def hyp():
    return reference.real_set("hypotheses")


def test_evaluate_keys_and_determinism(hyp):
    syn, real = hyp[:150], hyp[500:800]
    res = evaluate(syn, real, task="hypotheses", embedder=Embedder(bag_of_words, cache=False), seed=3)
    assert all(k in res for k in KEYS)
    assert (res["n"], res["n_synthetic_in"], res["n_real_in"]) == (150, 150, 300)  # real sampled down
    assert res["validity"] == 1.0 and res["duplicate_rate"] == 0.0
    again = evaluate(syn, real, task="hypotheses", embedder=Embedder(bag_of_words, cache=False), seed=3)
    strip = lambda d: {k: v for k, v in d.items() if k != "seconds"}  # noqa: E731
    assert strip(res) == strip(again)
    assert any("MAUVE is optimistic and noisy" in w for w in res["warnings"])  # n=150 < 1000


def test_evaluate_n_and_bootstrap(hyp):
    res = evaluate(hyp[:100], hyp[100:400], embedder=Embedder(bag_of_words, cache=False), n=60, bootstrap=50,
                   mauve_seeds=1)
    assert res["n"] == 60 and "validity" not in res
    lo, hi = res["cosine_ci"]
    assert lo <= res["cosine"] <= hi
    assert res["mean_length_ci"][0] <= res["mean_length"] <= res["mean_length_ci"][1]


def test_evaluate_repeated_text_scores_low_ngrams(hyp):
    res = evaluate([hyp[0]] * 100, hyp[:100], embedder=Embedder(bag_of_words, cache=False), mauve_seeds=1)
    assert res["duplicate_rate"] == pytest.approx(0.99)
    assert res["ngram3"] < 0.02 < 0.5 < res["ngram3_real"]
    # the diversity measures at their extremes: one text repeated is one effective item, compresses to almost
    # nothing, repeats itself in every sample, and is its own perfect BLEU reference
    assert res["vendi"] == pytest.approx(1.0) and res["vendi_real"] > 10
    assert res["compression_ratio"] > 20 > 4 > res["compression_ratio_real"]
    assert res["self_repetition"] == 1.0 and res["self_bleu"] == pytest.approx(1.0) and res["self_bleu_real"] < 0.5
    assert res["length_sd"] == 0.0 < res["length_sd_real"] and res["seconds"]["diversity"] >= 0
    # one distinct text cannot be spread over 5 folds when copies stay together: NaN, said why
    assert math.isnan(res["adv_auroc"]) and any("only one class" in w for w in res["warnings"])


def test_too_small_input_gives_nan_and_named_warnings(hyp):
    with pytest.warns(MetricWarning, match="mauve: NaN because MAUVE needs at least 20"):
        res = evaluate(hyp[:4], hyp[10:14], embedder=Embedder(bag_of_words, cache=False))
    assert res["n"] == 4
    for k in ("mauve", "adv_auroc", "alpha_precision", "beta_recall"):
        assert math.isnan(res[k]), k
    assert not math.isnan(res["vendi"]) and not math.isnan(res["self_bleu"])  # need no minimum size beyond 2
    joined = " ".join(res["warnings"])
    assert "adv_auroc: NaN" in joined and "alpha_precision/beta_recall: NaN" in joined
    assert not math.isnan(res["cosine"])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="synthetic set is empty"):
        evaluate([], ["a"])
    with pytest.raises(ValueError, match="not one string"):
        evaluate("abc", ["a"])
    with pytest.raises(ValueError, match="not strings"):
        evaluate(["a", None], ["a"])
    with pytest.raises(ValueError, match="n=0"):
        evaluate(["a"], ["a"], n=0)
    with pytest.raises(ValueError, match="classifier='svm'"):
        evaluate(["a"], ["a"], classifier="svm")
    with pytest.raises(ValueError, match="seed=-1"):
        evaluate(["a"], ["a"], seed=-1)
    with pytest.raises(ValueError, match="unknown task 'poems'"):
        evaluate(["a"], ["a"], task="poems")


def test_embedding_cache_embeds_each_text_once(tmp_path):
    fn = Counting()
    e = Embedder(fn, model_id="bow-test", cache_dir=tmp_path)
    v1 = e.encode(["a b", "c d", "a b"])
    assert fn.texts == 2  # the repeat inside one call is embedded once
    fresh = Embedder(fn, model_id="bow-test", cache_dir=tmp_path)  # a new process would look like this
    v2 = fresh.encode(["c d", "a b", "e f"])
    assert fn.texts == 3 and fresh.stats == {"memory": 0, "disk": 2, "computed": 1}
    np.testing.assert_array_equal(v2[:2], v1[[1, 0]])
    files = list((tmp_path / model_slug("bow-test")).rglob("*"))
    assert sum(f.suffix == ".npy" for f in files) == 3 and not any(f.name.startswith(".tmp") for f in files)


def test_embedding_cache_concurrent_writers(tmp_path):
    texts = [f"text number {i}" for i in range(200)]
    results = []

    def worker():
        results.append(Embedder(bag_of_words, model_id="bow-test", cache_dir=tmp_path).encode(texts))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(np.array_equal(r, results[0]) for r in results)
    reread = Embedder(lambda ts: pytest.fail("should be cached"), model_id="bow-test", cache_dir=tmp_path)
    np.testing.assert_array_equal(reread.encode(texts), results[0])


def test_unnamed_function_is_not_cached_and_names_are_checked():
    assert Embedder(bag_of_words).cache is False
    assert as_embedder(None).model_id == "all-MiniLM-L6-v2"
    with pytest.raises(ValueError, match="batch_size=0"):
        Embedder(batch_size=0)
    with pytest.raises(ValueError, match="empty list"):
        Embedder(bag_of_words).encode([])


@pytest.mark.slow
def test_real_embedder_self_vs_disjoint_topics(tmp_path, hyp):
    """all-MiniLM-L6-v2: a set against itself is indistinguishable; astronomy vs toxic comments is not."""
    emb = Embedder(cache_dir=tmp_path, device="cpu")
    astro = hyp[:60]
    comments = reference.real_set("comments")[:60]
    same = evaluate(astro, astro, embedder=emb, mauve_seeds=1)
    assert abs(same["adv_auroc"] - 0.5) < 0.1
    assert same["mauve"] == pytest.approx(1.0, abs=1e-6)
    assert same["alpha_precision"] == same["beta_recall"] == 1.0
    far = evaluate(comments, astro, embedder=emb, mauve_seeds=1)
    assert far["adv_auroc"] > 0.98 and far["mauve"] < 0.2 and far["cosine"] < same["cosine"]
    assert emb.stats["computed"] == 120  # every text embedded once; the rest came from the cache
