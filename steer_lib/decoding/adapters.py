"""PEFT adapters as the engine sees them: is a model a PEFT wrapper, and which adapter is active.

P_θ is the PEFT model with its adapter on; P_φ is the same weights with the adapter off
(``"__base__"`` in a mixed-adapter batch, ``disable_adapter()`` elsewhere).
"""
from __future__ import annotations

BASE = "__base__"  # peft's adapter name for "no adapter" in a mixed-adapter batch (adapter_names=[...])


def is_peft(model) -> bool:
    """Whether ``model`` is a PEFT wrapper whose adapter can be switched off (P_φ = the same weights, adapter off)."""
    return hasattr(model, "peft_config") and hasattr(model, "disable_adapter")


def active_adapter(model) -> str:
    """The name of a PEFT model's active adapter (the first one when several are active)."""
    a = model.active_adapter
    return a if isinstance(a, str) else a[0]
