"""The bench code path on a tiny model: JSON structure and the reference algorithm's correctness (not speed)."""
from __future__ import annotations

import json

import pytest

from conftest import make_soft_lora
import torch

from steer_lib.bench import decoding as bench
from steer_lib.decoding.reference import reference_steer
from steer_lib.decoding.methods import generate

POOL = ["Is dark matter cold?", "Do black holes spin?", "Can stars form in voids?", "Why is the sky dark?"]


@pytest.fixture(scope="module")
def model(tokenizer):
    return make_soft_lora(len(tokenizer))


def test_run_bench_structure(model, tokenizer):
    res = bench.run_bench(model, tokenizer, POOL, batch_size=3, new_tokens=4, reference_samples=1)
    for key in ("plain_tok_s", "steer_tok_s", "steer_k2_tok_s", "reference_tok_s", "hf_cfg_tok_s"):
        assert isinstance(res[key], float) and res[key] > 0
    assert res["steer_vs_plain"] == pytest.approx(res["steer_tok_s"] / res["plain_tok_s"], rel=1e-2)
    assert res["steer_k2_vs_plain"] == pytest.approx(res["steer_k2_tok_s"] / res["plain_tok_s"], rel=1e-2)
    assert res["steer_vs_reference"] == pytest.approx(res["steer_tok_s"] / res["reference_tok_s"], rel=1e-2)
    assert res["steer_vs_hf_cfg"] == pytest.approx(res["steer_tok_s"] / res["hf_cfg_tok_s"], rel=1e-2)
    assert res["reference_forwards_per_token"] == 4 and res["cpu_steer_vs_hf_cfg"] > 0
    assert 0 < res["steer_prefill_share"] < 1
    assert res["steer_vs_reference_if_decode_were_free"] > res["steer_vs_reference"]  # prefill alone bounds it
    assert res["peak_memory_mb"] > 0 and res["device"] == "cpu"
    assert json.loads(json.dumps(res)) == res  # the last line of `bench --json` is exactly this


def test_reference_is_the_same_algorithm(model, tokenizer):
    """At top-k=1 the cache-free reference and the engine pick the same tokens."""
    prompt = "### Instruction: Generate a hypothesis.\n ### Hypothesis:"
    ref = reference_steer(model, tokenizer, prompt, POOL[:2], top_k=1, new_tokens=6)
    out = generate(model, tokenizer, [prompt], negatives=POOL[:2], top_k=1, max_new_tokens=6, ignore_eos=True)
    assert out[0] == tokenizer.decode(ref, skip_special_tokens=True)


def test_reference_is_the_authors_whole_loop(model, tokenizer):
    """Four forwards per token: generate()'s cached P_θ step, P_θ and P_φ uncached over everything, cached N."""
    calls = []
    hook = model.get_base_model().register_forward_pre_hook(
        lambda mod, args, kw: calls.append((kw["input_ids"].shape[1], kw.get("use_cache"))), with_kwargs=True)
    try:
        prompt = "### Instruction: Generate a hypothesis.\n ### Hypothesis:"
        reference_steer(model, tokenizer, prompt, POOL[:2], new_tokens=3, generator=torch.Generator().manual_seed(0))
    finally:
        hook.remove()
    assert len(calls) == 4 * 3
    p = len(tokenizer(prompt)["input_ids"])
    full = [c for c in calls if c[1] is False]
    assert full == [(p + t, False) for t in range(3) for _ in range(2)]  # P_θ, P_φ over prompt + x, no cache
    assert sum(1 for n, cached in calls if cached and n == 1) == 2 * 2  # later steps: two cached one-token steps
