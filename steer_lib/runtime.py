"""Device, seed and thread choices: made once, here, for the whole kit.

Every notebook and command calls :func:`resolve_device` and :func:`set_seed`
from this module, so "which device am I on" and "is this run reproducible"
have exactly one answer each.
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

_VALID_DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto"`` into the best available device (cuda → mps → cpu).

    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("auto").type in {"cpu", "cuda", "mps"}
    True
    """
    if isinstance(device, torch.device):
        return device
    device = (device or "auto").lower()
    base = device.split(":")[0]
    if base not in _VALID_DEVICES:
        raise ValueError(f"device={device!r} is not one of {_VALID_DEVICES} (optionally 'cuda:N')")
    if base == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available on this machine")
    return torch.device(device)


def set_seed(seed: int) -> torch.Generator:
    """Seed python, numpy and torch (all devices); return a CPU generator seeded the same.

    The returned generator is what sampling code should draw from, so a run's
    randomness does not depend on how many other torch ops ran before it.

    >>> g = set_seed(0); a = torch.rand(2, generator=g)
    >>> g = set_seed(0); bool((a == torch.rand(2, generator=g)).all())
    True
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def default_dtype(device: torch.device) -> torch.dtype:
    """bf16 on CUDA that supports it (fp16 otherwise); fp32 on CPU/MPS, where half precision is slow or lossy."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def configure_threads(n: int | None = None) -> int:
    """Use every physical core for torch's intra-op pool unless the user pinned it.

    Respects ``OMP_NUM_THREADS``/``STEER_THREADS`` so parallel sweep workers can
    split the machine between them instead of oversubscribing it.
    """
    n = n or int(os.environ.get("STEER_THREADS", 0)) or int(os.environ.get("OMP_NUM_THREADS", 0)) or (os.cpu_count() or 1)
    torch.set_num_threads(max(1, n))
    return torch.get_num_threads()


def describe(device: torch.device) -> str:
    """One line saying what hardware a run is on and which profile is realistic there."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"cuda ({name}, {default_dtype(device)}): every profile, including 'paper', is realistic"
    if device.type == "mps":
        return "mps (Apple GPU, fp32): 'quick' is realistic; 'paper' will take many hours"
    return f"cpu ({torch.get_num_threads()} threads, fp32): 'smoke' and 'quick' are realistic; 'paper' needs a GPU"


def no_log(line: str) -> None:
    """The default ``log`` callback of long-running library calls: drop the line.

    Library code never prints; the command line and the notebooks pass ``print`` (or their own logger).
    """


def progress_bar(*args, disable: bool | None = False, **kwargs):
    """The kit's one progress bar: tqdm.auto's (a widget in Jupyter, text in a terminal), off when the run is
    headless (``TQDM_DISABLE`` set, as ``reproduce`` sets it for the notebooks it executes).

    tqdm reads ``TQDM_DISABLE`` itself, but its notebook bar overrides it with its own ``disable=False``, and an
    executed copy would then keep a frozen "0%|" widget. Arguments are tqdm's.

    >>> os.environ["TQDM_DISABLE"] = "1"; progress_bar(total=3).disable; del os.environ["TQDM_DISABLE"]
    True
    """
    from tqdm.auto import tqdm

    if os.environ.get("TQDM_DISABLE", "").strip().lower() in {"1", "true", "yes"}:
        disable = True
    return tqdm(*args, disable=disable, **kwargs)
