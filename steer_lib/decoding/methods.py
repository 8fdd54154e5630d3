"""``generate``: STEER and every baseline behind one entry point.

Methods (the defaults are the seed authors' settings; ``resolve_params`` shows them):

- ``steer`` — STEER (arXiv 2308.07645): s = (1+γ)·log P_θ(·|prompt) − γ·log P_φ(·|prompt)
  − η·log P_θ(·|N), then temperature / top-k (k=10) / top-p sampling. γ=η=0.2 by default.
- ``negative_only`` — the same with γ=0 (the paper's ablation: negative prompts only).
- ``top_k`` — top-k sampling of P_θ (Fan et al. 2018), k=10, T=0.85.
- ``nucleus`` — nucleus sampling (Holtzman et al. 2020), p=0.92, T=0.8, no top-k.
- ``low_temperature`` — pure sampling at T=0.5 (Ackley et al. 1985; Ficler & Goldberg 2017), no top-k.
- ``beam`` — stochastic beam search via transformers (3 beams, sampled, T=0.94).
- ``contrastive_search`` — Su et al. 2022 (arXiv 2202.06417): k=4 candidates, degeneration
  penalty α=0.6 on the cosine similarity of last hidden states. Deterministic: identical
  prompts give identical outputs (computed once per distinct prompt).
- ``contrastive_decoding`` — Li et al. 2022 (arXiv 2210.15097): expert P_θ, amateur P_φ at
  temperature 0.5, plausibility α=0.1, coefficient 1.0; samples from the contrastive scores
  (T=1, no top-k; ``top_k=1`` is Li et al.'s greedy search).

The settings and presets live in :mod:`steer_lib.decoding.config` (:class:`DecodingConfig`): a knob left
unset (``None``) takes the method's preset; a value given is used as given, even one equal to a default.
γ/η apply to ``steer``/``negative_only`` only (other values are an error).
"""
from __future__ import annotations

import hashlib
import inspect
import warnings
from collections import Counter
from typing import Sequence

import torch

from . import engine
from .adapters import adapter_of, base_stream
from .config import METHODS, DecodingConfig
from .logits_process import ContrastiveDecodingCombine, SteerCombine, Temperature, TopK, TopP, sample
from .negatives import NegativePool, negative_ids



def resolve_params(method: str, **given) -> dict:
    """The effective settings of ``method`` (validated): :meth:`DecodingConfig.for_method` as a record's ``params``.

    Every setting given is used as given, even one equal to a default:

    >>> resolve_params("nucleus")["temperature"], resolve_params("nucleus", temperature=0.7)["temperature"]
    (0.8, 0.7)
    >>> resolve_params("top_k", temperature=1.0)["temperature"]
    1.0
    >>> resolve_params("top_k", eta=0.5)
    Traceback (most recent call last):
    ...
    ValueError: eta=0.5 has no effect with method='top_k'; only steer/negative_only use gamma and eta
    """
    return DecodingConfig.for_method(method, **given).params()


