"""Downstream utility: real data must beat chance on held-out sets, junk must not, bad input must fail loudly.

The two "beats chance" tests use the real embedder (all-MiniLM-L6-v2, through the shared
embedding cache) on small real subsets; the logic tests use a hashing bag-of-words embedder
so they run in milliseconds.
"""
from __future__ import annotations

import json
import random
import zlib

import numpy as np
import pandas as pd
import pytest

from steer_lib import downstream as ds
from steer_lib.cli import downstream as downstream_cli
from steer_lib.downstream import common as downstream_common
from steer_lib import paths
from steer_lib.data.tasks import format_csqa


def bow_embed(texts: list[str], dim: int = 256) -> np.ndarray:
    """Hashed bag of words, L2-normalised: a deterministic stand-in for a sentence embedder."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in t.lower().split():
            out[i, zlib.crc32(w.encode()) % dim] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def as_text(q: ds.Question, answer: int | None = None) -> str:
    return format_csqa(q.stem, list(q.options), "ABCDE"[q.answer if answer is None else answer])


# ---------------------------------------------------------------- config
def test_config_profiles_and_validation():
    smoke, quick = ds.DownstreamConfig.for_profile("smoke"), ds.DownstreamConfig.for_profile("quick")
    assert len(smoke.seeds) >= 1 and len(quick.seeds) >= 3
    assert quick.n_real_per_class == 100 and quick.n_test_per_class is None  # the sizes, full pools
    with pytest.raises(ValueError, match="seeds"):
        ds.DownstreamConfig().replace(seeds=())
    with pytest.raises(ValueError, match="C=-1"):
        ds.DownstreamConfig().replace(C=-1.0)
    with pytest.raises(ValueError, match="mcqa_dropout"):
        ds.DownstreamConfig().replace(mcqa_dropout=1.5)
    assert ds.DownstreamConfig().replace(seeds="3,4").seeds == (3, 4)  # CLI --set strings


# ---------------------------------------------------------------- toxicity (real embedder)
def test_toxicity_real_beats_chance_and_junk_does_not():
    rng = random.Random(0)
    pool = ds.real_pools("train")
    shuffled = pool["toxic"][-80:] + pool["non-toxic"][-80:]
    rng.shuffle(shuffled)  # real comments with labels unrelated to toxicity
    letters = "abcdefghijklmnopqrstuvwxyz"
    garbage = [" ".join("".join(rng.choices(letters, k=rng.randint(2, 8))) for _ in range(12)) for _ in range(160)]
    synthetic = {"shuffled": {"toxic": shuffled[:80], "non-toxic": shuffled[80:]},
                 "garbage": {"toxic": garbage[:80], "non-toxic": garbage[80:]}}
    df = ds.toxicity_experiment(synthetic, seeds=(0,), n_real_per_class=60, n_test_per_class=100)

    real = df[df.setting == "real"].iloc[0]
    assert real["method"] == "real-only" and real["n_train"] == 120
    assert real["accuracy"] > 0.7 and real["roc_auc"] > 0.8, real.to_dict()  # clearly above chance (0.5)
    for m in ("shuffled", "garbage"):
        syn = df[(df.method == m) & (df.setting == "synthetic")].iloc[0]
        assert syn["accuracy"] < real["accuracy"] - 0.1, (m, syn.to_dict())
        assert syn["roc_auc"] < real["roc_auc"] - 0.1, (m, syn.to_dict())
        assert syn["n_train"] == 160 and syn["n_synth"] == 160
    assert len(df) == 1 + 2 * 2  # real once, then (real+synthetic, synthetic) per method


def test_toxicity_seeds_vary_the_real_subset_and_use_equal_synthetic_counts():
    pool = {"toxic": [f"you idiot number {i} stupid" for i in range(40)],
            "non-toxic": [f"thanks for the edit number {i} friend" for i in range(40)]}
    test = {"toxic": [f"stupid idiot {i}" for i in range(20)], "non-toxic": [f"thanks friend {i}" for i in range(20)]}
    synthetic = {"a": {"toxic": pool["toxic"][:30], "non-toxic": pool["non-toxic"][:25]},
                 "b": {"toxic": pool["toxic"][:12], "non-toxic": pool["non-toxic"][:40]}}
    df = ds.toxicity_experiment(synthetic, seeds=(0, 1), n_real_per_class=10, real_train=pool, test=test,
                                embedder=bow_embed)
    syn = df[df.setting == "synthetic"]
    assert set(syn["n_synth"]) == {24}  # the fewest any method has (12 per class), for every method
    assert (df[df.setting == "real"]["accuracy"] > 0.9).all()  # trivially separable by vocabulary
    s = ds.summarise(df)
    assert list(s["method"])[0] == "real-only" and set(s["n_seeds"]) == {2}
    assert {"accuracy_mean", "accuracy_sd", "f1_mean", "roc_auc_sd"} <= set(s.columns)
    vs = pd.DataFrame(df.attrs["vs_real"])  # accuracy minus real-only, paired over the 40 test comments
    assert len(vs) == 4 and (vs["seeds"] == 2).all() and (vs["ci_lo"] <= vs["diff"]).all()
    real_acc = df[df.setting == "real"]["accuracy"].mean()
    a_syn = df[(df.method == "a") & (df.setting == "synthetic")]["accuracy"].mean()
    assert vs.set_index(["method", "setting"]).loc[("a", "synthetic"), "diff"] == pytest.approx(a_syn - real_acc)


def test_toxicity_bad_input_names_the_problem():
    ok = {"toxic": ["a b"], "non-toxic": ["c d"]}
    with pytest.raises(ValueError, match=r"synthetic\['m'\] must have exactly the keys.*missing \['non-toxic'\]"):
        ds.toxicity_experiment({"m": {"toxic": ["x"]}}, seeds=(0,), real_train=ok, test=ok, embedder=bow_embed)
    with pytest.raises(ValueError, match=r"synthetic\['m'\]\['toxic'\] is empty"):
        ds.toxicity_experiment({"m": {"toxic": [], "non-toxic": ["x"]}}, seeds=(0,), n_real_per_class=1,
                               real_train=ok, test=ok, embedder=bow_embed)
    with pytest.raises(TypeError, match=r"\['non-toxic'\]\[1\] is int"):
        ds.toxicity_experiment({"m": {"toxic": ["x"], "non-toxic": ["y", 3]}}, seeds=(0,), n_real_per_class=1,
                               real_train=ok, test=ok, embedder=bow_embed)
    with pytest.raises(ValueError, match=r"real_train\['toxic'\]: asked for 5 examples but only 1"):
        ds.toxicity_experiment({"m": ok}, seeds=(0,), n_real_per_class=5, real_train=ok, test=ok, embedder=bow_embed)
    with pytest.raises(TypeError, match="dict keyed by method"):
        ds.toxicity_experiment(["x"], seeds=(0,), n_real_per_class=1, real_train=ok, test=ok, embedder=bow_embed)
    with pytest.raises(ValueError, match="no setting 'n_real'"):
        ds.toxicity_experiment({"m": ok}, n_real=3)


# ---------------------------------------------------------------- multiple-choice QA
def test_mcqa_scratch_scorer_real_beats_chance_and_random_keys_do_not():
    train = ds.real_questions("train")
    rng = random.Random(0)
    rand_keys = [as_text(q, rng.randrange(5)) for q in train[-400:]]  # real questions, answer keys at random
    df = ds.mcqa_experiment({"random-keys": rand_keys}, seeds=(0,), n_real_questions=400, n_dev=300,
                            real_train=train[:2000], mcqa_init="scratch", mcqa_lr=1e-3, mcqa_epochs=30)
    real = df[df.setting == "real"].iloc[0]
    syn = df[(df.method == "random-keys") & (df.setting == "synthetic")].iloc[0]
    assert real["n_train"] == 400
    assert real["accuracy"] > ds.MCQA_CHANCE + 0.08, real.to_dict()  # 20 % chance, clear margin
    assert syn["accuracy"] < real["accuracy"] - 0.05, syn.to_dict()
    assert syn["n_accepted"] == 400 and syn["n_rejected"] == 0


def test_mcqa_counts_rejected_questions_and_matches_counts():
    real = ds.real_questions("train")[:60]
    dev = ds.real_questions("dev")[:40]
    good = [as_text(q) for q in real[:30]]
    bad = ["Where is it? A. here B. there Answer: A", "", "What? A. a B. b C. c D. d E. e",
           "Q? A. a B. b C. c D. d E. e Answer: A and then more text"]
    df = ds.mcqa_experiment({"m": good + bad, "n": good[:20]}, seeds=(0,), real_train=real, dev=dev,
                            embedder=bow_embed, mcqa_epochs=2)
    m = df[(df.method == "m") & (df.setting == "synthetic")].iloc[0]
    assert (m["n_generated"], m["n_accepted"], m["n_rejected"]) == (34, 30, 4)
    assert set(df[df.setting == "synthetic"]["n_synth"]) == {20}  # same N per method (fewest valid)
    assert df[df.setting == "real"].iloc[0]["n_real"] == 20  # real N matches the synthetic N by default
    why = df.attrs["rejections"]["m"]
    assert why["option C is missing"] == 1 and why["empty"] == 1 and why["no answer key 'Answer: A–E'"] == 1
    assert sum(why.values()) == 4
    # the same generated set reused by three seeds (as quick and smoke reuse generation seed 0): counted once
    df3 = ds.mcqa_experiment({"m": good + bad, "n": good[:20]}, seeds=(0, 1, 2), real_train=real, dev=dev,
                             embedder=bow_embed, mcqa_epochs=2)
    assert df3.attrs["rejections"]["m"] == why and df3.attrs["rejections"]["n"] == {}


def test_mcqa_bad_input_names_the_problem():
    real, dev = ds.real_questions("train")[:10], ds.real_questions("dev")[:10]
    with pytest.raises(ValueError, match=r"no valid synthetic question for method\(s\) \['m'\]"):
        ds.mcqa_experiment({"m": ["not a question"]}, seeds=(0,), real_train=real, dev=dev, embedder=bow_embed)
    with pytest.raises(TypeError, match=r"synthetic\['m'\] must be a list of strings"):
        ds.mcqa_experiment({"m": "one string"}, seeds=(0,), real_train=real, dev=dev, embedder=bow_embed)
    with pytest.raises(ValueError, match="real_train: asked for 50"):
        ds.mcqa_experiment({"m": [as_text(q) for q in real]}, seeds=(0,), n_real_questions=50, real_train=real,
                           dev=dev, embedder=bow_embed)
    with pytest.raises(ValueError, match="split='test'"):
        ds.real_questions("test")


# ---------------------------------------------------------------- report + CLI
def test_save_outputs_writes_tables_and_figure(tmp_path, monkeypatch):
    monkeypatch.setenv("STEER_ROOT", str(tmp_path))
    df = pd.DataFrame({"method": ["real-only", "steer", "steer"] * 2,
                       "setting": ["real", "real+synthetic", "synthetic"] * 2,
                       "seed": [0, 0, 0, 1, 1, 1], "accuracy": [0.6, 0.7, 0.5, 0.62, 0.72, 0.52],
                       "n_train": [10, 20, 10] * 2})
    paths = ds.save_outputs(df, "commonsense", "smoke", chance=0.2)
    for key in ("csv", "md", "seeds_csv", "json", "png", "pdf"):
        assert paths[key].exists() and paths[key].stat().st_size > 0, key
    assert paths["csv"] == tmp_path / "results" / "smoke" / "downstream_commonsense.csv"
    assert paths["png"] == tmp_path / "figures" / "smoke" / "06_downstream_commonsense.png"  # notebook 06's name
    md = paths["md"].read_text()
    assert "| steer | real+synthetic | 0.710 ± 0.014 |" in md
    df.attrs["vs_real"] = [{"method": "steer", "setting": "synthetic", "diff": -0.1, "ci_lo": -0.2, "ci_hi": -0.01,
                            "separated": True, "seeds": 2}]
    paths = ds.save_outputs(df, "commonsense", "smoke", chance=0.2)
    assert "| steer | synthetic | −0.100 | −0.200 to −0.010 | yes |" in paths["md"].read_text()
    assert json.loads(paths["json"].read_text())["vs_real"][0]["separated"] is True
    with pytest.raises(ValueError, match="metric='f1'"):
        ds.plot(df, metric="f1")
    with pytest.raises(ValueError, match="non-empty DataFrame"):
        ds.summarise(pd.DataFrame())


def test_cli_reference_commonsense_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STEER_DATA", str(paths.data_dir()))  # keep reading the real data ...
    monkeypatch.setenv("STEER_ROOT", str(tmp_path))  # ... but write results/ and figures/ to tmp
    monkeypatch.setattr(downstream_common, "get_embedder", lambda embedder=None, name=None: type(
        "E", (), {"encode": staticmethod(bow_embed)})())
    rc = downstream_cli.cli(["--task", "commonsense", "--profile", "smoke", "--reference", "--methods", "no_steer", "steer",
                 "--set", "n_synth_questions=100", "--set", "n_dev=100", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["task"] == "commonsense" and out["source"].startswith("reference")
    assert {r["method"] for r in out["rows"]} == {"real-only", "top_k", "steer"}  # the kit's method names
    assert all(r["n_train"] in (100, 200) for r in out["rows"])
    assert (tmp_path / "results" / "smoke" / "downstream_commonsense_reference.md").exists()
    assert downstream_cli.cli(["--task", "poems", "--profile", "smoke"]) == 2
    assert downstream_cli.cli(["--task", "comments", "--profile", "smoke", "--set", "seeds=()"]) == 2


def test_mcqa_method_without_valid_questions_is_left_out_with_a_warning():
    real, dev = ds.real_questions("train")[:10], ds.real_questions("dev")[:10]
    good = [as_text(q) for q in real]
    with pytest.warns(UserWarning, match=r"method 'bad' produced no valid question"):
        df = ds.mcqa_experiment({"good": good, "bad": ["not a question"]}, seeds=(0,), real_train=real, dev=dev,
                                embedder=bow_embed)
    assert set(df.method) == {ds.REAL_METHOD, "good"}
    assert df.attrs["skipped"] == {"bad": [0]} and df.attrs["rejections"]["bad"]


# ---------------------------------------------------------------- the default learner on synthetic embeddings
def rotated_set(n: int, seed: int, dim: int = 16, keys: str = "true") -> tuple[list, dict]:
    """Questions whose answer is a fixed rotation of the question (plus noise) among four random distractors:
    cosine similarity alone is near chance, a learnt W in cos(W q, o) can find the rotation. ``keys="random"``
    draws the answer letter at random instead (same embeddings, no signal)."""
    rng, keys_rng = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    rot = np.linalg.qr(np.random.default_rng(99).normal(size=(dim, dim)))[0]  # one rotation for every set
    qs, emb = [], {}
    for i in range(n):
        q = rng.normal(size=dim)
        ans = int(rng.integers(5))
        opts = rng.normal(size=(5, dim))
        opts[ans] = rot @ q + 0.3 * rng.normal(size=dim)
        stem = f"{keys} keys, set {seed}, question {i}"
        names = tuple(f"{stem}, option {k}" for k in range(5))
        emb[stem] = q.astype(np.float32)
        emb.update({t: v.astype(np.float32) for t, v in zip(names, opts)})
        qs.append(ds.Question(stem, names, ans if keys == "true" else int(keys_rng.integers(5))))
    return qs, emb


def test_adapter_with_no_data_is_exactly_the_zero_shot_scorer():
    from steer_lib.downstream import mcqa

    dev, emb = rotated_set(200, seed=1)
    cfg = ds.DownstreamConfig()
    assert cfg.mcqa_init == "adapter"  # the default learner
    zs = mcqa.zero_shot_accuracy(dev, emb)
    for qs in ([], dev[:2]):  # no question; too few to hold a slice out for early stopping
        assert mcqa.accuracy(mcqa.train_scorer(qs, emb, cfg, seed=0), dev, emb) == zs
    with pytest.raises(ValueError, match="from scratch on zero questions"):
        mcqa.train_scorer([], emb, cfg.replace(mcqa_init="scratch"), seed=0)
    with pytest.raises(ValueError, match="mcqa_val_frac=1.0"):
        cfg.replace(mcqa_val_frac=1.0)


def test_adapter_learns_a_signal_and_random_keys_do_not_help():
    from steer_lib.downstream import mcqa

    dev, emb = rotated_set(300, seed=1)
    train, emb_t = rotated_set(300, seed=2)
    noise, emb_n = rotated_set(300, seed=2, keys="random")
    emb = {**emb, **emb_t, **emb_n}
    cfg = ds.DownstreamConfig().replace(mcqa_lr=1e-2, mcqa_epochs=300)  # a clear signal, learnt fast
    zs = mcqa.zero_shot_accuracy(dev, emb)
    assert zs < 0.35  # the rotation hides the answer from plain cosine (chance 0.2)
    learnt = mcqa.accuracy(mcqa.train_scorer(train, emb, cfg, seed=0), dev, emb)
    rand = mcqa.accuracy(mcqa.train_scorer(noise, emb, cfg, seed=0), dev, emb)
    assert learnt > zs + 0.3, (learnt, zs)
    assert rand < zs + 0.05 and rand < learnt - 0.3, (rand, zs, learnt)


def test_mcqa_vs_real_is_paired_over_dev_questions():
    dev = ds.real_questions("dev")[:80]
    real = ds.real_questions("train")[:60]
    df = ds.mcqa_experiment({"m": [as_text(q) for q in real[:30]]}, seeds=(0, 1), real_train=real, dev=dev,
                            embedder=bow_embed, mcqa_epochs=2)
    vs = pd.DataFrame(df.attrs["vs_real"])
    assert set(zip(vs["method"], vs["setting"])) == {("m", "synthetic"), ("m", "real+synthetic")}
    assert (vs["seeds"] == 2).all() and len(df.attrs["dev_correct"][("real-only", "real", 0)]) == 80
    row = df[(df.method == "m") & (df.setting == "synthetic")]["accuracy"].mean() - \
        df[df.setting == "real"]["accuracy"].mean()
    assert vs.set_index("setting").loc["synthetic", "diff"] == pytest.approx(row)  # seeds paired, averaged
    assert (vs["ci_lo"] <= vs["diff"]).all() and (vs["diff"] <= vs["ci_hi"]).all()
    with pytest.raises(ValueError, match="mcqa_init='warm'"):
        ds.DownstreamConfig().replace(mcqa_init="warm")
