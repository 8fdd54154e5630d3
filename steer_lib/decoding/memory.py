"""Will a generation run fit in memory? A fast, conservative estimate made before the first batch.

The engine preallocates each stream's KV cache to ``prompt + max_new_tokens`` positions for the whole batch
(:mod:`steer_lib.decoding.kv`), so a large ``--max-new-tokens`` or ``--batch-size`` used to fail deep inside torch
(or swap the machine to a halt). The estimate, from the model's config alone::

    bytes ≈ batch × Σ_streams (prompt_tokens(stream) + max_new_tokens) × 2 · layers · kv_heads · head_dim · dtype bytes
            + batch × streams × vocab × 4     (one step's float32 scores per stream)

is compared with the memory free on the model's device (``torch.cuda.mem_get_info`` on a GPU, ``MemAvailable``
on a CPU). It leaves out activations and the weights (already loaded), so it errs on the side of running.
"""
from __future__ import annotations

import torch


class MemoryBoundError(ValueError):
    """The run's KV caches would not fit in the memory free on its device."""


def kv_bytes_per_token(config, dtype: torch.dtype) -> int:
    """Bytes one token of one row takes in a KV cache of a model with ``config`` (keys and values, every layer).

    >>> from types import SimpleNamespace as C
    >>> kv_bytes_per_token(C(num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3, hidden_size=576),
    ...                    torch.float32)   # SmolLM2-135M: 30 layers, 3 KV heads of 64
    46080
    """
    cfg = getattr(config, "text_config", None) or config
    layers = _first(cfg, "num_hidden_layers", "n_layer", "num_layers")
    heads = _first(cfg, "num_attention_heads", "n_head", "num_heads")
    hidden = _first(cfg, "hidden_size", "n_embd", "d_model")
    kv_heads = _first(cfg, "num_key_value_heads", "num_kv_heads", "n_head_kv") or heads
    if getattr(cfg, "multi_query", False):  # Falcon-7B: one KV head
        kv_heads = 1
    head_dim = getattr(cfg, "head_dim", None) or hidden // heads
    return 2 * layers * kv_heads * head_dim * torch.finfo(dtype).bits // 8


def _first(cfg, *names: str) -> int:
    for name in names:
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return 0


def available_bytes(device: torch.device) -> int:
    """Memory free for new tensors on ``device`` (a GPU's free memory, or the machine's available RAM)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import psutil

    return int(psutil.virtual_memory().available)


def estimate_bytes(model, prompt_tokens: list[int], batch_size: int, max_new_tokens: int) -> int:
    """The estimate of the module docstring; ``prompt_tokens``: each stream's prompt length in tokens."""
    param = next(model.parameters())
    per_token = kv_bytes_per_token(model.config, param.dtype if param.is_floating_point() else torch.float32)
    vocab = int(getattr(getattr(model.config, "text_config", None) or model.config, "vocab_size", 0) or 0)
    kv = batch_size * sum(p + max_new_tokens for p in prompt_tokens) * per_token
    return kv + batch_size * len(prompt_tokens) * vocab * 4


def check_fits(model, prompt_tokens: list[int], batch_size: int, max_new_tokens: int,
               available: int | None = None) -> int:
    """The estimate in bytes, or MemoryBoundError when it exceeds the memory free on the model's device.

    >>> from types import SimpleNamespace as C
    >>> class M(torch.nn.Linear):
    ...     config = C(num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3, hidden_size=576,
    ...                vocab_size=49152)
    >>> check_fits(M(1, 1), [40, 40, 1064], batch_size=16, max_new_tokens=20000, available=24 * 2**30)
    Traceback (most recent call last):
    ...
    steer_lib.decoding.memory.MemoryBoundError: generating 16 rows × 3 stream(s) of up to 1064 prompt + 20000 new tokens needs about 42.0 GiB of KV cache and scores, but only 24.0 GiB is free on cpu; lower --max-new-tokens or --batch-size
    """
    need = estimate_bytes(model, prompt_tokens, batch_size, max_new_tokens)
    device = next(model.parameters()).device
    free = available_bytes(device) if available is None else available
    if need > free:
        raise MemoryBoundError(
            f"generating {batch_size} rows × {len(prompt_tokens)} stream(s) of up to {max(prompt_tokens)} prompt + "
            f"{max_new_tokens} new tokens needs about {need / 2**30:.1f} GiB of KV cache and scores, but only "
            f"{free / 2**30:.1f} GiB is free on {device}; lower --max-new-tokens or --batch-size")
    return need
