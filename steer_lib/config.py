"""The kit's one config type: a typed dataclass with per-profile defaults and a stable hash.

Every stage (fine-tuning, generation, sweeps, downstream) declares its settings as a
subclass of :class:`Config` with commented defaults. Profiles are named override sets:

- ``smoke``: CI-sized, minutes on a 2-core CPU;
- ``quick``: the README's main job on a laptop CPU;
- ``paper``: the paper's sizes, for a GPU.

The hash of a config names the folder its results are cached in, so changing any
setting re-runs exactly the work that depends on it.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Demo(Config):
...     steps: int = 10  # optimisation steps
...     lr: float = 1e-3  # learning rate
...     PROFILES = {"smoke": {"steps": 2}}
>>> Demo.for_profile("smoke", lr="0.5")
Demo(steps=2, lr=0.5)
>>> Demo().replace(step=3)
Traceback (most recent call last):
...
ValueError: Demo has no setting 'step'; valid settings: steps, lr
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from typing import Any, ClassVar

PROFILES = ("smoke", "quick", "paper")


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is not one of {PROFILES}")
    return profile


def _coerce(value: Any, typ: Any, name: str) -> Any:
    """Turn CLI strings into the field's type (``"1e-3"`` → 1e-3, ``"true"`` → True, ``"null"`` → None)."""
    if not isinstance(value, str):
        return value
    is_union = typing.get_origin(typ) in (typing.Union, types.UnionType)
    args = typing.get_args(typ) if is_union else (typ,)
    if value.lower() in ("none", "null") and type(None) in args:
        return None
    candidates = [a for a in args if a is not type(None)]
    for t in candidates:
        try:
            if t is bool:
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            if t in (int, float, str):
                return t(value)
            if typing.get_origin(t) in (tuple, list):
                inner = (typing.get_args(t) or (str,))[0]
                return tuple(_coerce(v.strip(), inner, name) for v in value.split(",") if v.strip())
        except ValueError:
            continue
    raise ValueError(f"setting {name}={value!r} cannot be read as {typ}")


@dataclasses.dataclass(frozen=True)
class Config:
    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def for_profile(cls, profile: str = "quick", **overrides: Any):
        check_profile(profile)
        return cls().replace(**{**cls.PROFILES.get(profile, {}), **overrides})

    def replace(self, **overrides: Any):
        hints = typing.get_type_hints(type(self))
        fields = {f.name for f in dataclasses.fields(self)}
        clean = {}
        for k, v in overrides.items():
            if k not in fields:
                raise ValueError(f"{type(self).__name__} has no setting {k!r}; valid settings: {', '.join(fields_in_order(self))}")
            clean[k] = _coerce(v, hints[k], k)
        new = dataclasses.replace(self, **clean)
        new.validate()
        return new

    def validate(self) -> None:
        """Subclasses raise ValueError naming the setting and value that is out of range."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def hash(self, n: int = 12) -> str:
        blob = json.dumps({"type": type(self).__name__, **self.to_dict()}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:n]


def fields_in_order(cfg: Config) -> list[str]:
    return [f.name for f in dataclasses.fields(cfg)]


def parse_sets(items: list[str] | None) -> dict[str, str]:
    """``["lr=1e-3", "steps=20"]`` (from ``--set``) → ``{"lr": "1e-3", "steps": "20"}``."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--set {item!r} is not of the form key=value")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out
