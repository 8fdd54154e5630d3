"""Logit transforms for STEER and the baselines, one class per transform.

Modelled on transformers' ``logits_process.py``: each class validates its arguments in
``__init__`` (``ValueError`` naming the argument and value) and never edits its inputs in
place. The engine (:mod:`steer_lib.decoding.engine`) chains them as

    combine (SteerCombine / ContrastiveDecodingCombine) → Temperature → TopK → TopP → sample

:class:`SteerLogitsProcessor` is the same formula for ``model.generate(logits_processor=[...])``.

>>> import torch
>>> ft, base, neg = torch.tensor([[2.0, 1.0, 0.0]]), torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([[3.0, 0.0, 0.0]])
>>> SteerCombine(gamma=0.0, eta=0.0)(ft, base, neg).argmax(-1).item()   # γ=η=0: plain P_θ
0
>>> SteerCombine(gamma=0.0, eta=5.0)(ft, base, neg).argmax(-1).item()   # η pushes away from N's favourite
1
>>> TopK(1)(torch.tensor([[0.1, 0.9, 0.3]])).isfinite().tolist()
[[False, True, False]]
"""
from __future__ import annotations

import math

import torch

from ..models import PhiView

NEG_INF = float("-inf")
# STEER's default γ and η (the seed authors'): the one definition, which every decoder's default refers to (through
# decoding.config's steer preset, or these names). The kit's experiments choose their own (ExperimentConfig: 0.3).
STEER_GAMMA = STEER_ETA = 0.2


def check_nonneg(name: str, value: float) -> float:
    """``value`` as a float, or ValueError: γ, η, β must be finite and not negative (∞ turns every score NaN).

    >>> check_nonneg("gamma", float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: gamma=inf must be a number >= 0 (and finite)
    """
    if (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)
            or value < 0):
        raise ValueError(f"{name}={value!r} must be a number >= 0 (and finite)")
    return float(value)


class NonFiniteScoresError(ValueError):
    """A decoding step produced NaN scores (or none finite): what would be sampled is meaningless."""


def check_scores(s: torch.Tensor, what: str) -> torch.Tensor:
    """``s`` unchanged, or NonFiniteScoresError when a row has a NaN or no finite score at all.

    Sampling from such a row silently yields garbage (an empty sample, ``Infinity`` in a record); stopping names
    the likely causes instead. One reduction per step: negligible beside the forward passes.
    """
    if bool(torch.isnan(s).any()) or not bool(torch.isfinite(s).any(dim=-1).all()):
        raise NonFiniteScoresError(
            f"{what} scores are not finite at this decoding step (NaN, or no finite value in a row): the model's "
            "logits are damaged (a corrupt adapter or model file: rerun `python -m steer_lib finetune --force`, or "
            "delete the model folder) or a setting overflows; stopped before writing any such sample")
    return s


