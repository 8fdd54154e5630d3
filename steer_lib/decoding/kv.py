"""A preallocated, left-padded KV cache for the engine's batched token loop.

Why not transformers' ``DynamicCache``: it grows by ``torch.cat`` every step (copying the
whole cache each token — with ~400-token negative prompts that copy is a real cost), and it
cannot be assembled from rows prefilled separately. Here every row is prefilled on its own
(no padding compute), written right-aligned into one buffer ``[rows, heads, capacity, dim]``,
and each decode step writes one column in place. Padding slots stay zero and are masked out.
"""
from __future__ import annotations

import torch
from transformers.cache_utils import Cache, DynamicLayer


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
