"""``make gpu-check``: one prepared command that measures the GPU code paths on random-weight models.

Built for a machine that has torch, transformers, peft and accelerate but nothing else of the kit's
dependencies (no gguf, mauve-text, papermill, sentence-transformers, datasets) and no network:

- models are built with random weights from the configs shipped in ``configs/gpu_check/`` (the
  SmolLM2-135M shape, the SmolLM2-1.7B shape, the Falcon-7B shape; a few hundred bytes each);
- token ids are drawn at the tasks' real lengths: a 30-token prompt, N ≈ 475 tokens at k = 10
  negatives (≈ 95 at k = 2), 64 new tokens, batch 32 (the paper profile's batch);
- text is a string of space-separated token ids (:class:`IdTokenizer`), so the kit's own
  :func:`~steer_lib.decoding.generate` runs unchanged without a tokenizer.

Per shape, first in fp32 on the device: the exactness of the engine (both layouts) against a naive
cache-free loop (max |Δ| of the STEER scores, greedy token agreement). Then in bf16: tokens/s of
plain top-k sampling, STEER with k = 10 and k = 2 negatives in both engine layouts (``split``,
``merged``), the authors' loop (:func:`~steer_lib.decoding.reference.reference_steer`, batch 1) and the transformers CFG peer
(:mod:`steer_lib.decoding.hf_cfg`); their ratios; peak GPU memory of the bf16 phase
(``peak_memory_fp32_mb``: of the fp32 phase). Once: one QLoRA training step when bitsandbytes is
importable on CUDA (else a stated skip), and the versions it ran with. ``tiny=True`` (the
default without CUDA) runs the same code on 2-layer versions of the shapes with short lengths:
that is how it is tested on CPU (``tests/bench/test_gpu_check.py``).

Nothing here imports the kit's heavy optional packages; :func:`check_apis` names the
transformers version found and what is missing before anything is built.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import platform
import random
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "gpu_check"
SHAPES = ("smollm2-135m", "smollm2-1.7b", "falcon-7b")
LORA_TARGETS = {"llama": ["q_proj", "k_proj", "v_proj", "o_proj"], "falcon": ["query_key_value", "dense"]}
TOP_K = 10  # the steer method's top-k; its γ and η are decoding.logits_process.STEER_GAMMA / STEER_ETA (imported
# lazily, like the rest of the kit's decoding, so that check_apis can name a missing API before anything needs it)
TINY_SIZES = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "vocab_size": 512,
              "num_attention_heads": 4}


class GpuCheckError(RuntimeError):
    """A needed API is missing (the message names the version found and what is missing)."""


@dataclass(frozen=True)
class Lengths:
    batch_size: int = 32
    prompt: int = 30
    negative_example: tuple[int, int] = (40, 55)  # tokens per pool example: k=10 → N ≈ 475
    pool: int = 400
    new_tokens: int = 64
    reference_samples: int = 2
    exact_batch: int = 3
    exact_steps: int = 8


FULL = Lengths()
TINY = Lengths(batch_size=4, negative_example=(8, 14), pool=60, new_tokens=8, reference_samples=1, exact_batch=3,
               exact_steps=4)


class IdTokenizer:
    """Text is space-separated token ids: ``"5 17 3"`` ↔ ``[5, 17, 3]`` (no vocabulary, nothing to download)."""

    pad_token_id = 0
    eos_token_id = None

    def __call__(self, text: str) -> dict:
        return {"input_ids": [int(t) for t in text.split()]}

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return " ".join(str(int(i)) for i in ids)


def versions() -> dict:
    out = {"python": platform.python_version(), "torch": torch.__version__,
           "cuda": torch.version.cuda, "device_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    for name in ("transformers", "peft", "accelerate", "bitsandbytes"):
        try:
            out[name] = importlib.import_module(name).__version__ if importlib.util.find_spec(name) else None
        except Exception as e:  # noqa: BLE001 - a broken install is reported, not fatal
            out[name] = f"unimportable: {type(e).__name__}: {e}"
    return out


def check_apis() -> dict:
    """The transformers / peft APIs the engine needs; raises :class:`GpuCheckError` naming what is missing."""
    import inspect

    import transformers

    missing, found = [], {"transformers": transformers.__version__}
    try:
        from transformers.cache_utils import Cache, DynamicLayer  # noqa: F401  (kv.BufferCache builds on both)
    except ImportError as e:
        missing.append(f"transformers.cache_utils.Cache/DynamicLayer ({e})")
    if getattr(transformers, "UnbatchedClassifierFreeGuidanceLogitsProcessor", None) is None:
        missing.append("transformers.UnbatchedClassifierFreeGuidanceLogitsProcessor (the HF CFG peer)")
    for arch in ("LlamaForCausalLM", "FalconForCausalLM"):
        cls = getattr(transformers, arch, None)
        if cls is None:
            missing.append(f"transformers.{arch}")
            continue
        params = inspect.signature(cls.forward).parameters
        kw = [k for k in ("cache", "past_key_values") if k in params]
        if not kw:
            missing.append(f"{arch}.forward takes neither cache= nor past_key_values=")
        else:
            found[f"{arch}.cache_kwarg"] = kw[0]
        if "logits_to_keep" not in params:
            missing.append(f"{arch}.forward(logits_to_keep=...) (the engine's prefill)")
    try:
        import peft
        found["peft"] = peft.__version__
        if not hasattr(peft.PeftModel, "disable_adapter"):
            missing.append("peft.PeftModel.disable_adapter")
    except ImportError as e:
        missing.append(f"peft ({e})")
    if missing:
        raise GpuCheckError(f"transformers {transformers.__version__} found; missing: " + "; ".join(missing)
                            + ". Install the kit's pins (transformers==5.24, peft==0.21.2) — their wheels are a few MB.")
    return found


def load_config(shape: str, tiny: bool) -> dict:
    cfg = json.loads((CONFIG_DIR / f"{shape.replace('-', '_')}.json").read_text(encoding="utf-8"))  # falcon_7b.json
    cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
    if tiny:
        mha = cfg.get("num_key_value_heads") == cfg["num_attention_heads"]
        cfg.update({k: v for k, v in TINY_SIZES.items() if k in cfg})
        if "num_key_value_heads" in cfg:
            cfg["num_key_value_heads"] = cfg["num_attention_heads"] if mha else 2
    return cfg


def build_model(cfg: dict, device: torch.device, dtype: torch.dtype, seed: int = 0):
    """A random-weight causal LM of the config's architecture, built directly on ``device``."""
    from transformers import AutoConfig, AutoModelForCausalLM

    conf = AutoConfig.for_model(**cfg)
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(conf, dtype=dtype)
    return model.eval()


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def draw_texts(lengths: Lengths, vocab: int, seed: int = 0) -> tuple[str, list[str]]:
    """The prompt (``lengths.prompt`` ids) and the negative pool, as id strings (ids ≥ 3: no special tokens)."""
    rng = random.Random(f"gpu-check:{seed}")
    ids = lambda n: " ".join(str(rng.randrange(3, vocab)) for _ in range(n))  # noqa: E731
    lo, hi = lengths.negative_example
    return ids(lengths.prompt), [ids(rng.randint(lo, hi)) for _ in range(lengths.pool)]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _tok_s(fn: Callable[[], object], tokens: int, device: torch.device) -> float:
    _sync(device)
    t = time.perf_counter()
    fn()
    _sync(device)
    return tokens / (time.perf_counter() - t)


