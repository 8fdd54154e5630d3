"""Notebook 05's content evidence, read from cached generation files (faked here) and a tiny P_θ."""
from __future__ import annotations

import json
import math

import pytest

from steer_lib.data.tasks import get_task
from steer_lib.experiments import content
from steer_lib.experiments.experiment import ExperimentConfig, generation_path
from steer_lib.metrics.embeddings import Embedder

from conftest import bag_of_words, make_soft_lora

SMOKE = ExperimentConfig.for_profile("smoke")


def _write(path, texts, real_flags=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            rec = {"i": i, "text": t}
            if real_flags is not None:
                rec["negative_is_real"] = real_flags[i]
            f.write(json.dumps(rec) + "\n")


@pytest.fixture()
def generated(iso):
    """top-k, γ only and γ = η sets at the smoke size; η only is negative_only's file (the sweep reads it so)."""
    n = SMOKE.n_samples
    g, e = SMOKE.gamma, SMOKE.eta
    _write(generation_path("hypotheses", "top_k", profile="smoke"), ["Stars form in clouds."] * n)
    _write(generation_path("hypotheses", "negative_only", profile="smoke", eta=e),
           ["Globular clusters are old."] * n, [[True] * 9 + [False]] * n)
    _write(generation_path("hypotheses", "steer", profile="smoke", gamma=g, eta=0.0), ["Globular globular."] * n)
    _write(generation_path("hypotheses", "steer", profile="smoke", gamma=g, eta=e),
           ["Galaxies merge.", "Globular clusters."] * (n // 2), [[True] * 10] * n)
    return iso


def test_content_sets_label_what_varies_and_name_what_is_missing(generated):
    sets, missing = content.content_sets("hypotheses", "smoke")
    g, e = SMOKE.gamma, SMOKE.eta
    assert list(sets) == ["real (validation)", "top-k", f"η only (γ=0, η={e:g})", f"γ only (γ={g:g}, η=0)",
                          f"γ = η = {g:g}"]
    none = generation_path("hypotheses", "steer", profile="smoke", gamma=0.0, eta=0.0)
    assert missing == [f"γ = η = 0 ({none.name})"] and all(len(t) == SMOKE.n_samples for t in sets.values())
    assert content.gamma_pairs("smoke") == [(f"γ only (γ={g:g}, η=0)", "γ = η = 0"),
                                            (f"γ = η = {g:g}", f"η only (γ=0, η={e:g})")]
    assert set(sets["real (validation)"]) <= set(get_task("hypotheses").real_texts("val"))
    shares = content.word_shares(sets, ["globular"])
    assert shares.loc["top-k", "globular"] == 0 and shares.loc[f"γ only (γ={g:g}, η=0)", "globular"] == 1
    assert shares.loc[f"γ = η = {g:g}", "globular"] == 0.5 and (shares["n"] == SMOKE.n_samples).all()
    generation_path("hypotheses", "top_k", profile="smoke").unlink()
    sets, missing = content.content_sets("hypotheses", "smoke")
    assert "top-k" not in sets and missing[0] == f"top-k ({generation_path('hypotheses', 'top_k', profile='smoke').name})"
    with pytest.raises(ValueError, match="words is empty"):
        content.word_shares(sets, [])


def test_centroid_shift_has_a_noise_floor_and_every_generated_point(generated):
    df = content.centroid_shift("hypotheses", "smoke", embedder=Embedder(bag_of_words, cache=False))
    assert df["set"].iloc[0] == "real (validation)" and math.isnan(df["gamma"].iloc[0])
    points = {(r.gamma, r.eta) for r in df.iloc[1:].itertuples()}
    assert points == {(0.0, SMOKE.eta), (SMOKE.gamma, 0.0), (SMOKE.gamma, SMOKE.eta)}  # (0, 0) not generated here
    assert (df["distance"] >= 0).all()
    floor = df["distance"].iloc[0]
    assert (df["distance"].iloc[1:] > floor).all()  # one repeated sentence sits far from the real centroid


def test_negative_sources_count_real_and_synthetic_draws(generated):
    df = content.negative_sources("hypotheses", "smoke").set_index("set")
    assert len(df) == 2  # only the sets with negative prompts record them
    n = SMOKE.n_samples
    only = generation_path("hypotheses", "negative_only", profile="smoke", eta=SMOKE.eta).stem
    assert df.loc[only, "negatives_drawn"] == 10 * n and df.loc[only, "synthetic"] == n
    assert df.loc[only, "share_real"] == pytest.approx(0.9)


def test_domain_words_scores_real_texts_with_the_cached_model(iso, monkeypatch, tokenizer):
    from steer_lib.experiments import experiment

    model = make_soft_lora(len(tokenizer))
    monkeypatch.setattr(experiment, "cached_domain_model", lambda task, profile, base_model="": (model, tokenizer))
    table, mean_token, n = content.domain_words("hypotheses", "smoke", n_texts=12, min_share=0.2)
    assert n == 12 and math.isfinite(mean_token)
    assert (table["texts"] >= 3).all() and table["mean_log_ratio"].is_monotonic_decreasing  # 0.2 × 12 → 3 texts
    assert set(content.real_sample("hypotheses", 12)) <= set(get_task("hypotheses").real_texts("train"))
    with pytest.raises(ValueError, match="min_share=1"):
        content.domain_words("hypotheses", "smoke", min_share=1)
    with pytest.raises(ValueError, match="n=0"):
        content.real_sample("hypotheses", 0)


def test_set_log_ratios_score_each_set_with_the_cached_model(generated, monkeypatch, tokenizer):
    from steer_lib.experiments import experiment

    model = make_soft_lora(len(tokenizer))
    monkeypatch.setattr(experiment, "cached_domain_model", lambda task, profile, base_model="": (model, tokenizer))
    sets, _ = content.content_sets("hypotheses", "smoke")
    df = content.set_log_ratios("hypotheses", "smoke", {**sets, "empty": ["", " "]})
    assert list(df.index) == [*sets, "empty"] and df.loc["empty", "tokens"] == 0
    assert df.drop("empty")["mean_log_ratio"].map(math.isfinite).all() and (df.drop("empty")["tokens"] > 0).all()
    same = content.set_log_ratios("hypotheses", "smoke", {"a": ["Globular clusters are old."] * 2})
    assert same.loc["a", "mean_log_ratio"] == pytest.approx(df.loc[f"η only (γ=0, η={SMOKE.eta:g})", "mean_log_ratio"],
                                                            abs=1e-5)  # one repeated text: its own mean
