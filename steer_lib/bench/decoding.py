"""``python -m steer_lib bench``: STEER's throughput vs plain sampling, the authors' loop and the transformers CFG peer.

Everything is measured in one run, on one model, so the ratios hold even on a shared CPU:

- ``plain_tok_s``: top-k sampling of P_θ (k=10) with this engine;
- ``steer_tok_s`` / ``steer_k2_tok_s``: STEER (γ=η=0.2) with k=10 / k=2 negatives drawn from
  the hypotheses task's real data;
- ``reference_tok_s``: the seed authors' whole loop (batch 1, four forwards per token: their
  ``generate()``'s own cached P_θ step, whose logits are discarded, P_θ and P_φ recomputed over
  the whole sequence with ``use_cache=False``, and the cached negative branch), on a few samples;
- ``hf_cfg_tok_s``: the peer a transformers user would write — STEER through ``model.generate()``
  with two stock ``UnbatchedClassifierFreeGuidanceLogitsProcessor`` s (batched, KV-cached; see
  :mod:`steer_lib.decoding.hf_cfg`), k=10 negatives; ``steer_vs_hf_cfg`` = steer_tok_s / hf_cfg_tok_s;
- ``steer_prefill_share`` and ``steer_vs_reference_if_decode_were_free``: the share of STEER's
  time spent prefilling negative prompts, and the ceiling that puts on ``steer_vs_reference``;
- ``prefill_tokens`` / ``prefill_pad``: the engine's prefill buckets on this device (at most this many padded
  tokens per forward, at most this share of padding; :mod:`steer_lib.decoding.engine` says how they were chosen);
- ``base_load_s`` (command line only): loading the base model and tokenizer, from the cached
  safetensors copy once the GGUF has been converted (``base_load_converted`` says whether this
  run converted it); ``base_load_vs_target = 10 / base_load_s`` (≥ 1: under the 10 s target).

Every method generates exactly ``new_tokens`` per sample (EOS ignored) so they do the same
work. The fine-tuned side is a LoRA with non-zero weights when no adapter is given.
"""
from __future__ import annotations

import resource
import time
from collections import Counter

import torch

from ..decoding.engine import PREFILL_PAD, prefill_tokens
from ..decoding.hf_cfg import hf_cfg_generate
from ..decoding.methods import generate
from ..decoding.negatives import NegativePool
from ..decoding.reference import reference_steer


def nonzero_lora(model, seed: int = 0, r: int = 8, target_modules: list[str] | None = None):
    """Wrap ``model`` in a LoRA whose B matrices are small random values (a fresh LoRA is a no-op).

    ``target_modules`` defaults to Llama's attention projections (Falcon: ``query_key_value``, ``dense``).
    """
    from peft import LoraConfig, get_peft_model

    pm = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.0,
                                          target_modules=target_modules or ["q_proj", "k_proj", "v_proj", "o_proj"]))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in pm.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g).to(p.dtype) * 0.01)
    return pm.eval()


CPU_SECONDS: dict[str, float] = {}  # process CPU time of the last _timed call per key


def _timed(fn, key: str = "") -> float:
    """Wall seconds of ``fn()``; its process CPU seconds go to ``CPU_SECONDS[key]``.

    On a shared machine the CPU time is the steadier measure: it does not count the time
    other people's jobs held the cores.
    """
    t, c = time.perf_counter(), time.process_time()
    fn()
    CPU_SECONDS[key] = time.process_time() - c
    return time.perf_counter() - t