class _Recorder:
    """Engine score function that keeps each step's STEER scores (greedy: the argmax is the token)."""

    def __init__(self):
        from ..decoding.logits_process import STEER_ETA, STEER_GAMMA, SteerCombine
        self.combine, self.scores = SteerCombine(STEER_GAMMA, STEER_ETA), []

    def __call__(self, by_stream):
        s = self.combine(by_stream["ft"], by_stream["base"], by_stream["neg"])
        self.scores.append(s.detach().float().cpu())
        return s


@torch.no_grad()
def exactness(model, tok: IdTokenizer, prompt: str, pool: list[str], lengths: Lengths, layout: str) -> dict:
    """Engine (batched, cached, this layout) vs a naive loop (batch 1, every forward over the whole sequence)."""
    from ..decoding import engine
    from ..decoding.adapters import BASE, active_adapter
    from ..decoding.negatives import NegativePool, negative_ids
    from ..decoding.reference import naive_logits

    adapter = active_adapter(model)
    negs_pool = NegativePool(pool, k=2, seed=1)
    p = tok(prompt)["input_ids"]
    prompts = [p[: len(p) - 2 * j] for j in range(lengths.exact_batch)]  # unequal lengths: padded prefill and cache
    negs = [negative_ids(tok, negs_pool.draw(j), 10**9) for j in range(lengths.exact_batch)]
    streams = [engine.Stream("ft", model, adapter, prompts), engine.Stream("base", model, BASE, prompts),
               engine.Stream("neg", model, adapter, negs)]
    rec = _Recorder()
    engine.run(streams, tok, rec, max_new_tokens=lengths.exact_steps, generator=torch.Generator().manual_seed(0),
               greedy=True, ignore_eos=True, layout=layout)
    worst, agree, total = 0.0, 0, 0
    for r in range(lengths.exact_batch):
        toks = [int(s[r].argmax()) for s in rec.scores]
        for t, s in enumerate(rec.scores):
            ft, base, neg = naive_logits(model, prompts[r], negs[r], toks[:t])  # the cache-free oracle's forwards
            naive = rec.combine(ft[None], base[None], neg[None])[0].float().cpu()
            worst = max(worst, float((naive - s[r]).abs().max()))
            agree += int(naive.argmax()) == toks[t]
            total += 1
    return {"max_abs_diff_scores": worst, "token_agreement": agree / total, "steps": total}


