"""``python -m steer_lib study``: the γ study (``make study``), resumable and shardable.

    python -m steer_lib study [--tasks hypotheses ...] [--set key=value ...] [--shard I/N] [--list] [--report]

Trains P_θ to its plateau (keeping checkpoints), generates every set of the design
(:mod:`steer_lib.experiments.study`), scores them and writes ``runs/study/study_<task>.json`` and
``figures/study/study_gamma_<task>.png``; then prints the conclusion, sentence by sentence.
"""
from __future__ import annotations

import argparse
import sys

from ..config import parse_sets


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard {text!r} is not of the form I/N (e.g. 1/4)") from None
    if not 1 <= i <= n:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: I must be between 1 and N")
    return i, n


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m steer_lib study", description=__doc__.split("\n")[0])
    p.add_argument("--tasks", nargs="+", help="tasks to run, in order (default: the StudyConfig's)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a StudyConfig setting")
    p.add_argument("--shard", type=_shard, default=(1, 1), help="run the I-th of N interleaved slices of the sets")
    p.add_argument("--list", action="store_true", help="list the sets (and which are done) without running anything")
    p.add_argument("--report", action="store_true", help="only score and summarise (every set must be done)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)

    from ..data.tasks import get_task
    from ..experiments import study
    from ..runtime import configure_threads

    try:
        overrides = parse_sets(args.set)
        if args.tasks:
            overrides["tasks"] = ",".join(get_task(t).name for t in args.tasks)
        cfg = study.StudyConfig().replace(**overrides)
        for t in cfg.tasks:
            get_task(t)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.list:
        from ..finetune.domain_model import adapter_dir, is_finished, read_record

        for t in cfg.tasks:
            path = adapter_dir(t, "quick", cfg.base_model or None, **cfg.finetune_overrides())
            final = read_record(path)["steps_trained"] if is_finished(path) else cfg.max_steps
            note = "" if is_finished(path) else f" (P_θ not trained yet: assuming it runs all {cfg.max_steps} updates)"
            print(f"{t}: P_θ {'trained, ' + str(final) + ' updates' if is_finished(path) else 'to train'}{note}")
            for k, s in enumerate(study.plan(cfg, final)):
                mine = k % args.shard[1] == args.shard[0] - 1
                done = study.is_complete(study.generation_file(t, s, cfg), cfg.n_samples)
                print(f"  {'done' if done else 'todo'}{'' if mine else ' (other shard)'}  step {s.step:>4}  {s.tag}")
        return 0
    configure_threads()
    try:
        done = study.run(cfg, shard=args.shard, progress=not args.no_progress, report_only=args.report)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for t in cfg.tasks:
        if t not in done:
            print(f"{t}: sets still to generate (other shards, or run again); no summary yet")
            continue
        print("\n".join(study.conclusion(done[t])))
        print(f"summary: {study.summary_file(t, cfg.base_model)}\nfigure: {study.figure_file(t, cfg.base_model)}")
    return 0
