"""Looking inside one STEER step: the tables, searches and figures of notebook 02.

Everything here works on *cached* next-token log-probability vectors (``[vocab]`` tensors): once the three
forward passes of a step are done, every γ/η setting, table and figure is arithmetic on them, so an interactive
view needs no new forward pass.

- :func:`dissect`: every token that moves (the union of P_θ's and STEER's top tokens), an "everything else"
  mass, ranks before/after, so claims about a step are read off a table;
- :func:`entropy_of_scores`, :func:`topk_logprobs`, :func:`rank_of`: the numbers that table is made of;
- :func:`overtake_eta`: the η at which one token's score overtakes another's (bisection, for checking a closed form);
- :func:`copy_steps`: decoding steps where the text so far is the start of an example in N, so P_θ(·|N) predicts
  the example's next token (the copy the η term is there to stop);
- :func:`plot_topk_grid` / :func:`widget_frontend`: the γ/η view, as sliders when a widget front-end is running,
  else as a static grid of plots.

>>> import torch
>>> lp = torch.log(torch.tensor([0.5, 0.25, 0.25]))
>>> round(entropy_of_scores(lp), 4), rank_of(lp, 2)
(1.0397, 2)
>>> topk_logprobs(lp, 1).exp().tolist()
[1.0, 0.0, 0.0]
"""
from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from .adapters import base_view
from .logits_process import SteerCombine, TopK
from .methods import generate

#: The cap the engine puts on N's length (``generate(max_negative_tokens=…)``'s default), read from the engine
#: itself so a loop written by hand can build the very same N.
ENGINE_MAX_NEGATIVE_TOKENS: int = inspect.signature(generate).parameters["max_negative_tokens"].default


def _vector(name: str, t) -> torch.Tensor:
    if not isinstance(t, torch.Tensor) or t.dim() != 1 or t.numel() < 2:
        raise ValueError(f"{name} must be a 1-D tensor over the vocabulary, got {getattr(t, 'shape', type(t))}")
    return t.float()


def entropy_of_scores(scores: torch.Tensor) -> float:
    """Entropy in nats of softmax(scores); ``-inf`` scores (filtered tokens) carry no mass.

    >>> entropy_of_scores(torch.tensor([0.0, 0.0, float("-inf")]))  # two equal tokens: log 2
    0.6931471805599453
    """
    lp = torch.log_softmax(_vector("scores", scores).double(), -1)
    p = lp.exp()
    return float(-(p[p > 0] * lp[p > 0]).sum())


def topk_logprobs(scores: torch.Tensor, k: int | None) -> torch.Tensor:
    """log-probabilities of top-k sampling from ``scores`` (renormalised over the k best; ``-inf`` elsewhere)."""
    return torch.log_softmax(TopK(k)(_vector("scores", scores)[None])[0], -1)


def rank_of(scores: torch.Tensor, token: int) -> int:
    """1-based rank of ``token`` by score (1 = the highest; ties count in the token's favour)."""
    s = _vector("scores", scores)
    if not 0 <= int(token) < s.numel():
        raise ValueError(f"token={token!r} is not a vocabulary index (vocabulary size {s.numel()})")
    return int((s > s[int(token)]).sum()) + 1


def steer_scores(logp_theta: torch.Tensor, logp_phi: torch.Tensor, logp_neg: torch.Tensor,
                 gamma: float, eta: float) -> torch.Tensor:
    """STEER's score vector from the three cached log-probability vectors (the kit's :class:`SteerCombine`)."""
    a, b, c = (_vector(n, t) for n, t in (("logp_theta", logp_theta), ("logp_phi", logp_phi), ("logp_neg", logp_neg)))
    return SteerCombine(gamma, eta)(a[None], b[None], c[None])[0]


def union_top(top: int, *scores: torch.Tensor) -> list[int]:
    """Token ids in the ``top`` best of any of ``scores``, ordered by the last one's score (best first)."""
    if not isinstance(top, int) or top < 1:
        raise ValueError(f"top={top!r} must be an integer >= 1")
    ids = sorted({int(i) for s in scores for i in _vector("scores", s).topk(top).indices})
    last = scores[-1].float()
    return sorted(ids, key=lambda i: -float(last[i]))


