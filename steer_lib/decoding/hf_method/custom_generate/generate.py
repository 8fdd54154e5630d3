"""STEER for ``model.generate(custom_generate=<this folder>, trust_remote_code=True, ...)`` (transformers 5.x).

It wraps the kit's batched, KV-cached engine (:mod:`steer_lib.decoding.engine`) and takes transformers'
names: ``input_ids`` / ``attention_mask`` (left padding allowed), ``negative_prompt_ids`` /
``negative_prompt_attention_mask`` (N: one row for every sample, or one row per sample), ``max_new_tokens``,
``do_sample``, ``temperature``, ``top_k``, ``top_p``, ``return_dict_in_generate``, ``tokenizer`` and
``stop_strings``; plus ``steer_gamma`` / ``steer_eta`` (γ, η; unset: the steer preset, 0.2) and ``steer_base_model``
(P_φ when it is a separate model; by default the PEFT model with its adapter off). Sampling draws from
torch's global RNG, so ``torch.manual_seed`` fixes the output, as with ``generate``. Returns the sequences
(prompt + continuation, right-padded with the pad id) or, with ``return_dict_in_generate``, a
``GenerateDecoderOnlyOutput``.
"""
from __future__ import annotations

import torch

from steer_lib.decoding import engine
from steer_lib.decoding.adapters import adapter_of, base_stream
from steer_lib.decoding.methods import MethodScorer, eos_ids, resolve_params

_UNSUPPORTED = ("logits_processor", "stopping_criteria", "prefix_allowed_tokens_fn", "assistant_model", "streamer")


class _Ids:
    """Stands in for a tokenizer when none is given (no stop strings then): text is the ids."""

    eos_token_id = None

    def decode(self, ids, skip_special_tokens=True):
        return " ".join(map(str, ids))


def _rows(ids: torch.Tensor, mask: torch.Tensor | None) -> list[list[int]]:
    if ids.dim() == 1:
        ids = ids[None]
    if mask is None:
        return ids.tolist()
    return [row[m.bool()].tolist() for row, m in zip(ids, mask.view(ids.shape))]


def _pick(value, config, name, default):
    if value is not None:
        return value
    v = getattr(config, name, None)
    return default if v is None else v


@torch.no_grad()
def generate(model, input_ids=None, attention_mask=None, negative_prompt_ids=None,
             negative_prompt_attention_mask=None, max_new_tokens=None, do_sample=None, temperature=None, top_k=None,
             top_p=None, return_dict_in_generate=None, steer_gamma: float | None = None, steer_eta: float | None = None,
             steer_base_model=None, tokenizer=None, stop_strings=None, inputs=None, generation_config=None,
             **kwargs):
    for name in _UNSUPPORTED:
        if kwargs.get(name) not in (None, [], ()):
            raise ValueError(f"{name}= is not supported by the STEER custom_generate (it runs the kit's own loop)")
    input_ids = inputs if input_ids is None else input_ids
    if input_ids is None:
        raise ValueError("input_ids= (the prompts' token ids) is required")
    cfg = generation_config or getattr(model, "generation_config", None)
    do_sample = bool(_pick(do_sample, cfg, "do_sample", False))
    temperature = float(_pick(temperature, cfg, "temperature", 1.0))
    top_k = _pick(top_k, cfg, "top_k", None) or None  # 0 = no top-k, as in transformers
    top_p = _pick(top_p, cfg, "top_p", None)
    top_p = None if top_p is None or top_p >= 1 else float(top_p)
    max_new_tokens = int(_pick(max_new_tokens, cfg, "max_new_tokens", 20))
    p = resolve_params("steer", gamma=None if steer_gamma is None else float(steer_gamma),
                       eta=None if steer_eta is None else float(steer_eta), top_k=1 if not do_sample else top_k,
                       top_p=top_p, temperature=temperature)
    prompts = _rows(input_ids, attention_mask)
    streams = [engine.Stream("ft", model, adapter_of(model), prompts)]
    if p["gamma"]:
        # PeftModel.generate hands the *inner* model here (its PEFT wrapper is one level up): then P_φ is a
        # PhiView, a group of its own whose forward switches the injected adapter layers off
        base = base_stream(model, steer_base_model)
        if base is None:
            raise ValueError("steer_gamma > 0 needs P_φ: a PEFT (LoRA) model, whose adapter off is P_φ, "
                             "or steer_base_model=")
        streams.append(engine.Stream("base", *base, prompts))
    if p["eta"]:
        if negative_prompt_ids is None:
            raise ValueError("steer_eta > 0 needs negative_prompt_ids (the tokenized negative prompt N)")
        negs = _rows(negative_prompt_ids, negative_prompt_attention_mask)
        if len(negs) == 1:
            negs = negs * len(prompts)
        if len(negs) != len(prompts):
            raise ValueError(f"negative_prompt_ids has {len(negs)} rows for {len(prompts)} prompts (give 1 or one each)")
        streams.append(engine.Stream("neg", streams[0].model, streams[0].adapter, negs))
    stops = tuple(stop_strings or ())
    if stops and tokenizer is None:
        raise ValueError("stop_strings= needs tokenizer= (pass both to generate)")
    tok = tokenizer if tokenizer is not None else _Ids()
    gen = torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))  # from torch's global RNG
    ids: list[list[int]] = []
    engine.run(streams, tok, MethodScorer("steer", p), max_new_tokens=max_new_tokens, generator=gen, greedy=not do_sample,
               stop_strings=stops, eos_ids=eos_ids(model, tok), token_ids=ids)
    pad = _pick(None, cfg, "pad_token_id", None)
    pad = pad if pad is not None else (getattr(tok, "pad_token_id", None) or 0)
    width = max(map(len, ids))
    new = torch.full((len(ids), width), pad, dtype=torch.long)
    for r, row in enumerate(ids):
        new[r, :len(row)] = torch.tensor(row, dtype=torch.long)
    seqs = torch.cat([input_ids.view(len(prompts), -1).cpu(), new], dim=1).to(input_ids.device)
    if return_dict_in_generate:
        from transformers.generation.utils import GenerateDecoderOnlyOutput
        return GenerateDecoderOnlyOutput(sequences=seqs)
    return seqs