def throughput(model, tok: IdTokenizer, prompt: str, pool: list[str], lengths: Lengths) -> dict:
    """Tokens/s of every decoder on the same model (EOS ignored: every sample makes ``new_tokens``)."""
    from ..decoding.hf_cfg import hf_cfg_generate
    from ..decoding.methods import generate
    from ..decoding.negatives import NegativePool
    from ..decoding.reference import reference_steer

    device = next(model.parameters()).device
    prompts = [prompt] * lengths.batch_size
    tokens = lengths.batch_size * lengths.new_tokens
    kw = dict(batch_size=lengths.batch_size, max_new_tokens=lengths.new_tokens, ignore_eos=True, seed=0)
    warm = dict(kw, max_new_tokens=2)
    generate(model, tok, prompts[:2], negatives=pool[:2], **warm)
    hf_cfg_generate(model, tok, prompts[:2], negatives=pool[:2], **warm)
    res = {"plain_tok_s": _tok_s(lambda: generate(model, tok, prompts, method="top_k", **kw), tokens, device)}
    for k in (10, 2):
        for layout in ("split", "merged"):
            pool_k = NegativePool(pool, k=k, seed=0)
            res[f"steer_k{k}_{layout}_tok_s"] = _tok_s(
                lambda: generate(model, tok, prompts, negatives=pool_k, layout=layout, **kw), tokens, device)
    pool_k = NegativePool(pool, k=10, seed=0)
    res["hf_cfg_tok_s"] = _tok_s(lambda: hf_cfg_generate(model, tok, prompts, negatives=pool_k, **kw), tokens, device)
    pool_k = NegativePool(pool, k=10, seed=0)
    g = torch.Generator().manual_seed(0)
    res["reference_tok_s"] = _tok_s(
        lambda: [reference_steer(model, tok, prompt, pool_k.draw(i), new_tokens=lengths.new_tokens, generator=g)
                 for i in range(lengths.reference_samples)], lengths.reference_samples * lengths.new_tokens, device)
    best = max(res["steer_k10_split_tok_s"], res["steer_k10_merged_tok_s"])
    res.update(
        steer_k10_split_vs_plain=res["steer_k10_split_tok_s"] / res["plain_tok_s"],
        steer_k2_split_vs_plain=res["steer_k2_split_tok_s"] / res["plain_tok_s"],
        merged_vs_split_k10=res["steer_k10_merged_tok_s"] / res["steer_k10_split_tok_s"],
        merged_vs_split_k2=res["steer_k2_merged_tok_s"] / res["steer_k2_split_tok_s"],
        steer_vs_reference=best / res["reference_tok_s"],
        steer_vs_hf_cfg=best / res["hf_cfg_tok_s"],
        best_layout_k10="split" if res["steer_k10_split_tok_s"] >= res["steer_k10_merged_tok_s"] else "merged",
    )
    return res


