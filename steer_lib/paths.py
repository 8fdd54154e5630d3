"""Where the kit reads and writes. Every location can be moved with an environment variable.

- ``STEER_ROOT``  the project folder (default: the checkout holding ``steer_lib``, else the cwd)
- ``STEER_DATA``  real data (default ``<root>/data/raw``)
- ``STEER_RUNS``  adapters, generations, metrics (default ``<root>/runs``)
- ``STEER_CACHE`` converted models and embeddings shared across projects (default ``~/.cache/steer-kit``)
"""
from __future__ import annotations

import os
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


def figures_dir(profile: str) -> Path:
    return root() / "figures" / profile


def results_dir(profile: str) -> Path:
    return root() / "results" / profile


def package_file(name: str) -> Path:
    return _PKG / name
