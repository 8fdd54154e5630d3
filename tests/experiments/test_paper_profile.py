"""The ``paper`` profile's code paths, run on a tiny random-weight model with only the sizes overridden.

The paper profile is meant for a GPU; these tests execute what only it exercises — gradient accumulation,
max length 512, the QLoRA request without a GPU (a stated fallback), generation at batch 32 with k = 10
negatives, the 6×6 γ×η grid with 3 seeds in the sweep plan — overriding nothing but steps, sample counts
and the work done per grid point.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from conftest import add_nonzero_lora, make_tiny_llama
from steer_lib.data.tasks import get_task
from steer_lib.experiments.experiment import ExperimentConfig
from steer_lib.finetune import domain_model as ft
from steer_lib.finetune.config import FinetuneConfig




def test_finetune_with_paper_settings(iso, tiny_base, monkeypatch):
    """Paper: 16 examples per update in 4 micro-batches, 512 tokens, constant LR, r=64, QLoRA asked for."""
    paper = FinetuneConfig.for_profile("paper")
    assert (paper.batch_size, paper.grad_accum, paper.max_length, paper.qlora) == (16, 4, 512, True)
    micro: list[int] = []
    from steer_lib.finetune import train as train_mod
    real_collate = train_mod.collate
    monkeypatch.setattr(train_mod, "collate",
                        lambda batch, *a, **k: micro.append(len(batch)) or real_collate(batch, *a, **k))
    sizes = dict(steps=2, max_train_examples=64, eval_examples=8)  # sizes only
    path = ft.finetune("hypotheses", "paper", base=tiny_base, progress=False, **sizes)
    rec = ft.read_record(path)
    assert rec["settings"] == json.loads(json.dumps({**paper.to_dict(), **sizes}))  # all else is the paper's
    assert rec["config"] == json.loads(json.dumps(paper.replace(**sizes).key_dict()))  # what the cache key hashes
    assert rec["config"]["grad_accum"] == 4 and rec["config"]["max_length"] == 512 and rec["config"]["lora_r"] == 64
    assert len(rec["history"]) == 2
    assert rec["quantized_4bit"] is False and "plain LoRA" in rec["qlora_fallback"]  # CPU: the stated fallback
    assert micro.count(4) >= 2 * 4  # every update is 4 micro-batches of 16 / 4 examples


def test_generation_at_paper_batch_and_k(tokenizer):
    """Paper: batch 32, k = 10 negatives from the real data, γ = η = 0.3; 32 samples, 4 new tokens (sizes)."""
    from steer_lib.decoding.methods import generate
    from steer_lib.decoding.negatives import NegativePool

    cfg = ExperimentConfig.for_profile("paper", n_samples=32, max_new_tokens=4)
    assert (cfg.batch_size, cfg.k_neg) == (32, 10)
    task = get_task("hypotheses")
    pool = NegativePool(task.real_texts("train"), k=cfg.k_neg, seed=0, clean=task.clean)
    model = add_nonzero_lora(make_tiny_llama(len(tokenizer)))
    out = generate(model, tokenizer, [task.prompt] * cfg.n_samples, gamma=cfg.gamma, eta=cfg.eta, negatives=pool,
                   batch_size=cfg.batch_size, max_new_tokens=cfg.max_new_tokens, stop_strings=task.stop_strings)
    assert len(out) == 32 and all(isinstance(t, str) for t in out)
    kept = [t for t in map(task.clean, out) if t and t.strip()]  # what NegativePool.add keeps of a finished batch
    assert kept, "every sample came out empty: the pool check below would prove nothing"
    assert len(pool) - pool.n_real == len(kept)  # the pool grew by exactly the batch's non-empty samples


def test_sweep_plan_is_the_papers_grid(iso, monkeypatch):
    """Paper: γ, η ∈ {0, 0.2, …, 1} and seeds 0–2 → 108 points per task, each run once (the work is stubbed)."""
    from steer_lib.experiments import sweep
    from steer_lib.experiments.sweep_config import load_config

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "sweep_paper.yaml").resolved()
    assert cfg.profile == "paper" and len(cfg.gammas) == len(cfg.etas) == 6 and cfg.seeds == (0, 1, 2)
    assert cfg.n == ExperimentConfig.for_profile("paper").n_samples == 1000
    seen = []

    def fake_point(task, g, e, s, *, profile, n, threads=None, base_model="", notebooks=False):
        seen.append((g, e, s, profile, n))
        assert base_model == ""  # the paper profile with the default base model
        return {"status": "ran", "metrics": {"mauve": 0.5, "adv_auroc": 0.5, "ngram3": 0.5}, "seconds": {"notebook": 0}}

    monkeypatch.setattr(sweep, "run_point", fake_point)
    monkeypatch.setattr(sweep, "load_sweep", lambda task, profile, n=None, base_model="": (task, profile, n))
    assert sweep.run_sweep("hypotheses", cfg.gammas, cfg.etas, cfg.seeds, profile="paper") == \
        ("hypotheses", "paper", 1000)
    assert len(seen) == len(set(seen)) == 6 * 6 * 3
    assert {p[3:] for p in seen} == {("paper", 1000)}
    assert {p[0] for p in seen} == {p[1] for p in seen} == {0.0, 0.2, 0.4, 0.6, 0.8, 1.0}


def test_evaluate_with_paper_mauve_seeds_and_bootstrap():
    """Paper: MAUVE over 5 k-means seeds, 1,000 bootstrap resamples (on 60 vs 60 texts, bag-of-words embeddings)."""
    from conftest import bag_of_words
    from steer_lib.metrics.evaluation import evaluate

    cfg = ExperimentConfig.for_profile("paper")
    assert (cfg.mauve_seeds, cfg.bootstrap) == (5, 1000)
    real = get_task("hypotheses").real_texts("train")[:60]
    synth = [t[::-1] for t in get_task("hypotheses").real_texts("train")[60:120]]
    res = evaluate(synth, real, embedder=bag_of_words, mauve_seeds=cfg.mauve_seeds, bootstrap=cfg.bootstrap)
    assert 0 <= res["mauve"] <= 1 and "cosine_ci" in res
    assert torch.isfinite(torch.tensor(res["cosine_ci"])).all()
