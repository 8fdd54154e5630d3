"""Where the kit reads and writes. Every location can be moved with an environment variable.

- ``STEER_ROOT``  the project folder (default: the checkout holding ``steer_lib``, else the cwd)
- ``STEER_DATA``  real data (default ``<root>/data/raw``)
- ``STEER_RUNS``  adapters, generations, metrics (default ``<root>/runs``)
- ``STEER_CACHE`` converted models and embeddings shared across projects (default ``~/.cache/steer-kit``)
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def root() -> Path:
    if "STEER_ROOT" in os.environ:
        return Path(os.environ["STEER_ROOT"]).resolve()
    # An editable install / checkout: the package sits next to pyproject.toml.
    if (_PKG.parent / "pyproject.toml").exists():
        return _PKG.parent
    return Path.cwd()


def data_dir() -> Path:
    return Path(os.environ.get("STEER_DATA", root() / "data" / "raw"))


def runs_dir() -> Path:
    return Path(os.environ.get("STEER_RUNS", root() / "runs"))


def cache_dir() -> Path:
    return Path(os.environ.get("STEER_CACHE", Path.home() / ".cache" / "steer-kit"))


def slug(model_id: str) -> str:
    """A folder name for a model id or path: its last part plus a short hash, so two models never share one.

    >>> slug("tiiuae/falcon-7b")
    'falcon-7b-4782e2ac'
    """
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model_id.rstrip("/")).name).strip("-") or "model"
    return f"{base}-{hashlib.sha256(model_id.encode()).hexdigest()[:8]}"


def scope(profile: str, base_model: str | None = "") -> str:
    """The folder name of one profile's outputs from one base model.

    The embedded default model keeps the plain profile name (``quick``), so its results stay where they always
    were; any other base model gets its own (``quick@falcon-7b-4782e2ac``), so two models' results never mix and
    can sit side by side.

    >>> scope("quick"), scope("quick", "tiiuae/falcon-7b")
    ('quick', 'quick@falcon-7b-4782e2ac')
    """
    return f"{profile}@{slug(base_model)}" if base_model else profile


def profile_runs_dir(profile: str, base_model: str | None = "") -> Path:
    """``runs/<scope>``: the generations, metrics, sweeps and executed notebooks of a profile and base model."""
    return runs_dir() / scope(profile, base_model)


def figures_dir(profile: str, base_model: str | None = "") -> Path:
    return root() / "figures" / scope(profile, base_model)


def results_dir(profile: str, base_model: str | None = "") -> Path:
    return root() / "results" / scope(profile, base_model)


def package_file(name: str) -> Path:
    return _PKG / name