def dissect(logp_theta: torch.Tensor, scores: torch.Tensor, decode: Callable[[int], str], *, top: int = 10,
            k: int | None = None):
    """One step, token by token: a DataFrame over the union of P_θ's and STEER's ``top`` tokens.

    Columns: ``token``, ``id``, ``P_θ`` and ``rank_θ`` (from ``logp_theta``), ``P_STEER`` and ``rank_STEER`` (the
    softmax of ``scores``, top-k renormalised when ``k`` is given), ``Δrank`` (positive: the token moved up).
    The last row, ``(everything else)``, holds the mass of every other token, so each probability column sums to 1.
    """
    import pandas as pd

    a, s = _vector("logp_theta", logp_theta), _vector("scores", scores)
    if a.shape != s.shape:
        raise ValueError(f"logp_theta and scores differ in shape: {tuple(a.shape)} vs {tuple(s.shape)}")
    p_theta = torch.softmax(a, -1)
    p_steer = topk_logprobs(s, k).exp()
    ids = union_top(top, a, s)
    rows = [{"token": repr(decode(i)), "id": i, "P_θ": float(p_theta[i]), "rank_θ": rank_of(a, i),
             "P_STEER": float(p_steer[i]), "rank_STEER": rank_of(s, i)} for i in ids]
    for r in rows:
        r["Δrank"] = r["rank_θ"] - r["rank_STEER"]
    rows.append({"token": "(everything else)", "id": -1, "P_θ": 1 - float(p_theta[ids].sum()), "rank_θ": None,
                 "P_STEER": 1 - float(p_steer[ids].sum()), "rank_STEER": None, "Δrank": None})
    return pd.DataFrame(rows).astype({"rank_θ": "Int64", "rank_STEER": "Int64", "Δrank": "Int64"})


