"""``python -m steer_lib sweep``: the γ×η ablation from a YAML file and/or flags.

    python -m steer_lib sweep --task hypotheses --gamma 0,0.3,0.6 --eta 0,0.3,0.6 --seeds 0 [--n 100] [--jobs 2]
    python -m steer_lib sweep -f configs/sweep_quick.yaml [--task commonsense] [--list]
    python -m steer_lib sweep -f configs/sweep_paper.yaml --shard 3/8   # job 3 of an array of 8
    python -m steer_lib sweep --task hypotheses --notebooks              # an executed notebook 03 per point

The settings are :class:`steer_lib.experiments.SweepConfig`; the grid runner is :mod:`steer_lib.experiments.sweep`.
"""
from __future__ import annotations

import argparse
import sys
import time

from .. import paths
from ..config import PROFILES
from ..experiments.sweep import parse_shard, point_paths, run_sweep, sweep_plan
from ..experiments.sweep_config import SweepConfig, load_config


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
    ap.add_argument("--jobs", type=int,
                    help="points at once, in worker processes that keep the model loaded (default 1)")
    ap.add_argument("--notebooks", action="store_true", default=None,
                    help="run each point as a papermill execution of notebook 03 (an executed copy per point; "
                         "reloads the model every point)")
    ap.add_argument("--base", help="base model P_φ: a Hugging Face id or local folder (default: the embedded one)")
    ap.add_argument("--list", action="store_true", help="print the points and whether each is done; run nothing")
    ap.add_argument("--shard", metavar="I/N", help="run only the I-th of N interleaved slices of the points "
                    "(I from 1; for a job array, e.g. --shard $SLURM_ARRAY_TASK_ID/8 with --array=1-8)")
    a = ap.parse_args(argv)
    flags = {"profile": a.profile, "tasks": ",".join(a.task) if a.task else None, "gammas": a.gamma,
             "etas": a.eta, "seeds": a.seeds, "n": a.n, "jobs": a.jobs, "base_model": a.base,
             "notebooks": a.notebooks}
    try:
        cfg = load_config(a.file, **flags) if a.file else SweepConfig().replace(
            **{k: v for k, v in flags.items() if v is not None})
        cfg = cfg.resolved()
        shard = parse_shard(a.shard) if a.shard is not None else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from ..runtime import configure_threads

    configure_threads()
    plan = sweep_plan(cfg.tasks, cfg.gammas, cfg.etas, cfg.seeds, shard=shard)
    if shard:
        total = len(sweep_plan(cfg.tasks, cfg.gammas, cfg.etas, cfg.seeds))
        print(f"shard {shard[0]}/{shard[1]}: {len(plan)} of {total} point(s)", flush=True)
    if a.list:
        for t, g, e, s in plan:
            done = point_paths(t, g, e, s, cfg.profile, cfg.n, cfg.base_model)["record"].is_file()
            print(f"{t:<18} γ={g:<4g} η={e:<4g} seed={s}  {'done' if done else 'to run'}")
        return 0
    t0, failed = time.time(), 0
    for t in dict.fromkeys(task for task, *_ in plan):  # the tasks this job has points of, in order
        try:
            run_sweep(t, cfg.gammas, cfg.etas, cfg.seeds, profile=cfg.profile, n=cfg.n, jobs=cfg.jobs,
                      only=[pt for task, *pt in plan if task == t] if shard else None,
                      log=lambda line: print(line, flush=True),  # flushed: a sweep log is often tailed
                      base_model=cfg.base_model, notebooks=cfg.notebooks)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    print(f"sweep: {len(cfg.tasks)} task(s), {len(plan)} point(s), {time.time() - t0:.0f}s wall; records under "
          f"{paths.profile_runs_dir(cfg.profile, cfg.base_model) / 'sweeps'}")
    return 1 if failed else 0
