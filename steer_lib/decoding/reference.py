"""The authors' decoding algorithm, written plainly at batch 1: the exactness and speed reference for the engine."""
from __future__ import annotations

import torch

from .negatives import negative_ids


@torch.no_grad()
def reference_steer(model, tokenizer, prompt: str, negatives: list[str], *, gamma: float = 0.2, eta: float = 0.2,
                    top_k: int = 10, new_tokens: int = 64, generator: torch.Generator | None = None) -> list[int]:
    """The seed authors' algorithm at batch 1: no cache for P_θ/P_φ, a cache for the negative branch."""
    device = next(model.parameters()).device
    ids = tokenizer(prompt)["input_ids"]
    n_ids = torch.tensor([negative_ids(tokenizer, negatives, 10**9)], device=device)
    out = model(input_ids=n_ids, use_cache=True)
    neg_logits, neg_cache = out.logits[0, -1], out.cache if hasattr(out, "cache") else out.past_key_values
    x: list[int] = []
    for _ in range(new_tokens):
        seq = torch.tensor([ids + x], device=device)
        ft = model(input_ids=seq).logits[0, -1]
        with model.disable_adapter():
            base = model(input_ids=seq).logits[0, -1]
        ls = lambda t: torch.log_softmax(t.float(), -1)  # noqa: E731
        s = (1 + gamma) * ls(ft) - gamma * ls(base) - eta * ls(neg_logits)
        v, i = s.topk(top_k)
        tok = int(i[torch.multinomial(torch.softmax(v, -1), 1, generator=generator)])
        x.append(tok)
        o = model(input_ids=torch.tensor([[tok]], device=device), cache=neg_cache, use_cache=True)
        neg_logits = o.logits[0, -1]
    return x