def overtake_eta(logp_theta: torch.Tensor, logp_phi: torch.Tensor, logp_neg: torch.Tensor, gamma: float,
                 leader: int, challenger: int, hi: float = 100.0) -> float:
    """The η at which ``challenger``'s STEER score reaches ``leader``'s, found numerically (bisection).

    The score difference is linear in η, so there is one crossing; ``ValueError`` if ``leader`` is not ahead at
    η = 0 or the challenger never catches up within ``hi``.

    >>> a = torch.log(torch.tensor([0.6, 0.4])); c = torch.log(torch.tensor([0.9, 0.1]))
    >>> round(overtake_eta(a, a, c, 0.0, 0, 1), 4)  # log(0.6/0.4) / log(0.9/0.1)
    0.1845
    """
    def gap(eta: float) -> float:
        s = steer_scores(logp_theta, logp_phi, logp_neg, gamma, eta).double()
        return float(s[leader] - s[challenger])

    if gap(0.0) <= 0:
        raise ValueError(f"token {leader} is not ahead of token {challenger} at eta=0 (gamma={gamma})")
    if gap(hi) > 0:
        raise ValueError(f"token {challenger} does not overtake token {leader} for any eta <= {hi}")
    lo = 0.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gap(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


@torch.no_grad()
def position_logprobs(model, ids: Sequence[int], adapter: bool = True) -> torch.Tensor:
    """log P(next token | ids[:i+1]) for every position i, ``[len(ids), vocab]``, fp32 (adapter off: P_φ)."""
    device = next(model.parameters()).device
    x = torch.tensor([list(ids)], device=device)
    with nullcontext() if adapter else base_view(model, strict=True):
        logits = model(x).logits[0]
    return torch.log_softmax(logits.float(), -1)


@dataclass(frozen=True)
class CopyStep:
    """A decoding step whose text so far is the first ``prefix`` tokens of ``example`` (an example in N)."""

    example: str
    prefix: list[int]  # the continuation so far: the example's first tokens
    copy: int  # the example's next token: what continuing the copy would emit
    logp_theta: torch.Tensor  # log P_θ(· | prompt, prefix)
    logp_phi: torch.Tensor  # log P_φ(· | prompt, prefix)
    logp_neg: torch.Tensor  # log P_θ(· | N, prefix)


def copy_steps(model, tokenizer, prompt_ids: Sequence[int], neg_ids: Sequence[int], examples: Sequence[str], *,
               min_prefix: int = 2, max_prefix: int = 8) -> list[CopyStep]:
    """Every step where the continuation so far is an example's first m tokens, ``min_prefix ≤ m ≤ max_prefix``.

    Only examples that are in N (``neg_ids`` may have dropped some to fit its cap) are used, each tokenized with
    the leading space it has inside N. Three forward passes per example give all its steps at once.
    """
    if not 1 <= min_prefix <= max_prefix:
        raise ValueError(f"min_prefix={min_prefix!r}, max_prefix={max_prefix!r}: need 1 <= min_prefix <= max_prefix")
    n_text = tokenizer.decode(list(neg_ids))
    prompt_ids, neg_ids = list(prompt_ids), list(neg_ids)
    steps = []
    for ex in examples:
        if ex.strip() not in n_text:
            continue
        e = tokenizer(" " + ex.strip())["input_ids"][: max_prefix + 1]
        if len(e) <= min_prefix:
            continue
        a = position_logprobs(model, prompt_ids + e)
        b = position_logprobs(model, prompt_ids + e, adapter=False)
        c = position_logprobs(model, neg_ids + e)
        for m in range(min_prefix, len(e)):
            pa, pc = len(prompt_ids) + m - 1, len(neg_ids) + m - 1
            steps.append(CopyStep(ex, e[:m], e[m], a[pa], b[pa], c[pc]))
    return steps


def widget_frontend() -> tuple[bool, str]:
    """Whether ipywidgets sliders can be shown here, and why (or why not).

    A kernel cannot ask its front-end whether it renders widgets, so this reads what the launcher leaves
    behind: a Jupyter server (JupyterLab, Notebook) sets ``JPY_SESSION_NAME`` in the kernel's environment,
    Colab loads ``google.colab``; papermill, nbval and nbclient start kernels with neither. ``STEER_WIDGETS=1`` or
    ``0`` overrides the guess (e.g. for VS Code, which sets neither).
    """
    override = os.environ.get("STEER_WIDGETS", "").strip()
    if override in ("0", "1"):
        return override == "1", f"STEER_WIDGETS={override}"
    if importlib.util.find_spec("ipywidgets") is None:
        return False, "ipywidgets is not installed"
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    if ip is None or not hasattr(ip, "kernel"):
        return False, "not running in a Jupyter kernel"
    if "google.colab" in sys.modules:
        return True, "a Colab runtime"
    if os.environ.get("JPY_SESSION_NAME"):
        return True, "a Jupyter server session (JupyterLab / Notebook)"
    return False, "no notebook front-end started this kernel (papermill, nbval, nbclient, CI)"


def plot_topk_panel(ax, logp_theta, logp_phi, logp_neg, gamma: float, eta: float, ids: Sequence[int],
                    labels: Sequence[str], k: int | None) -> float:
    """One panel: top-k sampling probability of each token in ``ids`` plus "everything else"; returns the entropy."""
    p = topk_logprobs(steer_scores(logp_theta, logp_phi, logp_neg, gamma, eta), k).exp()
    vals = [float(p[i]) for i in ids] + [max(0.0, 1 - float(p[list(ids)].sum()))]
    ax.barh(range(len(vals)), vals, color=["tab:purple"] * len(ids) + ["tab:gray"])
    h = entropy_of_scores(torch.log(p))
    ax.set_title(f"γ = {gamma:g}, η = {eta:g}   H = {h:.2f} nats", fontsize=9)
    ax.set_yticks(range(len(vals)), list(labels) + ["(everything else)"], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    return h


def plot_topk_grid(logp_theta, logp_phi, logp_neg, gammas: Sequence[float], etas: Sequence[float],
                   ids: Sequence[int], labels: Sequence[str], k: int | None):
    """The static γ/η view: one :func:`plot_topk_panel` per (γ, η), γ down the rows, η across.

    Returns ``(fig, entropies)`` with ``entropies[(γ, η)]`` the entropy each panel's title shows.
    """
    import matplotlib.pyplot as plt

    if not gammas or not etas:
        raise ValueError(f"gammas={gammas!r} and etas={etas!r} must both be non-empty")
    fig, axes = plt.subplots(len(gammas), len(etas), figsize=(4.2 * len(etas), 0.28 * (len(ids) + 1) * len(gammas)
                                                                + 1.2), sharex=True, squeeze=False)
    ent = {}
    for r, gm in enumerate(gammas):
        for c, et in enumerate(etas):
            ent[(gm, et)] = plot_topk_panel(axes[r][c], logp_theta, logp_phi, logp_neg, gm, et, ids, labels, k)
            if c:
                axes[r][c].set_yticklabels([])
    fig.supxlabel(f"top-{k} sampling probability" if k else "sampling probability")
    fig.tight_layout()
    return fig, ent