def check_shape(shape: str, device: torch.device, lengths: Lengths, tiny: bool, log: Callable[[str], None]) -> dict:
    from ..decoding.negatives import NegativePool, negative_ids
    from .decoding import nonzero_lora

    t0 = time.perf_counter()
    cfg = load_config(shape, tiny)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    model = nonzero_lora(build_model(cfg, device, torch.float32), target_modules=LORA_TARGETS[cfg["model_type"]])
    tok = IdTokenizer()
    prompt, pool = draw_texts(lengths, cfg["vocab_size"])
    out: dict = {"architecture": cfg["architectures"][0], "params_m": round(n_params(model.get_base_model()) / 1e6, 1),
                 "negative_tokens_k10": sum(len(negative_ids(tok, NegativePool(pool, k=10).draw(i), 10**9))
                                            for i in range(8)) / 8,
                 "negative_tokens_k2": sum(len(negative_ids(tok, NegativePool(pool, k=2).draw(i), 10**9))
                                           for i in range(8)) / 8}
    log(f"{shape}: {out['params_m']} M parameters; exactness in fp32")
    out["exactness_fp32"] = {layout: exactness(model, tok, prompt, pool, lengths, layout)
                             for layout in ("split", "merged")}
    model = model.to(torch.bfloat16)
    if device.type == "cuda":  # the bf16 figure below is the decoders' own peak, not the fp32 check's
        out["peak_memory_fp32_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    log(f"{shape}: throughput in bf16")
    out["bf16"] = throughput(model, tok, prompt, pool, lengths)
    out["peak_memory_mb"] = (torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda"
                             else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # CPU: process max RSS
    out["seconds"] = time.perf_counter() - t0
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


def qlora_step(device: torch.device, tiny: bool, max_length: int = 512) -> dict:
    """One 4-bit NF4 QLoRA training step on the SmolLM2-135M shape (random weights, saved and re-loaded quantized)."""
    if device.type != "cuda":
        return {"skipped": "no CUDA device (bitsandbytes 4-bit needs one)"}
    if importlib.util.find_spec("bitsandbytes") is None:
        return {"skipped": "bitsandbytes is not importable"}
    import tempfile

    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    t0 = time.perf_counter()
    cfg = load_config(SHAPES[0], tiny)
    with tempfile.TemporaryDirectory() as tmp:
        build_model(cfg, device, torch.bfloat16).save_pretrained(tmp)
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=torch.bfloat16)
        model = AutoModelForCausalLM.from_pretrained(tmp, quantization_config=quant, device_map={"": device.index or 0})
    model = prepare_model_for_kbit_training(model)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.1,
                                             target_modules=LORA_TARGETS[cfg["model_type"]]))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, cfg["vocab_size"], (4, max_length), generator=g).to(device)
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    opt.step()
    opt.zero_grad()
    return {"loss": float(loss), "seconds": time.perf_counter() - t0, "batch": 4, "max_length": max_length,
            "quantized_4bit": bool(getattr(model.get_base_model(), "is_loaded_in_4bit", False))}


def run_gpu_check(*, device: str | None = None, tiny: bool | None = None, shapes: tuple[str, ...] = SHAPES,
                  budget_s: float | None = None, log: Callable[[str], None] = lambda s: None) -> dict:
    """The whole check; a shape that fails is reported under its name (``{"error": …}``) and the rest still run.

    ``budget_s``: once this many seconds have passed, the shapes not yet started are skipped
    (``{"skipped": …}``, ``complete: false``) so a rented GPU session ends with a result.
    """
    t0 = time.perf_counter()
    try:
        dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    except RuntimeError:  # torch's parser error: say which value, in the check's own error (and its JSON line)
        raise GpuCheckError(f"--device {device!r} is not a torch device (e.g. cpu, cuda, cuda:1)") from None
    tiny = dev.type != "cuda" if tiny is None else tiny
    lengths = TINY if tiny else FULL
    threads = torch.get_num_threads()
    if tiny and dev.type == "cpu":
        torch.set_num_threads(1)  # 64-wide layers gain nothing from threads; a shared CPU makes them 10-100x slower
    try:
        return _run(dev, tiny, lengths, shapes, log, t0, budget_s)
    finally:
        torch.set_num_threads(threads)


def _run(dev: torch.device, tiny: bool, lengths: Lengths, shapes: tuple[str, ...], log, t0: float,
         budget_s: float | None) -> dict:
    res: dict = {"versions": versions(), "device": str(dev), "tiny": tiny, "dtype": "bfloat16",
                 "exactness_dtype": "float32", "lengths": {k: getattr(lengths, k) for k in lengths.__dataclass_fields__},
                 "method": None}
    res["apis"] = check_apis()
    from ..decoding.logits_process import STEER_ETA, STEER_GAMMA
    res["method"] = {"gamma": STEER_GAMMA, "eta": STEER_ETA, "top_k": TOP_K}
    res["threads"] = torch.get_num_threads()
    if dev.type == "cuda":
        res["tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
    res["shapes"] = {}
    for shape in shapes:
        spent = time.perf_counter() - t0
        if budget_s is not None and spent > budget_s:
            res["shapes"][shape] = {"skipped": f"time budget: {spent:.0f} s spent of --budget-s {budget_s:g}"}
            continue
        try:
            res["shapes"][shape] = check_shape(shape, dev, lengths, tiny, log)
        except Exception as e:  # noqa: BLE001 - one shape's failure (OOM, a missing op) must not hide the others
            res["shapes"][shape] = {"error": f"{type(e).__name__}: {e}"}
            if dev.type == "cuda":
                torch.cuda.empty_cache()
    try:
        res["qlora"] = qlora_step(dev, tiny)
    except Exception as e:  # noqa: BLE001
        res["qlora"] = {"error": f"{type(e).__name__}: {e}"}
    res["ok"] = all("error" not in v for v in res["shapes"].values()) and "error" not in res["qlora"]
    res["complete"] = not any("skipped" in v for v in res["shapes"].values())
    res["seconds"] = time.perf_counter() - t0
    return _round(res)


def _round(x):
    if isinstance(x, float):
        return float(f"{x:.4g}")
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_round(v) for v in x]
    return x
