"""The token loop behind :func:`steer_lib.decoding.generate`: three KV-cached streams, batched.

A *stream* is one conditioning of one model for every sample of a batch:

- ``ft``   — P_θ on the prompt (always);
- ``base`` — P_φ on the prompt (STEER with γ>0, contrastive decoding);
- ``neg``  — P_θ on the negative prompt N (η>0).

Streams are packed into *groups*; each group is one forward per step over one preallocated
cache (:mod:`steer_lib.decoding.kv`). With a PEFT LoRA model and no separate base model, ``ft`` and
``base`` share a group as a mixed-adapter batch (``adapter_names=[active…, "__base__"…]``,
one pass over one set of weights). ``neg`` gets a group of its own by default
(``layout="split"``): its prefix is ~10× longer, and packing the short streams into the same
cache would make them attend over hundreds of padding slots every step. ``layout="merged"``
puts every stream that shares a model into one group (one forward per step), for comparison.

Prefill: each distinct prefix is run once and copied right-aligned into every row that uses
it — with one task prompt, the prompt streams cost one short prefill per batch whatever the
batch size. The distinct prefixes are prefilled *batched*: sorted by length and cut into
buckets of similar length (:func:`buckets`: at most :data:`PREFILL_PAD` padding, at most
:func:`prefill_tokens` tokens per forward), each bucket one forward (:func:`prefill`). Its rows
are right-padded with no attention mask: causal attention keeps every real position from
seeing the pads after it, and only each row's last position reaches the vocabulary
projection. The pads' keys/values are not copied: the cache's padding slots stay zero and
masked, exactly as with one prefill per row.

Finished rows (EOS, stop string, length) are dropped from the caches once enough of them
accumulate that a copy of the caches is cheaper than computing them.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from ..data.text import first_stop
from .adapters import active_adapter, is_peft  # noqa: F401  (engine.active_adapter: the tests' name for it)
from .kv import BufferCache, cache_kwarg, output_cache, prefill_kv
from .logits_process import sample

# Prefill buckets, as measured (2-core EPYC, SmolLM2-135M, 16 negative prompts of 345-535 tokens, 2026-12-02): at
# 8,192 tokens a forward and 1/8 padding the prefill took 37 s at one thread and 18-20 s at two; at 2,048 tokens and
# 1/20 padding, 25 s and 14 s; at 2,048 and 1/50, 24-30 s and 15-17 s. 1/32 lies between the two measured shares.
# A CPU forward over a few thousand tokens keeps its activations in cache; a GPU wants big batches, and its budget
# only bounds activation memory.
PREFILL_TOKENS = {"cpu": 2048}  # per device type: at most this many (padded) tokens per prefill forward ...
PREFILL_TOKENS_DEFAULT = 8192  # ... and on any other device (CUDA, MPS)
PREFILL_PAD = 1 / 32  # a bucket may add at most this share of padding to its real tokens (pads cost full compute)
COMPACT_FRACTION = 0.125  # drop finished rows once they are ≥ this share of the batch (a cache copy each time)


@runtime_checkable
class Scorer(Protocol):
    """What :func:`run` asks of its scorer: the next token of each alive row from the streams' logits.

    ``sample(by_stream, uniforms, greedy)`` gets ``{stream name: logits [n, V]}`` and one uniform per
    row (``[n]``) and returns ``[n]`` token ids. A plain function ``by_stream -> scores`` (already
    warped) is accepted too: :func:`run` samples its scores with :func:`~steer_lib.decoding.logits_process.sample`.
    """

    def sample(self, by_stream: dict[str, torch.Tensor], uniforms: torch.Tensor, greedy: bool) -> torch.Tensor: ...


@dataclass(frozen=True)
class ScoreThenSample:
    """The :class:`Scorer` of a plain score function: scores, then inverse-CDF sampling on the uniforms."""

    score_fn: object  # callable: dict stream -> logits [n, V]  ->  scores [n, V]

    def sample(self, by_stream: dict[str, torch.Tensor], uniforms: torch.Tensor, greedy: bool) -> torch.Tensor:
        return sample(self.score_fn(by_stream), uniforms, greedy=greedy)


@dataclass
class Stream:
    name: str  # "ft" | "base" | "neg"
    model: torch.nn.Module
    adapter: str | None  # PEFT adapter name, "__base__" (adapter off) or None (plain model)
    prefixes: list[list[int]]  # token ids, one list per sample


def _forward(model, adapters: list[str] | None, active: str | None, **kw):
    """One forward; ``adapter_names`` only when rows need something other than the active adapter."""
    if adapters is not None and any(a != active for a in adapters):
        kw["adapter_names"] = adapters
    return model(**kw)


@torch.no_grad()
def prefill(model, prefixes: list[list[int]], adapters: list[str] | None, active: str | None, device):
    """One forward over ``prefixes`` (token id lists): each row's next-token logits ``[n, V]`` and per-layer K/V.

    Rows are *right*-padded and no attention mask is passed: under causal attention a real position
    never sees the pads after it, so its keys, values and logits are those of an unpadded forward, and
    the attention kernel may skip the masked upper triangle (``is_causal``: half the attention work of
    an explicit left-padding mask). Row ``i``'s keys/values are ``[:, :, :len(prefixes[i])]``.

    Only each row's last real position reaches the vocabulary projection: with one length,
    ``logits_to_keep=1``; with several, a pre-hook on the output embedding gathers the last
    position of every row before the projection (a model that projects without calling that module
    returns every position's logits, and they are gathered afterwards: the same numbers, more work).
    """
    lens = torch.tensor([len(p) for p in prefixes])
    width = int(lens.max())
    ids = torch.zeros(len(prefixes), width, dtype=torch.long)
    for i, p in enumerate(prefixes):
        ids[i, :len(p)] = torch.tensor(p)
    rows, last = torch.arange(len(prefixes), device=device), (lens - 1).to(device)
    ragged = bool((lens != width).any())
    hook = None
    if ragged:
        head = model.get_output_embeddings()

        def gather_last(module, args):  # hidden states [n, width, H] -> each row's last real position [n, 1, H]
            return (args[0][rows, last].unsqueeze(1), *args[1:])
        hook = head.register_forward_pre_hook(gather_last) if head is not None else None
    try:
        out = _forward(model, adapters, active, input_ids=ids.to(device), use_cache=True,
                       position_ids=torch.arange(width, device=device).expand(len(prefixes), -1),
                       logits_to_keep=0 if ragged else 1)
    finally:
        if hook is not None:
            hook.remove()
    logits = out.logits
    logits = logits[:, -1] if logits.shape[1] == 1 else logits[rows, last]
    return logits, prefill_kv(output_cache(out))


class Group:
    """Rows (stream-major: all samples of stream 1, then stream 2 …) that share one forward and one cache."""

    def __init__(self, streams: list[Stream], max_new_tokens: int, max_prefill_tokens: int | None = None,
                 max_pad: float = PREFILL_PAD):
        self.streams, self.model = streams, streams[0].model
        self.n = len(streams[0].prefixes)
        self.active = active_adapter(self.model) if is_peft(self.model) else None
        rows = [(s.adapter, tuple(p)) for s in streams for p in s.prefixes]
        self.prefix = max(len(p) for _, p in rows)
        device = next(self.model.parameters()).device
        by_key: dict[tuple, list[int]] = {}
        for r, key in enumerate(rows):
            by_key.setdefault(key, []).append(r)
        self.cache: BufferCache | None = None
        first: list[torch.Tensor | None] = [None] * len(rows)
        keys = list(by_key)
        budget = max_prefill_tokens or prefill_tokens(device)
        for bucket in buckets([len(ids) for _, ids in keys], budget, max_pad):  # one padded forward each
            ks = [keys[i] for i in bucket]
            out, kv = prefill(self.model, [p for _, p in ks], [a for a, _ in ks] if self.active else None,
                              self.active, device)
            if self.cache is None:
                _, heads, _, dim = kv[0][0].shape
                self.cache = BufferCache(len(kv), len(rows), heads, dim, self.prefix + max_new_tokens,
                                         self.prefix, kv[0][0].dtype, device)
            for i, key in enumerate(ks):
                L = len(key[1])
                real = [(k[i:i + 1, :, :L], v[i:i + 1, :, :L]) for k, v in kv]  # right-padded: the pads come after
                for r in by_key[key]:
                    self.cache.put_row(r, real)
                    first[r] = out[i]
            del out, kv
        self.first_logits = torch.stack(first)
        lens = torch.tensor([len(p) for _, p in rows], device=device)
        cols = torch.arange(self.prefix + max_new_tokens, device=device)
        self.mask = (cols >= self.prefix - lens[:, None]) & (cols < self.prefix)  # True = attend
        self.pos = lens.clone()  # position id of each row's next token
        self.adapters = [s.adapter for s in streams for _ in s.prefixes] if self.active else None
        self.cache_kw = cache_kwarg(self.model)  # "cache" (transformers 5.24) or "past_key_values" (older)

    def split(self, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        return {s.name: chunk for s, chunk in zip(self.streams, logits.split(self.n))}

    @torch.no_grad()
    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed one token per sample (``[n]``) to every row; return next-token logits ``[rows, vocab]``."""
        n_cached = self.cache.layers[0].n
        self.mask[:, n_cached] = True
        out = _forward(self.model, self.adapters, self.active,
                       input_ids=tokens.repeat(len(self.streams)).view(-1, 1),
                       attention_mask=self.mask[:, None, None, :n_cached + 1],  # 4-D: used as given
                       position_ids=self.pos.view(-1, 1), use_cache=True, **{self.cache_kw: self.cache})
        self.pos += 1
        return out.logits[:, -1]

    def keep(self, positions: torch.Tensor) -> None:
        """Keep only the samples at ``positions`` (indices into the current sample order)."""
        rows = torch.cat([positions + i * self.n for i in range(len(self.streams))])
        self.cache.select_rows(rows)
        self.mask, self.pos = self.mask[rows], self.pos[rows]
        if self.adapters is not None:
            self.adapters = [self.adapters[i] for i in rows.tolist()]
        self.n = len(positions)


def prefill_tokens(device: torch.device | str) -> int:
    """The prefill budget on ``device``: at most this many (padded) tokens in one prefill forward.

    >>> prefill_tokens("cpu"), prefill_tokens("cuda:0")
    (2048, 8192)
    """
    return PREFILL_TOKENS.get(torch.device(device).type, PREFILL_TOKENS_DEFAULT)


def buckets(lengths: list[int], max_tokens: int = PREFILL_TOKENS_DEFAULT, max_pad: float = PREFILL_PAD) -> list[list[int]]:
    """Indices of ``lengths`` cut into prefill batches: sorted by length, each padded to its longest.

    A bucket grows (shortest first) while its padded size stays within ``max_tokens`` and its
    padding within ``max_pad`` × its real tokens; a prefix longer than ``max_tokens`` runs alone.

    >>> buckets([5, 100, 6, 98, 7], max_pad=1/8)  # 5, 6 and 7 together would pad 3 of 18 tokens, over 1/8
    [[0, 2], [4], [3, 1]]
    >>> buckets([5, 100, 6, 98, 7])  # at 1/32: 98 and 100 pad 2 of 198 tokens (1 %); 5 and 6 would pad 9 %
    [[0], [2], [4], [3, 1]]
    >>> buckets([10, 10, 10], max_tokens=20)
    [[0, 1], [2]]
    """
    out: list[list[int]] = []
    real = 0
    for i in sorted(range(len(lengths)), key=lambda j: lengths[j]):
        L = lengths[i]  # the longest so far: the bucket's width if i joins it
        if out and (len(out[-1]) + 1) * L <= max_tokens and (len(out[-1]) + 1) * L - real - L <= max_pad * (real + L):
            out[-1].append(i)
            real += L
        else:
            out.append([i])
            real = L
    return out


def make_groups(streams: list[Stream], max_new_tokens: int, layout: str = "split",
                timings: Counter | None = None) -> list[Group]:
    """Pack streams into groups: by model, and (``split``) with ``neg`` on its own; prefill them.

    ``timings``, when given, accumulates each group's prefill seconds under ``"prefill:<streams>"``.
    """
    if layout not in ("split", "merged"):
        raise ValueError(f"layout={layout!r} must be 'split' or 'merged'")
    keys: dict[tuple, list[Stream]] = {}
    for s in streams:
        keys.setdefault((id(s.model), layout == "split" and s.name == "neg"), []).append(s)
    groups = []
    for ss in keys.values():
        t = time.perf_counter()
        groups.append(Group(ss, max_new_tokens))
        if timings is not None:
            timings["prefill:" + "+".join(s.name for s in ss)] += time.perf_counter() - t
    return groups


@torch.no_grad()
def run(streams: list[Stream], tokenizer, score_fn, *, max_new_tokens: int, generator: torch.Generator,
        greedy: bool = False, stop_strings: tuple[str, ...] = (), eos_ids: set[int] = frozenset(),
        ignore_eos: bool = False, layout: str = "split", token_ids: list | None = None,
        stats: list | None = None, compact_fraction: float | None = COMPACT_FRACTION,
        timings: Counter | None = None) -> list[str]:
    """Decode one batch. ``score_fn``: a :class:`Scorer`, or a function ``dict stream → logits[n, V] -> scores``.

    ``compact_fraction``: finished rows are dropped from the caches once they are at least this share
    of the alive rows; ``None`` keeps every row in place to the end (row j stays sample j, as sharding
    needs). ``timings``, when given, accumulates seconds per phase (``prefill:<streams>``,
    ``decode:<streams>``, ``sample+stop``).

    Returns each sample's continuation text (special tokens skipped), cut after the first
    stop string when one occurs. ``token_ids``, when given a list, receives each sample's
    generated ids (EOS excluded; up to and including the token that completed a stop string);
    ``stats`` receives ``{"n_tokens": …, "stop": "eos" | "stop" | "length"}`` per sample: how many
    tokens it generated and why it ended.
    """
    scorer = score_fn if isinstance(score_fn, Scorer) else ScoreThenSample(score_fn)
    clock = timings if timings is not None else Counter()  # thrown away when the caller does not ask
    n = len(streams[0].prefixes)
    groups = make_groups(streams, max_new_tokens, layout, clock)
    logits = [g.first_logits for g in groups]
    alive = torch.arange(n)  # sample ids in the groups' current row order
    done = torch.zeros(n, dtype=torch.bool)
    generated: list[list[int]] = [[] for _ in range(n)]
    texts: list[str | None] = [None] * n
    why = ["length"] * n  # why each sample ended: a row that neither hits EOS nor a stop string runs out of length
    for t in range(max_new_tokens):
        u = torch.rand(n, generator=generator)  # every sample draws every step: draws don't depend on compaction
        by_stream: dict[str, torch.Tensor] = {}
        for g, lg in zip(groups, logits):
            by_stream.update(g.split(lg))
        t0 = time.perf_counter()
        tok = scorer.sample(by_stream, u[alive], greedy)
        tok = tok.cpu()
        for j, s in enumerate(alive.tolist()):
            if done[s]:
                continue
            tid = int(tok[j])
            if tid in eos_ids and not ignore_eos:
                done[s], texts[s], why[s] = True, tokenizer.decode(generated[s], skip_special_tokens=True), "eos"
                continue
            generated[s].append(tid)
            if stop_strings:
                text = tokenizer.decode(generated[s], skip_special_tokens=True)
                hit = first_stop(text, stop_strings)
                if hit is not None:
                    done[s], texts[s], why[s] = True, text[: hit[1]], "stop"
        if t == max_new_tokens - 1 or bool(done.all()):
            break
        n_done_alive = int(done[alive].sum())
        if n_done_alive and compact_fraction is not None and n_done_alive >= compact_fraction * len(alive):
            keep = (~done[alive]).nonzero().view(-1)
            for g in groups:
                g.keep(keep.to(g.mask.device))
            alive, tok = alive[keep], tok[keep]
        dev = groups[0].mask.device
        clock["sample+stop"] += time.perf_counter() - t0
        logits = []
        for g in groups:
            t0 = time.perf_counter()
            logits.append(g.step(tok.to(dev)))
            clock["decode:" + "+".join(s.name for s in g.streams)] += time.perf_counter() - t0
    for s in range(n):
        if texts[s] is None:
            texts[s] = tokenizer.decode(generated[s], skip_special_tokens=True)
    if token_ids is not None:
        token_ids.extend(generated)
    if stats is not None:
        stats.extend({"n_tokens": len(ids), "stop": w} for ids, w in zip(generated, why))
    return texts
