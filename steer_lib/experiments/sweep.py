"""``python -m steer_lib sweep``: the γ×η ablation as papermill runs of notebook 03, one per grid point and seed.

Each point is one execution of ``notebooks/03_generate.ipynb`` (parameters injected: PROFILE,
TASK, METHOD=steer, GAMMA, ETA, SEED, N_SAMPLES, BASE_MODEL), which generates the set and scores it against
the real *training* pool (``experiment.evaluate_method``; the test numbers). The sweep then
scores the same set against the real *validation* split -- the numbers the reported STEER point
is chosen by (:func:`steer_lib.tables.select_point`), so that choice never looks at the test
numbers -- and writes one record per point::

    runs/<profile>/sweeps/<task>/points/<tag>.json      grid point, seed, n, every metric, val scores, timings
    runs/<profile>/sweeps/<task>/executed/<tag>.ipynb   the executed notebook (read it when a point fails)

(``runs/<profile>@<model>/…`` for a base model other than the embedded one: :func:`steer_lib.paths.scope`.)

A point whose record exists is skipped; a point whose metrics already exist (notebook 03 ran it
for the method comparison) is recorded without re-running. ``--jobs J`` runs J notebooks at once
with ``cores // J`` threads each. The command line and YAML files: :mod:`steer_lib.sweep_cli`.

    python -m steer_lib sweep --task hypotheses --gamma 0,0.3,0.6 --eta 0,0.3,0.6 --seeds 0 [--n 100] [--jobs 2]
    python -m steer_lib sweep -f configs/sweep_quick.yaml [--task commonsense]
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import pandas as pd

from .. import paths
from ..config import check_profile
from ..data.tasks import get_task
from ..files import read_jsonl, write_json
from ..locks import file_lock
from ..metrics.io import DIVERSITY_KEYS
from ..runtime import no_log

NOTEBOOK = "03_generate.ipynb"
VAL_KEYS = ("mauve", "mauve_sd", "adv_auroc", "cosine", "ngram3_real", "n")  # kept from the validation scoring


# ------------------------------------------------------------------ where a point lives
def _paths(task: str, gamma: float, eta: float, seed: int, profile: str, n: int,
           base_model: str = "") -> dict[str, Path]:
    from .experiment import generation_path, metrics_path

    gen = generation_path(task, "steer", profile=profile, seed=seed, gamma=gamma, eta=eta, n_samples=n,
                          base_model=base_model)
    base = paths.profile_runs_dir(profile, base_model) / "sweeps" / gen.parent.name
    p = {"generation": gen, "metrics": metrics_path(gen),
         "record": base / "points" / f"{gen.stem}.json", "notebook": base / "executed" / f"{gen.stem}.ipynb"}
    if gamma == 0 and eta > 0:
        # STEER at γ=0 *is* negative_only at the same η (same streams, same sampler, same seed: the
        # same samples, tested), so a point the method comparison already made is read, not redone.
        alt = generation_path(task, "negative_only", profile=profile, seed=seed, eta=eta, n_samples=n,
                              base_model=base_model)
        if metrics_path(alt).is_file() and not p["metrics"].is_file():
            p.update(generation=alt, metrics=metrics_path(alt))
    return p


def validation_scores(task: str, texts: list[str], *, seed: int, mauve_seeds: int) -> dict[str, Any]:
    """The selection metrics: the synthetic set against the real *validation* split (not the test reference)."""
    from ..metrics.evaluation import evaluate

    res = evaluate(texts, get_task(task).real_texts("val"), task=task, embedder=_embedder(), seed=seed,
                   mauve_seeds=mauve_seeds)
    return {k: res.get(k) for k in VAL_KEYS}


@lru_cache(maxsize=1)
def _embedder():
    """One sentence encoder for every point of a sweep (loading it per point costs more than scoring)."""
    from ..metrics.embeddings import as_embedder

    return as_embedder(None)


_SCORE_LOCK = threading.Lock()  # validation scoring runs in this process: one point at a time


def run_point(task: str, gamma: float, eta: float, seed: int, *, profile: str, n: int,
              threads: int | None = None, base_model: str = "") -> dict[str, Any]:
    """Run (or reuse) one grid point and return its record; the record's ``status`` says which.

    A lock file beside the record makes a second process asking for the same point wait for the first.
    """
    p = _paths(task, gamma, eta, seed, profile, n, base_model)
    if p["record"].is_file():
        return {**json.loads(p["record"].read_text(encoding="utf-8")), "status": "cached"}
    with file_lock(p["record"]):
        # Two sweeps of the same point: the second waits here, then reuses the record.
        if p["record"].is_file():
            return {**json.loads(p["record"].read_text(encoding="utf-8")), "status": "cached"}
        return _run_point_locked(task, gamma, eta, seed, profile=profile, n=n, threads=threads, p=p,
                                 base_model=base_model)


def _run_point_locked(task: str, gamma: float, eta: float, seed: int, *, profile: str, n: int,
                      threads: int | None, p: dict[str, Path], base_model: str = "") -> dict[str, Any]:
    from . import pipeline
    from .experiment import ExperimentConfig

    t0 = time.time()
    status = "reused"  # notebook 03 already made and scored this set (e.g. the method-comparison point)
    if not p["metrics"].is_file():
        params = {"PROFILE": profile, "TASK": get_task(task).name, "METHOD": "steer", "GAMMA": float(gamma),
                  "ETA": float(eta), "SEED": int(seed), "N_SAMPLES": int(n), "BASE_MODEL": base_model,
                  "PRIMER": False}  # the decoding primer is a lesson, not part of a grid point
        pipeline.execute(NOTEBOOK, params, p["notebook"], threads=threads)
        status = "ran"
    t_nb = time.time() - t0
    metrics = json.loads(p["metrics"].read_text(encoding="utf-8"))
    texts = [r["text"] for r in read_jsonl(p["generation"])][:n]
    t1 = time.time()
    with _SCORE_LOCK:
        val = validation_scores(task, texts, seed=seed,
                                mauve_seeds=ExperimentConfig.for_profile(profile).mauve_seeds)
    record = {"task": get_task(task).name, "profile": profile, "base_model": base_model, "gamma": float(gamma),
              "eta": float(eta),
              "seed": int(seed), "n_samples": len(texts), "status": status,
              "seconds": {"notebook": round(t_nb, 1), "validation": round(time.time() - t1, 1),
                          "metrics": (metrics.get("seconds") or {}).get("total")},
              "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "notebook": str(p["notebook"]) if status == "ran" else None,
              "metrics": metrics, "val": val}
    write_json(p["record"], record)  # atomic: a killed sweep never leaves a half-written record
    return record


def grid_points(gammas, etas, seeds) -> list[tuple[float, float, int]]:
    """Every (γ, η, seed), seeds outermost so a partial sweep covers the whole grid once before repeating.

    >>> grid_points([0, 0.6], [0], [0, 1])
    [(0.0, 0.0, 0), (0.6, 0.0, 0), (0.0, 0.0, 1), (0.6, 0.0, 1)]
    """
    return [(float(g), float(e), int(s)) for s in seeds for g in gammas for e in etas]


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` → ``(I, N)``: the I-th (counting from 1) of N slices of a sweep, for a job array.

    >>> parse_shard("2/4")
    (2, 4)
    >>> parse_shard("0/4")
    Traceback (most recent call last):
    ...
    ValueError: shard '0/4': I must be between 1 and N=4 (I counts from 1: --shard 1/4 is the first slice)
    """
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m:
        raise ValueError(f"shard {text!r}: expected I/N with whole numbers, e.g. 1/4 (the first of 4 slices)")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1:
        raise ValueError(f"shard {text!r}: N must be at least 1")
    if not 1 <= i <= n:
        raise ValueError(f"shard {text!r}: I must be between 1 and N={n} (I counts from 1: --shard 1/{n} "
                         "is the first slice)")
    return i, n


