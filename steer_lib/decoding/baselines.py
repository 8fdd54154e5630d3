"""Baselines that do not fit the engine's score-then-sample loop: beam search and contrastive search.

- :func:`beam_batch`: stochastic beam search through transformers' ``generate`` (3 beams,
  ``do_sample=True``, T=0.94), as in the seed authors' code. Stop strings are applied to
  the decoded text afterwards (beam hypotheses cannot stop one by one).
- :func:`contrastive_search_batch`: Su et al. 2022 (arXiv 2202.06417), implemented here
  because transformers 5.x moved it to the hub. At each step the k most probable tokens are
  scored ``(1−α)·p(v) − α·max_j cos(h_v, h_j)`` where ``h_v`` is the last hidden state with
  ``v`` appended and ``h_j`` those of the context so far; the best one is kept. It is
  deterministic, so each distinct prompt is decoded once and its result shared.
"""
from __future__ import annotations

import torch

from ..data.text import cut_at_stop
from .kv import cache_kwarg, output_cache


@torch.no_grad()
def beam_batch(model, tokenizer, prompts: list[str], *, params: dict, max_new_tokens: int,
               stops: tuple[str, ...], generator: torch.Generator, ignore_eos: bool = False) -> list[str]:
    device = next(model.parameters()).device
    enc = tokenizer(prompts, return_tensors="pt", padding=True).to(device)
    kw = dict(do_sample=True, num_beams=int(params["num_beams"]), temperature=float(params["temperature"]),
              top_k=params["top_k"] or 0, top_p=params["top_p"] if params["top_p"] is not None else 1.0,
              max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, num_return_sequences=1)
    if ignore_eos:
        kw["min_new_tokens"] = max_new_tokens
    # transformers samples from torch's global RNG; seed it from this batch's generator, then restore it.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
        out = model.generate(**enc, **kw)
    new = out[:, enc["input_ids"].shape[1]:]
    return [cut_at_stop(t, stops) for t in tokenizer.batch_decode(new, skip_special_tokens=True)]


def _last_hidden(out) -> torch.Tensor:
    return out.hidden_states[-1][:, -1]


@torch.no_grad()
def contrastive_search_one(model, tokenizer, prompt: str, *, k: int, alpha: float, max_new_tokens: int,
                           stops: tuple[str, ...], eos: set[int]) -> str:
    """Contrastive search for one prompt (batch 1, KV-cached; the k candidates share one forward)."""
    device = next(model.parameters()).device
    ids = torch.tensor([tokenizer(prompt)["input_ids"]], device=device)
    out = model(input_ids=ids, use_cache=True, output_hidden_states=True)
    context_h = out.hidden_states[-1][0]  # [L, H]
    logits, cache, pos = out.logits[0, -1], output_cache(out), ids.shape[1]
    generated: list[int] = []
    text = ""
    for _ in range(max_new_tokens):
        probs = torch.softmax(logits.float(), dim=-1)
        top_p, top_i = probs.topk(k)
        for layer in cache.layers:  # the k candidates continue the same context
            layer.batch_repeat_interleave(k)
        o = model(input_ids=top_i.view(k, 1), use_cache=True, output_hidden_states=True,
                  position_ids=torch.full((k, 1), pos, device=device), **{cache_kwarg(model): cache})
        h = _last_hidden(o).float()  # [k, H]
        sim = torch.nn.functional.normalize(h, dim=-1) @ torch.nn.functional.normalize(context_h.float(), dim=-1).T
        best = int(torch.argmax((1 - alpha) * top_p - alpha * sim.max(dim=-1).values))
        tid = int(top_i[best])
        cache = output_cache(o)
        for layer in cache.layers:
            layer.batch_select_indices(torch.tensor([best], device=device))
        context_h = torch.cat([context_h, h[best:best + 1].to(context_h.dtype)])
        logits, pos = o.logits[best, -1], pos + 1
        if tid in eos:
            break
        generated.append(tid)
        text = tokenizer.decode(generated, skip_special_tokens=True)
        cut = cut_at_stop(text, stops)
        if cut != text:
            return cut
    return text


def contrastive_search_batch(model, tokenizer, prompts: list[str], *, params: dict, max_new_tokens: int,
                             stops: tuple[str, ...], eos: set[int]) -> list[str]:
    done: dict[str, str] = {}
    for p in prompts:
        if p not in done:
            done[p] = contrastive_search_one(model, tokenizer, p, k=int(params["top_k"]),
                                             alpha=float(params["penalty_alpha"]), max_new_tokens=max_new_tokens,
                                             stops=stops, eos=eos)
    return [done[p] for p in prompts]
