"""``python -m steer_lib sweep``: the γ×η ablation, one STEER set per grid point and seed.

Each point is what notebook 03 does for one method, as library calls (:func:`generate_point`): generate the set
(``experiment.synthetic_records``) and score it against the real *training* pool (``experiment.evaluate_method``;
the test numbers). P_θ is loaded once per process and kept for the next point: with ``--jobs 1`` in the calling
process, with ``--jobs J`` in J worker processes (``cores // J`` threads each). Loading P_θ once per point was the
cost of the notebook form -- 108 loads per task at ``paper``. The sweep then scores the same set against the real
*validation* split -- the numbers the reported STEER point is chosen by
(:func:`steer_lib.experiments.selection.select_point`), so that choice never looks at the test numbers -- and writes
one record per point::

    runs/<profile>/sweeps/<task>/points/<tag>.json      grid point, seed, n, every metric, val scores, timings

``--notebooks`` keeps the older form, one papermill execution of ``notebooks/03_generate.ipynb`` per point
(parameters injected: PROFILE, TASK, METHOD=steer, GAMMA, ETA, SEED, N_SAMPLES, BASE_MODEL), for readers who want an
executed notebook per point; the copies go to ``runs/<profile>/sweeps/<task>/executed/<tag>.ipynb``. Both forms
write the same sets and records (a point is the same library calls either way).

(``runs/<profile>@<model>/…`` for a base model other than the embedded one: :func:`steer_lib.paths.scope`.)

A point whose record exists is skipped; a point whose metrics already exist (notebook 03 ran it
for the method comparison) is recorded without re-running. The command line and YAML files:
:mod:`steer_lib.cli.sweep`.

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
from ..metrics.keys import DIVERSITY_KEYS
from ..runtime import no_log

NOTEBOOK = "03_generate.ipynb"
VAL_KEYS = ("mauve", "mauve_sd", "adv_auroc", "cosine", "ngram3_real", "n")  # kept from the validation scoring


# ------------------------------------------------------------------ where a point lives
def point_paths(task: str, gamma: float, eta: float, seed: int, profile: str, n: int,
                base_model: str = "") -> dict[str, Path]:
    """Where one sweep point's files live: its ``generation``, ``metrics``, ``record`` and executed ``notebook``."""
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


def generate_point(task: str, gamma: float, eta: float, seed: int, *, profile: str, n: int,
                   base_model: str = "") -> None:
    """Notebook 03's work for one grid point, as library calls: the STEER set (generated or resumed) and its metrics.

    P_θ comes from ``experiment``'s in-process cache, so the next point of the same task reuses the loaded model.
    """
    from .experiment import evaluate_method, synthetic_records

    knobs = {"gamma": float(gamma), "eta": float(eta), "n_samples": int(n), "base_model": base_model}
    synthetic_records(task, "steer", profile=profile, seed=int(seed), **knobs)
    evaluate_method(task, "steer", profile=profile, seed=int(seed), **knobs)


def _models_loaded() -> int:
    """How many times this process has loaded P_θ so far (the experiment module's cache misses)."""
    from .experiment import cached_domain_model

    return cached_domain_model.cache_info().misses


def run_point(task: str, gamma: float, eta: float, seed: int, *, profile: str, n: int,
              threads: int | None = None, base_model: str = "", notebooks: bool = False) -> dict[str, Any]:
    """Run (or reuse) one grid point and return its record; the record's ``status`` says which.

    ``notebooks``: run the point as a papermill execution of notebook 03 (``threads`` threads) instead of library
    calls in this process. A lock file beside the record makes a second process asking for the same point wait.
    """
    p = point_paths(task, gamma, eta, seed, profile, n, base_model)
    if p["record"].is_file():
        return {**json.loads(p["record"].read_text(encoding="utf-8")), "status": "cached"}
    with file_lock(p["record"]):
        # Two sweeps of the same point: the second waits here, then reuses the record.
        if p["record"].is_file():
            return {**json.loads(p["record"].read_text(encoding="utf-8")), "status": "cached"}
        return _run_point_locked(task, gamma, eta, seed, profile=profile, n=n, threads=threads, p=p,
                                 base_model=base_model, notebooks=notebooks)


