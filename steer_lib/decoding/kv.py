"""A preallocated, left-padded KV cache for the engine's batched token loop.

Why not transformers' ``DynamicCache``: it grows by ``torch.cat`` every step (copying the
whole cache each token — with ~400-token negative prompts that copy is a real cost), and it
cannot be assembled from rows prefilled separately. Here the rows are prefilled in length
buckets (:func:`steer_lib.decoding.engine.prefill`), each row's real keys/values written
right-aligned into one buffer ``[rows, heads, capacity, dim]``, and each decode step writes one
column in place. Padding slots stay zero and are masked out.

:func:`cache_kwarg` names the keyword a model's ``forward`` takes its cache by: ``cache=`` in
transformers 5.24 (the kit's pin), ``past_key_values=`` in older 5.x releases (e.g. 5.17). It
is detected once per model class from the signature; :func:`output_cache` reads the cache
back from an output under either name.
"""
from __future__ import annotations

import inspect

import torch
from transformers.cache_utils import Cache, DynamicLayer

CACHE_KWARGS = ("cache", "past_key_values")  # newest name first
_CACHE_KWARG: dict[type, str] = {}  # model class -> the keyword its forward takes


def _inner(model):
    """The model whose ``forward`` names the cache argument (a PEFT wrapper forwards ``**kwargs``)."""
    get = getattr(model, "get_base_model", None)
    return get() if callable(get) else model


def cache_kwarg(model) -> str:
    """``"cache"`` or ``"past_key_values"``: the keyword ``model.forward`` takes its KV cache by.

    Read once per model class from the forward's signature (``inspect.signature`` follows the
    ``deprecate_kwarg`` wrapper of transformers 5.24 to the real parameter list). A forward
    that names neither but takes ``**kwargs`` gets the name this transformers' Llama uses.
    """
    inner = _inner(model)
    cls = type(inner)
    if cls not in _CACHE_KWARG:
        params = inspect.signature(cls.forward).parameters
        found = [k for k in CACHE_KWARGS if k in params]
        if found:
            _CACHE_KWARG[cls] = found[0]
        elif any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            from transformers import LlamaForCausalLM
            llama = inspect.signature(LlamaForCausalLM.forward).parameters
            _CACHE_KWARG[cls] = next((k for k in CACHE_KWARGS if k in llama), "past_key_values")
        else:
            import transformers
            raise TypeError(f"{cls.__name__}.forward accepts neither cache= nor past_key_values= "
                            f"(transformers {transformers.__version__}): the engine cannot pass it a KV cache")
    return _CACHE_KWARG[cls]


def output_cache(out):
    """The cache a forward returned, whichever name the output uses (``cache`` or ``past_key_values``)."""
    for name in CACHE_KWARGS:
        c = getattr(out, name, None)
        if c is not None:
            return c
    return None


class BufferLayer(DynamicLayer):
    """One layer's keys/values in a fixed buffer; ``n`` columns are filled."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, n: int):
        super().__init__()
        self.kbuf, self.vbuf, self.n = keys, values, n
        self.keys, self.values = keys[:, :, :n], values[:, :, :n]
        self.is_initialized = True
        self.device = keys.device

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        q = key_states.shape[-2]
        if self.n + q > self.kbuf.shape[2]:
            raise RuntimeError(f"KV buffer full: {self.n}+{q} > capacity {self.kbuf.shape[2]}")
        self.kbuf[:, :, self.n:self.n + q] = key_states
        self.vbuf[:, :, self.n:self.n + q] = value_states
        self.n += q
        self.keys, self.values = self.kbuf[:, :, :self.n], self.vbuf[:, :, :self.n]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.n

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self.kbuf, self.vbuf = self.kbuf[indices], self.vbuf[indices]
        self.keys, self.values = self.kbuf[:, :, :self.n], self.vbuf[:, :, :self.n]


class BufferCache(Cache):
    """A :class:`Cache` of :class:`BufferLayer` s, filled row by row with :meth:`put_row`."""

    def __init__(self, n_layers: int, rows: int, kv_heads: int, head_dim: int, capacity: int, prefix: int,
                 dtype: torch.dtype, device: torch.device):
        def buf() -> torch.Tensor:
            return torch.zeros(rows, kv_heads, capacity, head_dim, dtype=dtype, device=device)
        super().__init__(layers=[BufferLayer(buf(), buf(), prefix) for _ in range(n_layers)])
        self.prefix = prefix

    def put_row(self, row: int, per_layer_kv: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Copy one prefilled sequence (``[1, heads, L, dim]`` per layer) right-aligned into ``row``."""
        for layer, (k, v) in zip(self.layers, per_layer_kv):
            L = k.shape[2]
            layer.kbuf[row, :, self.prefix - L:self.prefix] = k[0]
            layer.vbuf[row, :, self.prefix - L:self.prefix] = v[0]

    def select_rows(self, indices: torch.Tensor) -> None:
        for layer in self.layers:
            layer.batch_select_indices(indices)


def prefill_kv(cache: Cache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-layer ``(keys, values)`` of a cache a prefill forward returned."""
    return [(layer.keys, layer.values) for layer in cache.layers]
