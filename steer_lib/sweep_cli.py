"""``python -m steer_lib sweep``: the sweep's settings (a YAML file and/or flags) and its command line.

The grid runner itself is :mod:`steer_lib.sweep`.

    python -m steer_lib sweep --task hypotheses --gamma 0,0.3,0.6 --eta 0,0.3,0.6 --seeds 0 [--n 100] [--jobs 2]
    python -m steer_lib sweep -f configs/sweep_quick.yaml [--task commonsense] [--list]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

from . import paths
from .config import PROFILES, Config, check_profile
from .sweep import _paths, grid_points, run_sweep
from .tasks import get_task, task_names


@dataclasses.dataclass(frozen=True)
class SweepConfig(Config):
    profile: str = "quick"  # smoke | quick | paper: sample sizes, and the grid when none is given
    tasks: tuple[str, ...] = ()  # tasks to sweep; () = all four
    gammas: tuple[float, ...] = ()  # γ values; () = the profile's grid (ExperimentConfig.grid_gammas)
    etas: tuple[float, ...] = ()  # η values; () = the profile's grid (ExperimentConfig.grid_etas)
    seeds: tuple[int, ...] = ()  # generation seeds; () = the profile's seeds
    n: int = 0  # samples per point; 0 = the profile's n_samples
    jobs: int = 1  # grid points executed in parallel processes

    def validate(self) -> None:
        check_profile(self.profile)
        for t in self.tasks:
            get_task(t)  # raises naming the unknown task
        for name in ("gammas", "etas"):
            bad = [v for v in getattr(self, name) if v < 0]
            if bad:
                raise ValueError(f"{name}={bad!r}: γ and η must not be negative")
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
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"sweep file {p}: no such file")
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
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


def cli(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m steer_lib sweep", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-f", "--file", help="YAML sweep file (e.g. configs/sweep_quick.yaml); flags override it")
    ap.add_argument("--profile", choices=PROFILES, help="default quick (or the file's)")
    ap.add_argument("--task", action="append", help="task (repeat or comma-separate); default all four")
    ap.add_argument("--gamma", help="comma-separated γ values, e.g. 0,0.3,0.6 (default: the profile's grid)")
    ap.add_argument("--eta", help="comma-separated η values (default: the profile's grid)")
    ap.add_argument("--seeds", help="comma-separated seeds (default: the profile's)")
    ap.add_argument("--n", type=int, help="samples per point (default: the profile's n_samples)")
    ap.add_argument("--jobs", type=int, help="points run in parallel processes (default 1)")
    ap.add_argument("--list", action="store_true", help="print the points and whether each is done; run nothing")
    a = ap.parse_args(argv)
    flags = {"profile": a.profile, "tasks": ",".join(a.task) if a.task else None, "gammas": a.gamma,
             "etas": a.eta, "seeds": a.seeds, "n": a.n, "jobs": a.jobs}
    try:
        cfg = load_config(a.file, **flags) if a.file else SweepConfig().replace(
            **{k: v for k, v in flags.items() if v is not None})
        cfg = cfg.resolved()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from .runtime import configure_threads

    configure_threads()
    if a.list:
        for t in cfg.tasks:
            for g, e, s in grid_points(cfg.gammas, cfg.etas, cfg.seeds):
                done = _paths(t, g, e, s, cfg.profile, cfg.n)["record"].is_file()
                print(f"{t:<18} γ={g:<4g} η={e:<4g} seed={s}  {'done' if done else 'to run'}")
        return 0
    t0, failed = time.time(), 0
    for t in cfg.tasks:
        try:
            run_sweep(t, cfg.gammas, cfg.etas, cfg.seeds, profile=cfg.profile, n=cfg.n, jobs=cfg.jobs)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    print(f"sweep: {len(cfg.tasks)} task(s), {time.time() - t0:.0f}s wall; records under "
          f"{paths.runs_dir() / cfg.profile / 'sweeps'}")
    return 1 if failed else 0
