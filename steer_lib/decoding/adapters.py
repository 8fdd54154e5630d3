"""PEFT adapters as the decoders see them: P_θ is the PEFT model with its adapter on, P_φ the same weights with it off.

The one implementation lives in :mod:`steer_lib.models` (a lower stage, so fine-tuning and the metrics use it too);
this module gives decoding its names for it and the one rule for which model and adapter run P_φ in the engine:
:func:`base_stream` (``"__base__"`` in a mixed-adapter batch, :class:`~steer_lib.models.PhiView` elsewhere).
"""
from __future__ import annotations

from ..models import BASE, PhiView, active_adapter, adapter_layers, adapter_of, base_view, is_peft

__all__ = ["BASE", "PhiView", "active_adapter", "adapter_layers", "adapter_of", "base_stream", "base_view", "is_peft"]


def base_stream(model, base_model=None) -> tuple[object, str | None] | None:
    """``(model, adapter)`` that runs P_φ as an engine stream, or ``None`` when ``model`` has no adapter to switch off.

    A separate ``base_model`` runs as it is (its own active adapter, if PEFT); a PEFT ``model`` runs its rows
    with peft's "no adapter" name :data:`BASE` in the same forward as P_θ; a model with LoRA layers but no
    PEFT wrapper (inside ``custom_generate``) runs as a :class:`~steer_lib.models.PhiView` group of its own.
    """
    if base_model is not None:
        return base_model, adapter_of(base_model)
    if is_peft(model):
        return model, BASE
    if adapter_layers(model):
        return PhiView(model), None
    return None
