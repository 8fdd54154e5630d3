"""STEER written plainly at batch 1: the cache-free oracle the engine is checked against, and the authors' loop.

- :func:`naive_steer`: the naive loop, straight from the formula — every step three full forwards
  (:func:`naive_logits`: P_θ and P_φ on prompt + x, P_θ on N + x, no cache), STEER's score, the next token.
  The exactness tests, ``gpu-check`` and notebook 02 all compare the engine with this one loop.
- :func:`reference_steer`: the seed authors' whole loop (four forwards per token, as their
  ``generate()`` + logits processor run it): the speed reference of the benchmarks.

Both write eq. (3) out by hand (:func:`oracle_score`, on log-probabilities) rather than through the engine's
:class:`~steer_lib.decoding.logits_process.SteerCombine`, so that an oracle shares no code with what it checks
beyond the model's forward.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Callable, Sequence

import torch

from .adapters import base_view
from .kv import cache_kwarg, output_cache
from .logits_process import STEER_ETA, STEER_GAMMA
from .negatives import negative_ids


def _log_softmax(logits: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits.float(), -1)


def oracle_score(logp_theta: torch.Tensor, logp_phi: torch.Tensor, logp_neg: torch.Tensor | None, gamma: float,
                eta: float) -> torch.Tensor:
    """Eq. (3) from the three log-probability vectors: ``(1+γ)·log P_θ − γ·log P_φ − η·log P_θ(·|N)``.

    ``logp_neg`` is not read at η = 0 (it may be ``None`` then).

    >>> lt, lp = torch.log(torch.tensor([0.5, 0.3, 0.2])), torch.log(torch.tensor([0.2, 0.3, 0.5]))
    >>> int(oracle_score(lt, lp, None, 0.0, 0.0).argmax()), int(oracle_score(lt, lp, lt, 0.0, 5.0).argmax())
    (0, 2)
    """
    s = (1 + gamma) * logp_theta - gamma * logp_phi
    return s - eta * logp_neg if eta else s


@torch.no_grad()
def naive_logits(model, prompt_ids: Sequence[int], neg_ids: Sequence[int] | None, x: Sequence[int] = (), *,
                 base_model=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The next-token logits ``[vocab]`` after ``x`` of the three streams, each a full forward without a cache.

    ``(P_θ on prompt + x, P_φ on prompt + x, P_θ on N + x)``; P_φ is ``base_model`` or, by default, ``model``
    (a PEFT model) with its adapter off; the third is ``None`` when ``neg_ids`` is.
    """
    device = next(model.parameters()).device

    def last(m, ids):
        return m(input_ids=torch.tensor([list(ids) + list(x)], device=device), use_cache=False).logits[0, -1]

    ft = last(model, prompt_ids)
    with nullcontext() if base_model is not None else base_view(model, strict=True):
        base = last(base_model if base_model is not None else model, prompt_ids)
    return ft, base, None if neg_ids is None else last(model, neg_ids)


@torch.no_grad()
def naive_steer(model, prompt_ids: Sequence[int], neg_ids: Sequence[int] | None, *, new_tokens: int,
                gamma: float = STEER_GAMMA, eta: float = STEER_ETA, base_model=None,
                pick: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], int] | None = None,
                stop_ids: Sequence[int] = ()) -> list[int]:
    """The cache-free oracle: ``new_tokens`` steps of :func:`naive_logits`, each followed by a pick of the next token.

    ``pick(logp_theta, logp_phi, logp_neg)`` gets the three log-probability vectors (fp32 ``[vocab]``;
    ``logp_neg`` is ``None`` without ``neg_ids``) and returns the next token id; by default it is the argmax of
    STEER's score at ``gamma`` / ``eta`` (greedy, so the result can be compared exactly). The loop stops
    early, without appending it, at a token in ``stop_ids``. Returns the generated token ids.
    """
    if eta and neg_ids is None:
        raise ValueError(f"eta={eta!r} > 0 needs neg_ids (the tokenized negative prompt N)")
    if pick is None:
        def pick(lt, lp, ln):
            return int(oracle_score(lt, lp, ln, gamma, eta).argmax())
    x: list[int] = []
    for _ in range(new_tokens):
        ft, base, neg = naive_logits(model, prompt_ids, neg_ids, x, base_model=base_model)
        nxt = int(pick(_log_softmax(ft), _log_softmax(base), None if neg is None else _log_softmax(neg)))
        if nxt in stop_ids:
            break
        x.append(nxt)
    return x


@torch.no_grad()
def reference_steer(model, tokenizer, prompt: str, negatives: list[str], *, gamma: float = STEER_GAMMA,
                    eta: float = STEER_ETA, top_k: int = 10, new_tokens: int = 64,
                    generator: torch.Generator | None = None) -> list[int]:
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
        if steer:  # the processor: P_θ and P_φ recomputed in full without a cache (P_φ whenever it runs, as
            # theirs does); generate()'s logits are thrown away
            ft, base, _ = naive_logits(model, ids, None, x)
            neg = _log_softmax(neg_logits) if eta else None
            s = oracle_score(_log_softmax(ft), _log_softmax(base), neg, gamma, eta)
        else:
            s = _log_softmax(gen_logits)
        v, i = s.topk(top_k)
        x.append(int(i[torch.multinomial(torch.softmax(v, -1), 1, generator=generator)]))
    return x
