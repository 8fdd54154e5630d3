"""``python -m steer_lib sweep``: the sweep's settings (a YAML file and/or flags) and its command line.

The grid runner itself is :mod:`steer_lib.experiments.sweep`.

    python -m steer_lib sweep --task hypotheses --gamma 0,0.3,0.6 --eta 0,0.3,0.6 --seeds 0 [--n 100] [--jobs 2]
    python -m steer_lib sweep -f configs/sweep_quick.yaml [--task commonsense] [--list]
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..config import Config, check_profile
from ..data.tasks import get_task, task_names


@dataclasses.dataclass(frozen=True)
class SweepConfig(Config):
    profile: str = "quick"  # smoke | quick | paper: sample sizes, and the grid when none is given
    tasks: tuple[str, ...] = ()  # tasks to sweep; () = all four
    gammas: tuple[float, ...] = ()  # γ values; () = the profile's grid (ExperimentConfig.grid_gammas)
    etas: tuple[float, ...] = ()  # η values; () = the profile's grid (ExperimentConfig.grid_etas)
    seeds: tuple[int, ...] = ()  # generation seeds; () = the profile's seeds
    n: int = 0  # samples per point; 0 = the profile's n_samples
    jobs: int = 1  # grid points at once: worker processes that each keep P_θ loaded from point to point
    notebooks: bool = False  # run each point as a papermill execution of notebook 03 (one executed copy per point)
    base_model: str = ""  # "" = the embedded SmolLM2-135M; or any Hugging Face id / local folder

    def validate(self) -> None:
        check_profile(self.profile)
        for t in self.tasks:
            get_task(t)  # raises naming the unknown task
        for name in ("gammas", "etas"):
            bad = [v for v in getattr(self, name) if not (0 <= v < float("inf"))]  # also NaN and inf
            if bad:
                raise ValueError(f"{name}={bad!r}: γ and η must be finite and must not be negative")
        bad_seeds = [s for s in self.seeds if s < 0]
        if bad_seeds:
            raise ValueError(f"seeds={bad_seeds!r}: seeds must not be negative")
        if self.n < 0:
            raise ValueError(f"n={self.n!r} must not be negative (0 = the profile's size)")
        if self.jobs < 1:
            raise ValueError(f"jobs={self.jobs!r} must be at least 1")

    def resolved(self) -> "SweepConfig":
        """Empty fields filled from the profile (``ExperimentConfig``), so the record names every value."""
        from .experiment import ExperimentConfig

        exp = ExperimentConfig.for_profile(self.profile)
        return self.replace(tasks=self.tasks or tuple(task_names()), gammas=self.gammas or exp.grid_gammas,
                            etas=self.etas or exp.grid_etas, seeds=self.seeds or exp.seeds,
                            n=self.n or exp.n_samples)


def load_config(path: str | Path, **overrides: Any) -> SweepConfig:
    """A YAML sweep file (keys = :class:`SweepConfig` fields; ``task`` works for one task) plus overrides."""
    from ..files import read_yaml

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"sweep file {p}: no such file")
    try:
        raw = read_yaml(p, ValueError) or {}
    except UnicodeDecodeError as exc:
        raise ValueError(f"sweep file {p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"sweep file {p}: expected a mapping of settings, got {type(raw).__name__}")
    if "task" in raw:
        raw["tasks"] = raw.pop("task")
    clean: dict[str, Any] = {}
    for k, v in {**raw, **{k: v for k, v in overrides.items() if v not in (None, "", ())}}.items():
        if k in ("tasks", "gammas", "etas", "seeds") and not isinstance(v, str):
            v = tuple(v) if isinstance(v, (list, tuple)) else (v,)
        clean[k] = v
    try:
        return SweepConfig().replace(**clean)
    except ValueError as exc:
        raise ValueError(f"sweep file {p}: {exc}") from None