def run_bench(model, tokenizer, pool_texts: list[str], *, batch_size: int = 32, new_tokens: int = 64,
              reference_samples: int = 2, layout: str = "split", seed: int = 0) -> dict:
    """Measure the five throughputs (tokens generated per second) and their ratios."""
    from ..data.tasks import get_task

    prompt = get_task("hypotheses").prompt
    prompts = [prompt] * batch_size
    kw = dict(batch_size=batch_size, max_new_tokens=new_tokens, ignore_eos=True, seed=seed, layout=layout)
    tokens = batch_size * new_tokens
    generate(model, tokenizer, prompts[:2], gamma=0.0, eta=0.0, **{**kw, "max_new_tokens": 2})  # warm-up
    phases = {}
    clock = Counter()  # the engine's seconds per phase of one method
    res = {"plain_tok_s": tokens / _timed(lambda: generate(model, tokenizer, prompts, gamma=0.0, eta=0.0,
                                                            timings=clock, **kw), "plain")}
    phases["plain"] = dict(clock)
    for key, k in (("steer_tok_s", 10), ("steer_k2_tok_s", 2)):
        pool = NegativePool(pool_texts, k=k, seed=seed)
        clock = Counter()
        res[key] = tokens / _timed(lambda: generate(model, tokenizer, prompts, negatives=pool, timings=clock, **kw),
                                   key.replace("_tok_s", ""))
        phases[key.replace("_tok_s", "")] = dict(clock)
    pool = NegativePool(pool_texts, k=10, seed=seed)
    g = torch.Generator().manual_seed(seed)
    dt = _timed(lambda: [reference_steer(model, tokenizer, prompt, pool.draw(i), new_tokens=new_tokens, generator=g)
                         for i in range(reference_samples)], "reference")
    res["reference_tok_s"] = reference_samples * new_tokens / dt
    res["reference_forwards_per_token"] = 4
    pool = NegativePool(pool_texts, k=10, seed=seed)
    hf_kw = dict(batch_size=batch_size, max_new_tokens=new_tokens, ignore_eos=True, seed=seed)
    hf_cfg_generate(model, tokenizer, prompts[:2], negatives=list(pool_texts[:2]), **{**hf_kw, "max_new_tokens": 2})
    res["hf_cfg_tok_s"] = tokens / _timed(lambda: hf_cfg_generate(model, tokenizer, prompts, negatives=pool, **hf_kw),
                                          "hf_cfg")
    res["steer_vs_plain"] = res["steer_tok_s"] / res["plain_tok_s"]
    res["steer_k2_vs_plain"] = res["steer_k2_tok_s"] / res["plain_tok_s"]
    res["steer_vs_reference"] = res["steer_tok_s"] / res["reference_tok_s"]
    res["steer_vs_hf_cfg"] = res["steer_tok_s"] / res["hf_cfg_tok_s"]
    # What bounds steer_vs_reference: every sample's negative prompt must be prefilled once, however fast
    # the decoding. The ratio the engine would reach if its decode steps cost nothing:
    prefill = sum(v for k, v in phases["steer"].items() if k.startswith("prefill")) / tokens
    res["steer_prefill_share"] = prefill * res["steer_tok_s"]
    res["steer_vs_reference_if_decode_were_free"] = (1 / res["reference_tok_s"]) / prefill if prefill else None
    cpu = {k: CPU_SECONDS[k] / (reference_samples * new_tokens if k == "reference" else tokens)
           for k in ("plain", "steer", "steer_k2", "reference", "hf_cfg")}  # CPU seconds per generated token
    res["cpu_steer_vs_plain"] = cpu["plain"] / cpu["steer"]
    res["cpu_steer_k2_vs_plain"] = cpu["plain"] / cpu["steer_k2"]
    res["cpu_steer_vs_reference"] = cpu["reference"] / cpu["steer"]
    res["cpu_steer_vs_hf_cfg"] = cpu["hf_cfg"] / cpu["steer"]
    device = next(model.parameters()).device
    res["peak_memory_mb"] = (torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda"
                             else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    res["device"] = str(device)
    res.update(prefill_tokens=prefill_tokens(device), prefill_pad=PREFILL_PAD)
    res["threads"] = torch.get_num_threads()
    res.update(batch_size=batch_size, new_tokens=new_tokens, reference_samples=reference_samples, layout=layout)
    res = {k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()}
    res["seconds_by_phase"] = {m: {p: round(s, 3) for p, s in ph.items()} for m, ph in phases.items()}
    return res