def sweep_plan(tasks, gammas, etas, seeds, shard: tuple[int, int] | None = None) -> list[tuple[str, float, float, int]]:
    """Every (task, γ, η, seed) of a sweep in run order; ``shard=(i, n)``: only its i-th of n interleaved slices.

    Slice i holds every n-th point starting at the i-th, so the slices are disjoint, cover the plan,
    differ in size by at most one, and each spans every task and seed (not one job per task).

    >>> sweep_plan(["a", "b"], [0, 1], [0], [0], shard=(1, 3))
    [('a', 0.0, 0.0, 0), ('b', 1.0, 0.0, 0)]
    """
    plan = [(t, g, e, s) for t in tasks for g, e, s in grid_points(gammas, etas, seeds)]
    if shard is None:
        return plan
    i, n = shard
    return plan[i - 1::n]


def run_sweep(task: str, gammas, etas, seeds, *, profile: str, n: int | None = None, jobs: int = 1,
              log: Callable[[str], None] = no_log, only=None, base_model: str = "") -> "pd.DataFrame":
    """Run every missing (γ, η, seed) of ``task``; return :func:`load_sweep`'s table of the whole grid.

    ``only``: the (γ, η, seed) points of this job (one slice of :func:`sweep_plan`); default every point.
    Points that fail are reported together at the end (``RuntimeError``), after the others finished.
    """
    from .experiment import ExperimentConfig
    from .sweep_config import SweepConfig

    cfg = SweepConfig(profile=profile, tasks=(task,), gammas=tuple(gammas), etas=tuple(etas), seeds=tuple(seeds),
                      n=n or 0, jobs=jobs).resolved()
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
    n_eff = cfg.n or ExperimentConfig.for_profile(profile).n_samples
    points = grid_points(cfg.gammas, cfg.etas, cfg.seeds)
    if only is not None:
        wanted = {(float(g), float(e), int(sd)) for g, e, sd in only}
        points = [pt for pt in points if pt in wanted]
    failures: list[str] = []
    t_all = time.time()

    def one(pt: tuple[float, float, int]) -> None:
        g, e, s = pt
        try:
            rec = run_point(task, g, e, s, profile=profile, n=n_eff, threads=threads, base_model=base_model)
        except Exception as exc:  # keep going: one bad point must not lose the others' work
            failures.append(f"γ={g:g} η={e:g} seed={s}: {exc}")
            log(f"[{time.time() - t_all:6.0f}s] FAILED {task} γ={g:g} η={e:g} seed={s}")
            return
        m = {k: rec["metrics"].get(k) for k in ("mauve", "adv_auroc", "ngram3")}
        shown = " ".join(f"{k}={'nan' if v is None else f'{v:.3f}'}" for k, v in m.items())  # NaN is stored as null
        log(f"[{time.time() - t_all:6.0f}s] {rec['status']:>6} {task} γ={g:g} η={e:g} seed={s} {shown} "
            f"({rec['seconds']['notebook']:.0f}s)")

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, points))
    log(f"sweep {task} ({profile}): {len(points)} points, {len(failures)} failed, {time.time() - t_all:.0f}s wall")
    if failures:
        raise RuntimeError(f"{len(failures)} sweep point(s) failed:\n" + "\n".join(failures))
    return load_sweep(task, profile, n=n_eff, base_model=base_model)


