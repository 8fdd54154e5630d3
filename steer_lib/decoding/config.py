"""``DecodingConfig``: the settings of one decoding method, with ``None`` = unset (the method's preset).

The one table of presets (:data:`PRESETS`) and the one rule that applies them: a setting the caller
gives is used as given — even when it equals some default (``top_k`` at ``temperature=1.0`` decodes at
1.0, not at top-k's preset 0.85); a setting left unset takes the method's preset.

>>> DecodingConfig.for_method("top_k", temperature=1.0).temperature
1.0
>>> DecodingConfig.for_method("nucleus", top_k=10).top_k
10
>>> DecodingConfig.for_method("nucleus").temperature
0.8
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from ..config import Config
from .logits_process import STEER_ETA, STEER_GAMMA, Temperature, TopK, TopP, check_nonneg, check_plausibility

METHODS = ("low_temperature", "beam", "top_k", "nucleus", "contrastive_search", "contrastive_decoding",
           "negative_only", "steer")
# STEER_GAMMA, STEER_ETA: STEER's default γ and η (0.2, the seed authors'), defined beside SteerCombine (this module
# imports logits_process, so the constants sit there) and used as the steer preset below; the experiments set their own.
PRESETS: dict[str, dict] = {  # per method, the settings an unset knob takes (and method-only settings)
    "steer": {"gamma": STEER_GAMMA, "eta": STEER_ETA, "top_k": 10, "top_p": None, "temperature": 1.0},
    "negative_only": {"gamma": 0.0, "eta": STEER_ETA, "top_k": 10, "top_p": None, "temperature": 1.0},
    "top_k": {"gamma": 0.0, "eta": 0.0, "top_k": 10, "temperature": 0.85, "top_p": None},
    "nucleus": {"gamma": 0.0, "eta": 0.0, "top_k": None, "top_p": 0.92, "temperature": 0.8},
    "low_temperature": {"gamma": 0.0, "eta": 0.0, "top_k": None, "temperature": 0.5, "top_p": None},
    "beam": {"gamma": 0.0, "eta": 0.0, "top_k": None, "temperature": 0.94, "num_beams": 3, "top_p": None},
    "contrastive_search": {"gamma": 0.0, "eta": 0.0, "top_k": 4, "penalty_alpha": 0.6, "top_p": None,
                           "temperature": 1.0},
    "contrastive_decoding": {"gamma": 0.0, "eta": 0.0, "top_k": None, "cd_alpha": 0.1, "cd_beta": 1.0,
                             "amateur_temperature": 0.5, "top_p": None, "temperature": 1.0},
}  # key order = the order of a record's params (so records of existing sets are unchanged byte for byte)
USES_GAMMA_ETA = {"steer": ("gamma", "eta"), "negative_only": ("eta",)}
KNOBS = ("gamma", "eta", "top_k", "top_p", "temperature", "plausibility")  # what a caller may set


@dataclass(frozen=True)
class DecodingConfig(Config):
    """One method's decoding settings; :meth:`for_method` fills the unset ones from :data:`PRESETS`."""

    method: str = "steer"  # one of METHODS
    gamma: float | None = None  # STEER's weight on P_θ − P_φ (None: the method's preset)
    eta: float | None = None  # weight on the negative prompt's log P_θ(·|N) (None: the method's preset)
    top_k: int | None = None  # keep the k best scores (None: the preset; after for_method, None = no top-k)
    top_p: float | None = None  # nucleus mass (None: the preset; after for_method, None = no top-p)
    temperature: float | None = None  # divides the scores before sampling (None: the method's preset)
    plausibility: float | None = None  # STEER's optional guard α (None: off; recorded only when set)

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def for_method(cls, method: str, **overrides: Any) -> "DecodingConfig":
        """The effective settings of ``method``: every key given is used as given (``top_k=None``: no top-k)."""
        if method not in METHODS:
            raise ValueError(f"method={method!r} is not one of {METHODS}")
        unknown = set(overrides) - set(KNOBS)
        if unknown:
            raise ValueError(f"unknown decoding setting(s) {sorted(unknown)}; valid: {', '.join(KNOBS)}")
        preset = PRESETS[method]
        for name in ("gamma", "eta"):
            if name in overrides and name not in USES_GAMMA_ETA.get(method, ()):
                # 0 (what the method uses) is fine, and so is STEER's default, which callers pass to every method
                if overrides[name] not in (None, preset[name], STEER_GAMMA if name == "gamma" else STEER_ETA):
                    raise ValueError(f"{name}={overrides[name]!r} has no effect with method={method!r}; "
                                     "only steer/negative_only use gamma and eta")
                del overrides[name]
        values = {k: overrides.get(k, preset.get(k)) for k in ("gamma", "eta", "top_k", "top_p", "temperature")}
        for name in ("gamma", "eta"):
            if values[name] is None:  # an unset γ / η is the preset's, never "off"
                values[name] = preset[name]
        if values["temperature"] is None:
            values["temperature"] = preset["temperature"]
        cfg = dataclasses.replace(cls(method=method), **values, plausibility=overrides.get("plausibility"))
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r} is not one of {METHODS}")
        for name in ("gamma", "eta"):
            if getattr(self, name) is not None:
                check_nonneg(name, getattr(self, name))
        alpha = check_plausibility(self.plausibility)
        if alpha is not None and self.method not in USES_GAMMA_ETA:
            raise ValueError(f"plausibility={alpha!r} has no effect with method={self.method!r}; "
                             "only steer/negative_only take the plausibility guard")
        TopK(self.top_k), TopP(self.top_p)
        if self.temperature is not None:
            Temperature(self.temperature)

    def params(self) -> dict:
        """The effective settings as records hold them (``params``): the preset's keys in its order, the
        method-only settings (``num_beams``, ``cd_alpha`` …) included; ``plausibility`` only when set."""
        out = {k: getattr(self, k) if k in KNOBS else v for k, v in PRESETS[self.method].items()}
        if self.plausibility is not None:  # recorded only when set: unguarded sets keep their records and keys
            out["plausibility"] = self.plausibility
        return out