def batch_generator(seed: int, batch_index: int) -> torch.Generator:
    """The RNG of one batch, derived from (seed, batch index) so resumed runs repeat exactly."""
    h = hashlib.sha256(f"steer-batch:{seed}:{batch_index}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(h[:8], "little") & (2**63 - 1))


def eos_ids(model, tokenizer) -> set[int]:
    ids = {tokenizer.eos_token_id}
    cfg = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids |= set(cfg) if isinstance(cfg, (list, tuple)) else {cfg}
    return {i for i in ids if i is not None}


class GenerateResult(list):
    """What :func:`generate` returns: the continuation texts — the result *is* that list, so code that treats it as
    a list of strings keeps working — plus, per sample, ``stats`` and ``token_ids``.

    - ``stats``: ``{"n_tokens", "stop"}`` (``eos`` / ``stop`` / ``length``): the engine's own counts; for beam and
      contrastive search, which decode outside it, the text re-tokenized and the stop read off the text;
    - ``token_ids``: the generated ids (EOS excluded; up to and including the token that completed a stop
      string) for the engine's methods; ``None`` for beam and contrastive search.

    >>> r = GenerateResult(["a", "b"], stats=[{"n_tokens": 1, "stop": "eos"}] * 2, token_ids=[[5], [6]])
    >>> r == ["a", "b"], r.texts, r.token_ids[1]
    (True, ['a', 'b'], [6])
    """

    def __init__(self, texts=(), *, stats: list[dict] | None = None, token_ids: list[list[int]] | None = None):
        super().__init__(texts)
        self.stats = stats if stats is not None else []
        self.token_ids = token_ids

    @property
    def texts(self) -> list[str]:
        return list(self)


def generate(model, tokenizer, prompts: Sequence[str], *, method: str = "steer", gamma: float | None = None,
             eta: float | None = None, negatives: NegativePool | Sequence[str] | None = None,
             top_k: int | None = None, top_p: float | None = None, temperature: float | None = None,
             max_new_tokens: int = 64, stop_strings: Sequence[str] | None = None, batch_size: int = 16,
             seed: int = 0, base_model=None, progress: bool = False, max_negative_tokens: int = 1024,
             ignore_eos: bool = False, layout: str = "split", plausibility: float | None = None,
             timings: Counter | None = None, decoding: DecodingConfig | None = None) -> GenerateResult:
    """Continue each prompt; return the continuation texts (special tokens skipped) as a :class:`GenerateResult`.

    ``gamma``, ``eta``, ``top_k``, ``top_p``, ``temperature``: ``None`` (the default) takes the method's
    preset (:data:`~steer_lib.decoding.config.PRESETS`); a value given is used as given. Or pass
    ``decoding=`` a :class:`~steer_lib.decoding.config.DecodingConfig` from ``for_method`` (its method and
    settings are used as they are, ``top_k=None`` meaning no top-k; then leave ``method`` and the knobs unset).

    ``negatives``: a :class:`NegativePool` (each sample draws its own k; finished samples join
    the pool at the end of their batch) or a plain list (joined in order, the same N for
    every prompt). ``stop_strings`` entries are strings or ``re:`` regexes; the text returned
    ends with the first stop (callers apply ``task.clean``). ``base_model``: P_φ when it is a
    separate model; by default the PEFT model with its adapter off.
    ``ignore_eos`` forces ``max_new_tokens`` (benchmarks); ``layout`` see :mod:`steer_lib.decoding.engine`.

    ``plausibility`` (steer / negative_only; off by default): keep only tokens with P_θ ≥ α·max P_θ before
    top-k (see :class:`~steer_lib.decoding.logits_process.SteerCombine`).

    ``timings``, when given a :class:`~collections.Counter`, accumulates the engine's seconds per phase
    (``prefill:<streams>``, ``decode:<streams>``, ``sample+stop``; engine methods only).

    The result carries each sample's ``stats`` (tokens generated, why it ended) and ``token_ids``
    (:class:`GenerateResult`). Resumed and sharded runs use :func:`generate_part`.
    """
    return _generate(model, tokenizer, prompts, 0, None, method=method, gamma=gamma, eta=eta, negatives=negatives,
                     top_k=top_k, top_p=top_p, temperature=temperature, max_new_tokens=max_new_tokens,
                     stop_strings=stop_strings, batch_size=batch_size, seed=seed, base_model=base_model,
                     progress=progress, max_negative_tokens=max_negative_tokens, ignore_eos=ignore_eos,
                     layout=layout, plausibility=plausibility, timings=timings, decoding=decoding)


GENERATE_DEFAULTS = {name: p.default for name, p in inspect.signature(generate).parameters.items()
                     if p.kind is p.KEYWORD_ONLY}  # generate's settings and their defaults


def generate_part(model, tokenizer, prompts: Sequence[str], *, batch_offset: int = 0,
                  rows: tuple[int, int] | None = None, **settings) -> GenerateResult:
    """:func:`generate` for one part of a larger run (the writer's plumbing); ``settings`` are generate's keyword
    arguments, with its defaults.

    ``batch_offset``: index of the first batch (resumed runs: batch b draws from (seed, b), sample i's N from
    (seed, i)). ``rows=(a, b)`` (sharded generation, :mod:`steer_lib.decoding.distributed`): ``prompts`` are
    the whole batch ``batch_offset`` and only its rows ``a..b-1`` are decoded, each with exactly
    the random draws and negatives it gets when the whole batch runs in one process, so the
    texts returned are that run's ``[a:b]``. The pool is not grown (the caller gathers every
    rank's texts and adds them in sample order). Engine methods only (not beam / contrastive search).
    """
    unknown = sorted(set(settings) - set(GENERATE_DEFAULTS))
    if unknown:
        raise TypeError(f"generate_part() got unexpected keyword argument(s) {unknown}")
    return _generate(model, tokenizer, prompts, batch_offset, rows, **{**GENERATE_DEFAULTS, **settings})


def _generate(model, tokenizer, prompts, batch_offset, rows, *, method, gamma, eta, negatives, top_k, top_p,
              temperature, max_new_tokens, stop_strings, batch_size, seed, base_model, progress, max_negative_tokens,
              ignore_eos, layout, plausibility, timings, decoding) -> GenerateResult:
    knobs = dict(gamma=gamma, eta=eta, top_k=top_k, top_p=top_p, temperature=temperature, plausibility=plausibility)
    if decoding is None:
        decoding = DecodingConfig.for_method(method, **{k: v for k, v in knobs.items() if v is not None})
    else:
        given = sorted(k for k, v in knobs.items() if v is not None)
        if given or method not in ("steer", decoding.method):
            raise ValueError(f"decoding= already holds the method and settings; do not also pass "
                             f"{given or ['method=' + repr(method)]}")
        decoding.validate()
    method, p = decoding.method, decoding.params()
    prompts = list(prompts) if not isinstance(prompts, str) else [prompts]
    if not prompts:
        raise ValueError("prompts=[] is empty: give at least one prompt")
    for name, v in (("max_new_tokens", max_new_tokens), ("batch_size", batch_size),
                    ("max_negative_tokens", max_negative_tokens)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}={v!r} must be an integer >= 1")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    if p["eta"] > 0 and not negatives:
        raise ValueError(f"eta={p['eta']!r} > 0 needs negatives= (a NegativePool or a list of examples)")
    needs_base = (method in ("steer", "negative_only") and p["gamma"] > 0) or method == "contrastive_decoding"
    if needs_base and base_stream(model, base_model) is None:
        warnings.warn("no base model: the model is not a PEFT adapter and base_model=None, so P_θ = P_φ "
                      "and gamma has no effect", stacklevel=3)  # generate()'s caller
        if method != "contrastive_decoding":
            needs_base = False
    stops = tuple(stop_strings or ())
    eos = eos_ids(model, tokenizer)
    if rows is not None:
        return _generate_rows(model, tokenizer, prompts, rows, method=method, p=p, negatives=negatives,
                              base_model=base_model, needs_base=needs_base, seed=seed, batch_size=batch_size,
                              batch_index=batch_offset, max_new_tokens=max_new_tokens, stops=stops, eos=eos,
                              max_negative_tokens=max_negative_tokens, ignore_eos=ignore_eos, layout=layout,
                              timings=timings)
    bar = _progress(len(prompts)) if progress else None
    out: list[str] = []
    stats: list[dict] = []
    ids: list[list[int]] | None = [] if method in SHARDABLE else None  # beam / contrastive search: texts only
    for b0 in range(0, len(prompts), batch_size):
        bidx = batch_offset + b0 // batch_size
        batch = prompts[b0:b0 + batch_size]
        gen = batch_generator(seed, bidx)
        first_sample = bidx * batch_size
        if method == "beam":
            from .baselines import beam_batch
            texts = beam_batch(model, tokenizer, batch, params=p, max_new_tokens=max_new_tokens, stops=stops,
                               generator=gen, ignore_eos=ignore_eos)
            stats.extend(_text_stats(tokenizer, texts, stops, max_new_tokens))
        elif method == "contrastive_search":
            from .baselines import contrastive_search_batch
            texts = contrastive_search_batch(model, tokenizer, batch, params=p, max_new_tokens=max_new_tokens,
                                             stops=stops, eos=set() if ignore_eos else eos)
            stats.extend(_text_stats(tokenizer, texts, stops, max_new_tokens))
        else:
            streams = _streams(model, tokenizer, batch, base_model, needs_base, p["eta"] > 0, negatives,
                               first_sample, max_negative_tokens)
            texts = engine.run(streams, tokenizer, MethodScorer(method, p), max_new_tokens=max_new_tokens,
                               generator=gen, greedy=p["top_k"] == 1, stop_strings=stops, eos_ids=eos,
                               ignore_eos=ignore_eos, layout=layout, token_ids=ids, stats=stats, timings=timings)
        if isinstance(negatives, NegativePool):
            negatives.add(texts)
        out += texts
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    return GenerateResult(out, stats=stats, token_ids=ids)


SHARDABLE = tuple(m for m in METHODS if m not in ("beam", "contrastive_search"))  # the methods of the engine


def _text_stats(tokenizer, texts: list[str], stops: tuple[str, ...], max_new_tokens: int) -> list[dict]:
    """``{"n_tokens", "stop"}`` read off finished texts (for decoders outside the engine): a stop string in the
    text means ``stop``; otherwise a text of ``max_new_tokens`` tokens ran out of ``length``, a shorter one hit EOS."""
    from ..data.text import first_stop

    out = []
    for t in texts:
        n = len(tokenizer(t, add_special_tokens=False)["input_ids"])
        hit = first_stop(t, stops) is not None
        out.append({"n_tokens": n, "stop": "stop" if hit else "length" if n >= max_new_tokens else "eos"})
    return out


def _generate_rows(model, tokenizer, prompts, rows, *, method, p, negatives, base_model, needs_base, seed,
                   batch_size, batch_index, max_new_tokens, stops, eos, max_negative_tokens, ignore_eos,
                   layout, timings=None) -> GenerateResult:
    """Rows ``a..b-1`` of one batch, identical to the same rows of the whole batch run at once.

    The engine draws one uniform per row per step from the batch generator; here the scorer
    draws the whole batch's uniforms from the same (seed, batch) generator and keeps its own
    rows, and sample ``i``'s negatives come from ``pool.draw(i)`` as always. That needs the
    engine's row order to stay fixed, so its compaction of finished rows is off for this call
    (``compact_fraction=None``; finished rows are computed and ignored until the shard ends: the price of
    sharding).
    """
    a, b = rows
    if method not in SHARDABLE:
        raise ValueError(f"rows= needs one of {SHARDABLE}; {method!r} does not run in the engine")
    if len(prompts) > batch_size or not 0 <= a <= b <= len(prompts):
        raise ValueError(f"rows={rows!r} must lie within one batch of {len(prompts)} prompt(s) "
                         f"(batch_size={batch_size})")
    if a == b:
        return GenerateResult([], token_ids=[])
    first_sample = batch_index * batch_size + a
    streams = _streams(model, tokenizer, prompts[a:b], base_model, needs_base, p["eta"] > 0, negatives,
                       first_sample, max_negative_tokens)
    scorer = _RowsOfBatch(MethodScorer(method, p), batch_generator(seed, batch_index), len(prompts), a, b)
    stats: list[dict] = []
    ids: list[list[int]] = []
    texts = engine.run(streams, tokenizer, scorer, max_new_tokens=max_new_tokens,
                       generator=torch.Generator().manual_seed(0),  # its draws are replaced by the scorer's
                       greedy=p["top_k"] == 1, stop_strings=stops, eos_ids=eos, ignore_eos=ignore_eos,
                       layout=layout, token_ids=ids, stats=stats, compact_fraction=None,  # row j stays sample a+j
                       timings=timings)
    return GenerateResult(texts, stats=stats, token_ids=ids)


class _RowsOfBatch:
    """A scorer that samples rows ``a..b-1`` with the whole batch's uniforms (drawn as the engine draws them)."""

    def __init__(self, scorer, generator: torch.Generator, n_batch: int, a: int, b: int):
        self.scorer, self.generator, self.n_batch, self.a, self.b = scorer, generator, n_batch, a, b

    def __call__(self, by_stream):
        return self.scorer(by_stream)

    def sample(self, by_stream, uniforms: torch.Tensor, greedy: bool) -> torch.Tensor:
        u = torch.rand(self.n_batch, generator=self.generator)[self.a:self.b]  # = engine.run's draw for the batch
        if len(uniforms) != len(u):
            raise RuntimeError(f"the engine decoded {len(uniforms)} rows where {len(u)} were given: it compacted "
                               "finished rows, so rows= can no longer match a one-process run")
        return self.scorer.sample(by_stream, u, greedy)


def _streams(model, tokenizer, prompts, base_model, needs_base, needs_neg, negatives, first_sample, max_neg):
    ft_adapter = adapter_of(model)
    prompt_ids = [tokenizer(t)["input_ids"] for t in prompts]
    if any(not ids for ids in prompt_ids):
        raise ValueError("a prompt tokenizes to nothing; give non-empty prompts")
    streams = [engine.Stream("ft", model, ft_adapter, prompt_ids)]
    if needs_base:
        # P_φ: the base model, or the same weights with the adapter off; a plain model (CD only): the model itself
        streams.append(engine.Stream("base", *(base_stream(model, base_model) or (model, None)), prompt_ids))
    if needs_neg:
        if isinstance(negatives, NegativePool):
            negs = [negative_ids(tokenizer, negatives.draw(first_sample + j), max_neg) for j in range(len(prompts))]
        else:
            negs = [negative_ids(tokenizer, list(negatives), max_neg)] * len(prompts)
        streams.append(engine.Stream("neg", model, ft_adapter, negs))
    return streams


class MethodScorer:
    """A method's :class:`~steer_lib.decoding.engine.Scorer`: combine → temperature → top-k → top-p, then sample.

    A fast path when only top-k filters:

    With top-k and no top-p, sampling only needs the k best scores: the full-vocabulary
    softmax and cumulative sum of the generic path are skipped (same distribution).
    """

    def __init__(self, method: str, p: dict):
        if method == "contrastive_decoding":
            self.combine = ContrastiveDecodingCombine(p["cd_alpha"], p["cd_beta"], p["amateur_temperature"])
        else:
            self.combine = SteerCombine(p["gamma"], p["eta"], p.get("plausibility"))
        self.temperature, self.top_k, self.top_p = Temperature(p["temperature"]), TopK(p["top_k"]), TopP(p["top_p"])

    def __call__(self, by_stream: dict[str, torch.Tensor]) -> torch.Tensor:
        s = self.combine(by_stream["ft"], by_stream.get("base"), by_stream.get("neg"))
        return self.top_p(self.top_k(self.temperature(s)))

    def sample(self, by_stream: dict[str, torch.Tensor], uniforms: torch.Tensor, greedy: bool) -> torch.Tensor:
        if self.top_k.top_k is None or self.top_p.top_p is not None or greedy:
            return sample(self(by_stream), uniforms, greedy=greedy)
        s = self.combine(by_stream["ft"], by_stream.get("base"), by_stream.get("neg"))
        vals, idx = torch.topk(s, min(self.top_k.top_k, s.shape[-1]), dim=-1)
        pick = sample(self.temperature(vals), uniforms)
        return idx.gather(-1, pick.view(-1, 1)).view(-1)


def _progress(total: int):
    from ..runtime import progress_bar
    return progress_bar(total=total, unit="sample", desc="generate", dynamic_ncols=True)