SCALAR_KEYS = ("n", "ngram3", "ngram3_real", "diversity", "diversity_real", "cosine", "cosine_centroid", "mauve",
               "mauve_sd", "adv_auroc", "adv_auroc_sd", "alpha_precision", "beta_recall", "validity",
               "duplicate_rate", *DIVERSITY_KEYS)  # DIVERSITY_KEYS holds mean_length


def load_sweep(task: str, profile: str, n: int | None = None, base_model: str = "") -> "pd.DataFrame":
    """Every recorded point of ``task`` (one row per γ, η, seed): metrics, ``val_*`` scores, seconds.

    ``n``: only points of that sample count (default: every recorded point).
    """
    import pandas as pd

    folder = paths.profile_runs_dir(check_profile(profile), base_model) / "sweeps" / get_task(task).name / "points"
    rows = []
    for f in sorted(folder.glob("*.json")):
        r = json.loads(f.read_text(encoding="utf-8"))
        if n and r["n_samples"] != n:
            continue
        m = r["metrics"]
        rows.append({"task": r["task"], "gamma": r["gamma"], "eta": r["eta"], "seed": r["seed"],
                     "n_samples": r["n_samples"], "status": r["status"],
                     "seconds": r["seconds"]["notebook"] + r["seconds"]["validation"],
                     **{k: m.get(k) for k in SCALAR_KEYS},
                     **{f"{k}_ci": m.get(f"{k}_ci") for k in ("cosine", "validity") if f"{k}_ci" in m},
                     **{f"val_{k}": v for k, v in r["val"].items()}})
    cols = ["task", "gamma", "eta", "seed", "n_samples", "status", "seconds", *SCALAR_KEYS]
    df = pd.DataFrame(rows, columns=None if rows else cols)
    floats = [k for k in df if k in SCALAR_KEYS or k.startswith("val_")]  # None (a NaN metric) → NaN
    return df.astype({k: float for k in floats}) if rows else df