class SteerCombine:
    """s = (1+γ)·log P_θ(·|prompt,x<t) − γ·log P_φ(·|prompt,x<t) − η·log P_θ(·|N,x<t).

    STEER, arXiv 2308.07645, eq. (3). Inputs are raw logits ``[rows, vocab]``; the
    log-softmax is taken here so each branch is a proper log-probability. ``neg`` may be
    ``None`` when η = 0; ``base=None`` means P_φ = P_θ (no separate base model), where the γ
    terms cancel exactly, so that stream is not run.

    ``plausibility`` = α (off by default, not in the paper): before top-k, keep only the tokens P_θ itself finds
    plausible, P_θ(x|prompt,x<t) ≥ α·max P_θ — contrastive decoding's guard (Li et al. 2022). Without it the γ term
    can lift a token P_φ finds very unlikely (log P_θ − log P_φ ≫ 0) into the top k although P_θ rarely writes it.

    >>> ft, base = torch.tensor([[3.0, 2.0, -4.0]]), torch.tensor([[3.0, 2.0, -12.0]])
    >>> SteerCombine(gamma=1.0, eta=0.0)(ft, base, None).argmax(-1).item()  # γ lifts the rare token 2 to the top
    2
    >>> SteerCombine(gamma=1.0, eta=0.0, plausibility=0.1)(ft, base, None).isfinite().tolist()  # the guard drops it
    [[True, True, False]]
    """

    def __init__(self, gamma: float = STEER_GAMMA, eta: float = STEER_ETA, plausibility: float | None = None):
        self.gamma = check_nonneg("gamma", gamma)
        self.eta = check_nonneg("eta", eta)
        self.plausibility = check_plausibility(plausibility)

    def __call__(self, ft: torch.Tensor, base: torch.Tensor | None, neg: torch.Tensor | None) -> torch.Tensor:
        lp = torch.log_softmax(ft.float(), dim=-1)
        s = lp
        if self.gamma and base is not None:
            s = (1 + self.gamma) * s - self.gamma * torch.log_softmax(base.float(), dim=-1)
        if self.eta:
            s = s - self.eta * torch.log_softmax(neg.float(), dim=-1)
        if self.plausibility is not None:
            keep = lp >= lp.max(dim=-1, keepdim=True).values + math.log(self.plausibility)
            s = s.masked_fill(~keep, NEG_INF)
        return check_scores(s, "the STEER")


def check_plausibility(alpha: float | None) -> float | None:
    """STEER's optional plausibility guard α: ``None`` (off) or a number in (0, 1]."""
    if alpha is None:
        return None
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 < alpha <= 1:
        raise ValueError(f"plausibility={alpha!r} must be in (0, 1] (or None for no guard)")
    return float(alpha)


class ContrastiveDecodingCombine:
    """Contrastive decoding (Li et al. 2022, arXiv 2210.15097): expert P_θ vs amateur P_φ.

    s(x) = log P_θ(x) − β·log softmax(logits_φ / τ_a)(x) on the plausible set
    {x : P_θ(x) ≥ α·max P_θ}, −∞ elsewhere. Defaults α=0.1, β=1.0, τ_a=0.5.
    """

    def __init__(self, alpha: float = 0.1, beta: float = 1.0, amateur_temperature: float = 0.5):
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha={alpha!r} must be in (0, 1]")
        if amateur_temperature <= 0:
            raise ValueError(f"amateur_temperature={amateur_temperature!r} must be > 0")
        self.alpha, self.beta, self.tau = float(alpha), check_nonneg("beta", beta), float(amateur_temperature)

    def __call__(self, ft: torch.Tensor, base: torch.Tensor | None, neg: torch.Tensor | None = None) -> torch.Tensor:
        lp = torch.log_softmax(ft.float(), dim=-1)
        amateur = torch.log_softmax(base.float() / self.tau, dim=-1)
        s = lp - self.beta * amateur
        keep = lp >= lp.max(dim=-1, keepdim=True).values + math.log(self.alpha)
        return s.masked_fill(~keep, NEG_INF)


class Temperature:
    """Divide scores by T (T > 0)."""

    def __init__(self, temperature: float = 1.0):
        if not isinstance(temperature, (int, float)) or not 0 < temperature < math.inf:
            raise ValueError(f"temperature={temperature!r} must be > 0 (and finite)")
        self.temperature = float(temperature)

    def __call__(self, scores: torch.Tensor) -> torch.Tensor:
        return scores if self.temperature == 1.0 else scores / self.temperature


class TopK:
    """Keep the k highest scores (k=1 is argmax); ``None`` keeps all (Fan et al. 2018)."""

    def __init__(self, top_k: int | None = 10):
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
            raise ValueError(f"top_k={top_k!r} must be an integer >= 1 (or None for no top-k)")
        self.top_k = top_k

    def __call__(self, scores: torch.Tensor) -> torch.Tensor:
        if self.top_k is None or self.top_k >= scores.shape[-1]:
            return scores
        kth = torch.topk(scores, self.top_k, dim=-1).values[..., -1:]
        return scores.masked_fill(scores < kth, NEG_INF)