def _run_point_locked(task: str, gamma: float, eta: float, seed: int, *, profile: str, n: int,
                      threads: int | None, p: dict[str, Path], base_model: str = "",
                      notebooks: bool = False) -> dict[str, Any]:
    from . import pipeline
    from .experiment import ExperimentConfig

    t0 = time.time()
    loads = _models_loaded()
    status = "reused"  # notebook 03 already made and scored this set (e.g. the method-comparison point)
    if not p["metrics"].is_file():
        if notebooks:
            params = {"PROFILE": profile, "TASK": get_task(task).name, "METHOD": "steer", "GAMMA": float(gamma),
                      "ETA": float(eta), "SEED": int(seed), "N_SAMPLES": int(n), "BASE_MODEL": base_model,
                      "PRIMER": False}  # the decoding primer is a lesson, not part of a grid point
            pipeline.execute(NOTEBOOK, params, p["notebook"], threads=threads)
        else:
            generate_point(task, gamma, eta, seed, profile=profile, n=n, base_model=base_model)
        status = "ran"
    t_point = time.time() - t0
    metrics = json.loads(p["metrics"].read_text(encoding="utf-8"))
    texts = [r["text"] for r in read_jsonl(p["generation"])][:n]
    t1 = time.time()
    with _SCORE_LOCK:
        val = validation_scores(task, texts, seed=seed,
                                mauve_seeds=ExperimentConfig.for_profile(profile).mauve_seeds)
    record = {"task": get_task(task).name, "profile": profile, "base_model": base_model, "gamma": float(gamma),
              "eta": float(eta),
              "seed": int(seed), "n_samples": len(texts), "status": status,
              # point: generating and scoring the set (a notebook's whole execution with --notebooks)
              "seconds": {"point": round(t_point, 1), "validation": round(time.time() - t1, 1),
                          "metrics": (metrics.get("seconds") or {}).get("total")},
              "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "runner": "notebook" if notebooks else "library",
              "notebook": str(p["notebook"]) if status == "ran" and notebooks else None,
              # where the point ran, and whether it had to load P_θ there (False: a previous point's model was kept)
              "pid": os.getpid(), "loaded_model": None if notebooks or status != "ran" else _models_loaded() > loads,
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


def _init_worker(threads: int | None) -> None:
    """A sweep worker process: its share of the cores (torch's pool; OpenMP children read the variables)."""
    from ..runtime import configure_threads

    if threads:
        os.environ.update(STEER_THREADS=str(threads), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    configure_threads(threads)


def _worker_point(args: tuple) -> dict[str, Any]:
    """One point in a worker process (top level, so a spawned process can import it)."""
    task, g, e, s, kw = args
    return run_point(task, g, e, s, **kw)


def run_sweep(task: str, gammas, etas, seeds, *, profile: str, n: int | None = None, jobs: int = 1,
              log: Callable[[str], None] = no_log, only=None, base_model: str = "",
              notebooks: bool = False) -> "pd.DataFrame":
    """Run every missing (γ, η, seed) of ``task``; return :func:`load_sweep`'s table of the whole grid.

    ``only``: the (γ, η, seed) points of this job (one slice of :func:`sweep_plan`); default every point.
    ``jobs``: points at once -- library calls in this process when 1, else ``jobs`` worker processes that each keep
    their P_θ loaded from point to point. ``notebooks``: each point is a papermill run of notebook 03 instead.
    Points that fail are reported together at the end (``RuntimeError``), after the others finished.
    """
    from .experiment import ExperimentConfig
    from .sweep_config import SweepConfig

    cfg = SweepConfig(profile=profile, tasks=(task,), gammas=tuple(gammas), etas=tuple(etas), seeds=tuple(seeds),
                      n=n or 0, jobs=jobs, notebooks=notebooks).resolved()
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
    n_eff = cfg.n or ExperimentConfig.for_profile(profile).n_samples
    points = grid_points(cfg.gammas, cfg.etas, cfg.seeds)
    if only is not None:
        wanted = {(float(g), float(e), int(sd)) for g, e, sd in only}
        points = [pt for pt in points if pt in wanted]
    failures: list[str] = []
    t_all = time.time()

    kw = {"profile": profile, "n": n_eff, "base_model": base_model, "notebooks": notebooks,
          "threads": threads if notebooks else None}

    def report(pt: tuple[float, float, int], run: Callable[[], dict[str, Any]]) -> None:
        g, e, s = pt
        try:
            rec = run()
        except Exception as exc:  # keep going: one bad point must not lose the others' work
            failures.append(f"γ={g:g} η={e:g} seed={s}: {exc}")
            log(f"[{time.time() - t_all:6.0f}s] FAILED {task} γ={g:g} η={e:g} seed={s}")
            return
        m = {k: rec["metrics"].get(k) for k in ("mauve", "adv_auroc", "ngram3")}
        shown = " ".join(f"{k}={'nan' if v is None else f'{v:.3f}'}" for k, v in m.items())  # NaN is stored as null
        log(f"[{time.time() - t_all:6.0f}s] {rec['status']:>6} {task} γ={g:g} η={e:g} seed={s} {shown} "
            f"({_point_seconds(rec['seconds']):.0f}s)")

    if notebooks or jobs == 1:
        # each notebook is its own process already (threads only wait on it); jobs=1 runs here, keeping P_θ
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(lambda pt: report(pt, lambda: run_point(task, *pt, **kw)), points))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: a forked copy of a process that has started torch's (or a kernel's) threads can hang
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_init_worker, initargs=(threads,)) as pool:
            futures = {pt: pool.submit(_worker_point, (task, *pt, kw)) for pt in points}
            for pt, fut in futures.items():
                report(pt, fut.result)
    log(f"sweep {task} ({profile}): {len(points)} points, {len(failures)} failed, {time.time() - t_all:.0f}s wall")
    if failures:
        raise RuntimeError(f"{len(failures)} sweep point(s) failed:\n" + "\n".join(failures))
    return load_sweep(task, profile, n=n_eff, base_model=base_model)


def _point_seconds(seconds: dict[str, Any]) -> float:
    """A record's seconds for making the set ("notebook" in records written before the library runner)."""
    return seconds["point"] if "point" in seconds else seconds["notebook"]


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
                     "seconds": _point_seconds(r["seconds"]) + r["seconds"]["validation"],
                     **{k: m.get(k) for k in SCALAR_KEYS},
                     **{f"{k}_ci": m.get(f"{k}_ci") for k in ("cosine", "validity") if f"{k}_ci" in m},
                     **{f"val_{k}": v for k, v in r["val"].items()}})
    cols = ["task", "gamma", "eta", "seed", "n_samples", "status", "seconds", *SCALAR_KEYS]
    df = pd.DataFrame(rows, columns=None if rows else cols)
    floats = [k for k in df if k in SCALAR_KEYS or k.startswith("val_")]  # None (a NaN metric) → NaN
    return df.astype({k: float for k in floats}) if rows else df
