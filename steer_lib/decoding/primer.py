"""A decoding primer: what each method does to ONE next-token distribution, with the kit's own transforms.

Notebook 03 shows, before the eight methods generate, the distribution P_θ(· | prompt) and what each rule makes
of it. The pictures are of the real transforms: :func:`method_distribution` runs the engine's own chain
(``combine → Temperature → TopK → TopP``, :class:`~steer_lib.decoding.methods.MethodScorer`) with the
method's preset settings, so a change to a transform changes the picture. Beam search and contrastive search look further than
one distribution; :func:`beam_two_steps` and :func:`contrastive_search_step` show their first decision.

>>> import torch
>>> logits = torch.tensor([2.0, 1.0, 0.5, -1.0])
>>> (method_distribution("greedy", logits) > 0).sum().item()   # greedy keeps exactly one token
1
>>> entropy_of_probs(method_distribution("low_temperature", logits)) < entropy_of_probs(torch.softmax(logits, -1))
True
"""
from __future__ import annotations

import math
from contextlib import nullcontext
from typing import NamedTuple

import torch

from .adapters import base_view
from .methods import MethodScorer, resolve_params

ONE_STEP = ("greedy", "low_temperature", "top_k", "nucleus", "contrastive_decoding")  # methods one distribution shows


def _vector(name: str, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 1 or x.numel() < 2:
        raise ValueError(f"{name} must be a 1-D tensor of vocabulary logits; got {getattr(x, 'shape', type(x))}")
    return x.float()


def method_distribution(method: str, ft_logits: torch.Tensor, base_logits: torch.Tensor | None = None,
                        **settings) -> torch.Tensor:
    """The probabilities the method samples the next token from (a new ``[vocab]`` tensor).

    ``method`` is one of :data:`ONE_STEP`; ``greedy`` is top-k with k = 1 (the argmax). ``base_logits`` (P_φ's)
    is needed by ``contrastive_decoding``. ``settings`` override the preset (e.g. ``top_k=5``).
    """
    if method not in ONE_STEP:
        raise ValueError(f"method={method!r} is not one of {ONE_STEP} (beam and contrastive search look ahead: "
                         "see beam_two_steps and contrastive_search_step)")
    ft = _vector("ft_logits", ft_logits)
    if method == "contrastive_decoding":
        if base_logits is None:
            raise ValueError("contrastive_decoding needs base_logits (P_φ's logits, the amateur)")
        base_logits = _vector("base_logits", base_logits)
        if base_logits.shape != ft.shape:
            raise ValueError(f"base_logits has shape {tuple(base_logits.shape)}, ft_logits {tuple(ft.shape)}")
    p = resolve_params("top_k", top_k=1, temperature=1.0) if method == "greedy" else resolve_params(method)
    p.update(settings)
    scores = MethodScorer("top_k" if method == "greedy" else method, p)(
        {"ft": ft.view(1, -1), "base": None if base_logits is None else base_logits.view(1, -1)})
    return torch.softmax(scores, dim=-1)[0]


def entropy_of_probs(probs: torch.Tensor) -> float:
    """Shannon entropy in nats (0·log 0 = 0).

    >>> round(entropy_of_probs(torch.tensor([0.5, 0.5, 0.0])), 4)
    0.6931
    """
    p = probs[probs > 0].double()
    return float(-(p * p.log()).sum()) + 0.0  # + 0.0: a one-hot distribution gives 0.0, not -0.0


@torch.no_grad()
def next_logits(model, tokenizer, text: str, *, adapter: bool = True) -> torch.Tensor:
    """The next-token logits ``[vocab]`` after ``text`` under P_θ (``adapter=True``) or P_φ (the adapter off)."""
    device = next(model.parameters()).device
    ids = torch.tensor([tokenizer(text)["input_ids"]], device=device)
    with nullcontext() if adapter else base_view(model):  # a plain model has no adapter: P_φ = P_θ
        return model(ids).logits[0, -1].float().cpu()


class Beam(NamedTuple):
    tokens: tuple[int, ...]
    logprob: float  # log P_θ of the whole continuation


@torch.no_grad()
def beam_two_steps(model, tokenizer, prompt: str, *, num_beams: int = 3) -> tuple[list[Beam], Beam]:
    """Deterministic beam search for two tokens, and greedy's two tokens, under P_θ.

    Step 1 keeps the ``num_beams`` most likely first tokens; step 2 extends each by every token and keeps the
    ``num_beams`` best pairs by summed log-probability. The kit's ``beam`` method *samples* (transformers'
    stochastic beam search at T = 0.94); this is the deterministic rule it randomises. Returns
    ``(beams best first, greedy)``: the best beam's log-probability is never below greedy's.
    """
    if not isinstance(num_beams, int) or num_beams < 1:
        raise ValueError(f"num_beams={num_beams!r} must be an integer >= 1")
    device = next(model.parameters()).device
    ids = tokenizer(prompt)["input_ids"]
    first = torch.log_softmax(model(torch.tensor([ids], device=device)).logits[0, -1].float(), -1)
    top1 = first.topk(num_beams)
    cands: list[Beam] = []
    step2 = {}
    for lp, t in zip(top1.values.tolist(), top1.indices.tolist()):
        second = torch.log_softmax(model(torch.tensor([ids + [t]], device=device)).logits[0, -1].float(), -1)
        step2[t] = second
        best = second.topk(num_beams)
        cands += [Beam((t, u), lp + v) for v, u in zip(best.values.tolist(), best.indices.tolist())]
    beams = sorted(cands, key=lambda b: -b.logprob)[:num_beams]
    g1 = int(first.argmax())
    g2 = int(step2[g1].argmax())  # the greedy first token is the top beam of step 1, so step2 has it
    return beams, Beam((g1, g2), float(first[g1] + step2[g1][g2]))


class SearchStep(NamedTuple):
    tokens: tuple[int, ...]  # the k candidates, most probable first
    probs: tuple[float, ...]  # P_θ of each
    max_similarity: tuple[float, ...]  # max cosine between its hidden state and the context's
    scores: tuple[float, ...]  # (1 − α)·p − α·max_similarity
    choice: int  # the token with the best score


@torch.no_grad()
def contrastive_search_step(model, tokenizer, prompt: str, *, k: int | None = None,
                            alpha: float | None = None) -> SearchStep:
    """Contrastive search's first decision (Su et al. 2022), written out without a KV cache.

    Each of P_θ's ``k`` most probable tokens is appended to the prompt; its last hidden state is compared
    (cosine) with the hidden states of the prompt, and the token with the best
    ``(1 − α)·p(v) − α·max_j cos(h_v, h_j)`` wins: a likely token that would repeat the context loses points.
    ``k`` and ``alpha`` default to the kit's ``contrastive_search`` preset.
    """
    preset = resolve_params("contrastive_search")
    k = int(preset["top_k"] if k is None else k)
    alpha = float(preset["penalty_alpha"] if alpha is None else alpha)
    if k < 1 or not 0 <= alpha <= 1:
        raise ValueError(f"k={k!r} must be >= 1 and alpha={alpha!r} in [0, 1]")
    device = next(model.parameters()).device
    ids = torch.tensor([tokenizer(prompt)["input_ids"]], device=device)
    out = model(input_ids=ids, output_hidden_states=True)
    context = torch.nn.functional.normalize(out.hidden_states[-1][0].float(), dim=-1)  # [L, H]
    top = torch.softmax(out.logits[0, -1].float(), -1).topk(k)
    sims = []
    for t in top.indices.tolist():
        o = model(input_ids=torch.cat([ids, torch.tensor([[t]], device=device)], 1), output_hidden_states=True)
        h = torch.nn.functional.normalize(o.hidden_states[-1][0, -1].float(), dim=-1)
        sims.append(float((context @ h).max()))
    probs = top.values.tolist()
    scores = [(1 - alpha) * p - alpha * s for p, s in zip(probs, sims)]
    best = max(range(k), key=lambda i: scores[i])
    return SearchStep(tuple(top.indices.tolist()), tuple(probs), tuple(sims), tuple(scores), top.indices.tolist()[best])


def kept_mass(probs_before: torch.Tensor, probs_after: torch.Tensor) -> float:
    """The share of ``probs_before``'s mass on the tokens ``probs_after`` keeps (its support).

    >>> round(kept_mass(torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.6, 0.4, 0.0])), 6)
    0.8
    """
    return float(probs_before[probs_after > 0].double().sum())


def plot_distributions(dists: dict[str, torch.Tensor], labels: list[str], token_ids: list[int], *, title: str = "",
                       notes: dict[str, str] | None = None):
    """One bar panel per distribution over the same tokens, plus an "everything else" bar (its mass elsewhere).

    A token the rule removed (probability exactly 0) is marked ×, so "dropped" and "tiny" look different.
    ``notes`` adds a line under a panel's name (e.g. its settings).
    """
    import matplotlib.pyplot as plt

    n = len(dists)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 2.9 * rows), sharey=True, squeeze=False)
    ids = torch.tensor(token_ids)
    for ax, (name, p) in zip(axes.flat, dists.items()):
        shown = p[ids].tolist()
        ax.bar(range(len(shown) + 1), shown + [max(0.0, 1 - sum(shown))],
               color=["tab:blue"] * len(shown) + ["lightgrey"])
        dropped = [i for i, v in enumerate(shown) if v == 0]
        ax.plot(dropped, [0.02] * len(dropped), "x", color="tab:red", ms=5, label="removed" if dropped else None)
        if dropped:
            ax.legend(fontsize=7, loc="upper right")
        ax.set_xticks(range(len(shown) + 1), labels + ["(rest)"], rotation=70, fontsize=7)
        note = f"\n{notes[name]}" if notes and name in notes else ""
        ax.set_title(f"{name}{note}\nH = {entropy_of_probs(p):.2f} nats, {int((p > 0).sum())} token(s) kept", fontsize=9)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("probability")
    fig.suptitle(title, y=1.01)
    fig.tight_layout()
    return fig
