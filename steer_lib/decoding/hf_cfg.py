"""STEER through transformers' own ``generate()`` and stock processors: the peer a transformers user would write.

STEER's scores (eq. 3) are exactly two chained :class:`~transformers.UnbatchedClassifierFreeGuidanceLogitsProcessor`
s for η < 1. That processor (transformers 5.24, ``generation/logits_process.py``) maps the scores it is given to

    s' = u + g·(log_softmax(scores) − u),   u = log_softmax(unconditional model's logits)

1. ``g₁ = 1+γ``, unconditional = the base model P_φ (the PEFT model with its adapter off) on the
   prompt:  s₁ = (1+γ)·a − γ·b  with a = log P_θ(·|prompt,x), b = log P_φ(·|prompt,x) — STEER's γ part;
2. ``g₂ = 1/(1−η)``, unconditional = P_θ on each row's N:  with c = log P_θ(·|N,x) and
   s₁' = log_softmax(s₁) = s₁ − const,  s₂ = g₂·s₁' + (1−g₂)·c = (s₁' − η·c)/(1−η);
3. temperature ``T/(1−η)``:  s₂·(1−η)/T = (s₁ − η·c − const)/T = STEER/T − const, then top-k.

A per-row constant changes neither top-k nor the sampled distribution, so this is STEER at
temperature T exactly (``tests/decoding/test_hf_cfg.py`` checks the distributions). transformers
applies custom processors *before* its temperature and top-k warpers (``_get_logits_processor``:
``_merge_criteria_processor_list`` first, then the warpers), which is why step 3 can be left
to ``generate(temperature=…, top_k=…)``.

Each processor keeps its own KV cache (``use_cache=True``), and ``generate`` batches the rows,
so this peer runs three batched, cached forwards per step, like the kit's engine; what it
lacks is the engine's one-prefill-per-distinct-prefix, mixed-adapter batching of P_θ and P_φ,
a preallocated cache and compaction of finished rows.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .adapters import PhiView
from .logits_process import STEER_ETA, STEER_GAMMA
from .negatives import NegativePool, negative_ids


def _left_pad(rows: list[list[int]], pad: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        ids[r, width - len(row):] = torch.tensor(row)
        mask[r, width - len(row):] = 1
    return ids.to(device), mask.to(device)


def steer_processors(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, neg_ids: torch.Tensor | None,
                     neg_mask: torch.Tensor | None, *, gamma: float, eta: float, base_model=None) -> list:
    """The two stock CFG processors that make STEER's γ and η terms (see the module docstring)."""
    from transformers import UnbatchedClassifierFreeGuidanceLogitsProcessor as CFG

    if not 0 <= eta < 1:
        raise ValueError(f"eta={eta!r} must be in [0, 1) for the CFG form (guidance scale 1/(1-eta))")
    procs = []
    if gamma:
        base = base_model if base_model is not None else PhiView(model)
        procs.append(CFG(1 + gamma, base, unconditional_ids=prompt_ids, unconditional_attention_mask=prompt_mask))
    if eta:
        procs.append(CFG(1 / (1 - eta), model, unconditional_ids=neg_ids, unconditional_attention_mask=neg_mask))
    return procs


@torch.no_grad()
def hf_cfg_generate(model, tokenizer, prompts: Sequence[str], *, negatives: NegativePool | Sequence[str] | None,
                    gamma: float = STEER_GAMMA, eta: float = STEER_ETA, top_k: int = 10, temperature: float = 1.0,
                    max_new_tokens: int = 64, batch_size: int = 16, seed: int = 0, base_model=None,
                    max_negative_tokens: int = 1024, ignore_eos: bool = False, return_scores: bool = False):
    """STEER via ``model.generate(logits_processor=[CFG(1+γ, P_φ), CFG(1/(1−η), P_θ on N)], …)``.

    Same sample → N assignment as :func:`steer_lib.decoding.generate` (sample ``i`` draws
    ``negatives.draw(i)``; a pool grows with each finished batch). Sampling uses torch's global
    RNG (as ``generate`` does), seeded per batch from ``seed``, so the tokens are not the
    engine's tokens — only the distribution is the same. Returns the continuation texts; with
    ``return_scores`` also, per batch, ``(sequences, scores)`` as ``generate`` returned them.
    """
    from .methods import batch_generator

    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out_texts, raw = [], []
    for b0 in range(0, len(prompts), batch_size):
        batch = list(prompts[b0:b0 + batch_size])
        p_ids, p_mask = _left_pad([tokenizer(t)["input_ids"] for t in batch], pad, device)
        n_ids = n_mask = None
        if eta:
            if isinstance(negatives, NegativePool):
                rows = [negative_ids(tokenizer, negatives.draw(b0 + j), max_negative_tokens) for j in range(len(batch))]
            else:
                rows = [negative_ids(tokenizer, list(negatives), max_negative_tokens)] * len(batch)
            n_ids, n_mask = _left_pad(rows, pad, device)
        procs = steer_processors(model, p_ids, p_mask, n_ids, n_mask, gamma=gamma, eta=eta, base_model=base_model)
        kw = dict(do_sample=True, temperature=temperature / (1 - eta), top_k=top_k, top_p=1.0,
                  max_new_tokens=max_new_tokens, pad_token_id=pad, logits_processor=procs)
        if ignore_eos:
            kw["min_new_tokens"] = max_new_tokens
        if return_scores:
            kw.update(return_dict_in_generate=True, output_scores=True)
        cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=batch_generator(seed, b0 // batch_size))))
            out = model.generate(input_ids=p_ids, attention_mask=p_mask, **kw)
        seqs = out.sequences if return_scores else out
        texts = [tokenizer.decode(row, skip_special_tokens=True) for row in seqs[:, p_ids.shape[1]:].tolist()]
        if isinstance(negatives, NegativePool):
            negatives.add(texts)
        out_texts += texts
        if return_scores:
            raw.append((out.sequences, out.scores))
    return (out_texts, raw) if return_scores else out_texts