class TopP:
    """Nucleus filtering (Holtzman et al. 2020): smallest set with cumulative probability ≥ p."""

    def __init__(self, top_p: float | None = None):
        if top_p is not None and (not isinstance(top_p, (int, float)) or not 0 < top_p <= 1):
            raise ValueError(f"top_p={top_p!r} must be in (0, 1] (or None for no nucleus filter)")
        self.top_p = top_p

    def __call__(self, scores: torch.Tensor) -> torch.Tensor:
        if self.top_p is None or self.top_p >= 1:
            return scores
        sorted_s, idx = torch.sort(scores, dim=-1, descending=True)
        cum = torch.softmax(sorted_s, dim=-1).cumsum(dim=-1)
        drop_sorted = (cum - torch.softmax(sorted_s, dim=-1)) >= self.top_p  # mass before this token already ≥ p
        drop = torch.zeros_like(drop_sorted).scatter(-1, idx, drop_sorted)
        return scores.masked_fill(drop, NEG_INF)


def sample(scores: torch.Tensor, uniforms: torch.Tensor, greedy: bool = False) -> torch.Tensor:
    """One token per row by inverse-CDF sampling with the given uniforms in [0, 1).

    Each row uses its own uniform, so a row's draw does not depend on which other rows
    are in the batch (finished rows can be dropped without changing anyone's sample).
    """
    if greedy:
        return scores.argmax(dim=-1)
    probs = torch.softmax(scores, dim=-1)
    cdf = probs.cumsum(dim=-1)
    u = (uniforms.to(cdf.dtype) * cdf[:, -1]).unsqueeze(-1)
    tok = torch.searchsorted(cdf, u, right=True).squeeze(-1)
    # Never land on a zero-probability token through rounding at the top of the CDF.
    return torch.minimum(tok, probs.gt(0).cumsum(-1).argmax(-1))


class SteerLogitsProcessor:
    """STEER as a transformers ``LogitsProcessor`` — the simple path, batch size 1.

    For ``model.generate(input_ids, logits_processor=[proc], do_sample=False)``: ``scores``
    are P_θ's logits (``model`` is the fine-tuned model); at each call this recomputes the
    base model over the whole sequence and the fine-tuned model over N + continuation,
    without a cache. Slow (quadratic), but short and easy to check; the engine in
    :func:`steer_lib.decoding.generate` gives the same tokens with KV caches and batching.
    For sampling, pass ``do_sample=True, temperature=T, top_k=k``: transformers (5.24,
    ``GenerationMixin._get_logits_processor``) merges custom processors into its list *before*
    it appends the temperature / top-k / top-p warpers, so they act on STEER's scores, as the
    engine's ``combine → Temperature → TopK`` does (tested in ``tests/decoding/test_hf_cfg.py``).

    ``base_model=None``: P_φ is ``model`` with its adapter switched off (:class:`~steer_lib.models.PhiView`).
    """

    def __init__(self, model, negative_ids: torch.Tensor | None, prompt_length: int, *,
                 gamma: float = STEER_GAMMA, eta: float = STEER_ETA, base_model=None):
        self.combine = SteerCombine(gamma, eta)
        if self.combine.eta and negative_ids is None:
            raise ValueError(f"eta={eta!r} > 0 needs negative_ids (the tokenized negative prompt N)")
        self.model, self.base_model = model, base_model if base_model is not None else PhiView(model)  # adapter off
        self.negative_ids, self.prompt_length = negative_ids, int(prompt_length)

    @torch.no_grad()
    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if input_ids.shape[0] != 1:
            raise ValueError(f"SteerLogitsProcessor handles batch size 1, got input_ids.shape={tuple(input_ids.shape)}")
        base = neg = None
        if self.combine.gamma:
            base = self.base_model(input_ids).logits[:, -1]
        if self.combine.eta:
            cont = input_ids[:, self.prompt_length:]
            n_ids = torch.cat([self.negative_ids.to(input_ids.device).view(1, -1), cont], dim=1)
            neg = self.model(n_ids).logits[:, -1]
        return self.combine(scores, base, neg).to(scores.dtype)
