"""The authors' decoding loop, written plainly at batch 1: the exactness and speed reference for the engine."""
from __future__ import annotations

import torch

from .kv import cache_kwarg, output_cache
from .negatives import negative_ids


@torch.no_grad()
def reference_steer(model, tokenizer, prompt: str, negatives: list[str], *, gamma: float = 0.2, eta: float = 0.2,
                    top_k: int = 10, new_tokens: int = 64, generator: torch.Generator | None = None) -> list[int]:
    """The seed authors' whole loop at batch 1, four forwards per generated token.

    They call ``model.generate()`` with a logits processor, so every step costs:

    1. ``generate``'s own KV-cached forward of P_θ on prompt + x (the prompt prefilled once per
       sample) — its logits are *discarded* when γ or η is non-zero (the processor replaces them);
    2. P_θ over the whole sequence prompt + x, recomputed with ``use_cache=False``;
    3. P_φ (the same PEFT model, adapter disabled) over the whole sequence, ``use_cache=False``;
    4. P_θ on N + x, KV-cached (N prefilled once per sample).

    The scores are eq. (3), then top-k sampling at T = 1. With γ = η = 0 only forward 1 runs
    (plain top-k sampling, as their code does then). Returns the generated token ids.
    """
    device = next(model.parameters()).device
    ck = cache_kwarg(model)
    ids = tokenizer(prompt)["input_ids"]
    steer = bool(gamma or eta)
    ls = lambda t: torch.log_softmax(t.float(), -1)  # noqa: E731
    out = model(input_ids=torch.tensor([ids], device=device), use_cache=True)  # generate()'s prefill
    gen_logits, gen_cache = out.logits[0, -1], output_cache(out)
    if eta:
        n_ids = torch.tensor([negative_ids(tokenizer, negatives, 10**9)], device=device)
        out = model(input_ids=n_ids, use_cache=True)
        neg_logits, neg_cache = out.logits[0, -1], output_cache(out)
    x: list[int] = []
    for step in range(new_tokens):
        if step:  # generate()'s cached step on the last token, then the processor's cached negative step
            last = torch.tensor([[x[-1]]], device=device)
            o = model(input_ids=last, use_cache=True, **{ck: gen_cache})
            gen_logits, gen_cache = o.logits[0, -1], output_cache(o)
            if eta:
                o = model(input_ids=last, use_cache=True, **{ck: neg_cache})
                neg_logits, neg_cache = o.logits[0, -1], output_cache(o)
        if steer:  # the processor: both full recomputes without a cache; generate()'s logits are thrown away
            seq = torch.tensor([ids + x], device=device)
            s = ls(model(input_ids=seq, use_cache=False).logits[0, -1])
            with model.disable_adapter():  # run whenever the processor runs, as theirs does
                base = model(input_ids=seq, use_cache=False).logits[0, -1]
            s = (1 + gamma) * s - gamma * ls(base)
            if eta:
                s = s - eta * ls(neg_logits)
        else:
            s = ls(gen_logits)
        v, i = s.topk(top_k)
        x.append(int(i[torch.multinomial(torch.softmax(v, -1), 1, generator=generator)]))
    return x
