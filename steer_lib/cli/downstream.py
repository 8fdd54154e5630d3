"""``python -m steer_lib downstream``: train downstream models on real vs synthetic data.

    python -m steer_lib downstream --task comments|commonsense --profile P [--methods m ...]
                                   [--reference] [--reuse-generation] [--set key=value ...]
                                   [--no-write] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from ..config import check_profile, parse_sets
from ..downstream.common import DownstreamConfig, Embedder, embed_lookup, get_embedder  # noqa: F401 (API)
from ..downstream.mcqa import Question, mcqa_experiment, parse_questions, real_questions  # noqa: F401 (API)
from ..downstream.report import plot, records, reference_synthetic, save_outputs, summarise, to_markdown  # noqa: F401
from ..downstream.runner import CHANCE, check_task, run
from ..downstream.toxicity import CLASSES, REAL_METHOD, real_pools, toxicity_experiment  # noqa: F401 (API)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m steer_lib downstream", description=__doc__.split("\n")[0])
    p.add_argument("--task", required=True, help="comments | commonsense")
    p.add_argument("--profile", default="quick", help="smoke | quick | paper")
    p.add_argument("--methods", nargs="+", help="methods to compare (default: the profile's generation methods, "
                                                "or every released method with --reference)")
    p.add_argument("--reference", action="store_true",
                   help="use the authors' released Falcon-7B outputs as synthetic data (a set-up sanity check)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a DownstreamConfig setting (repeatable)")
    p.add_argument("--reuse-generation", action="store_true",
                   help="every seed trains on generation seed 0 (cheaper; the default except at paper)")
    p.add_argument("--base", default="", help="base model whose generations to use (default: the embedded one)")
    p.add_argument("--no-write", action="store_true", help="do not write results/ and figures/")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last stdout line")
    args = p.parse_args(argv)
    try:
        task, profile = check_task(args.task), check_profile(args.profile)
        cfg = DownstreamConfig.for_profile(profile, **parse_sets(args.set))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.time()
    df, paths = run(task, profile, methods=args.methods, reference=args.reference, cfg=cfg, write=not args.no_write,
                   vary_generation=False if args.reuse_generation else None, base_model=args.base)
    s = summarise(df)
    print(to_markdown(s))
    if df.attrs.get("zero_shot") is not None:
        print(f"zero-shot similarity baseline (no training): {df.attrs['zero_shot']:.3f}")
    if df.attrs.get("rejections"):
        print("rejected synthetic questions (all seeds):", json.dumps(df.attrs["rejections"]))
    for k, v in paths.items():
        print(f"wrote {k}: {v}")
    if args.json:
        cols = [c for c in s.columns if c.endswith(("_mean", "_sd"))] + ["method", "setting", "n_seeds", "n_train"]
        print(json.dumps({"task": task, "profile": profile, "source": df.attrs.get("source"),
                          "seconds": round(time.time() - t0, 1), "chance": CHANCE[task],
                          "zero_shot": df.attrs.get("zero_shot"),
                          "rows": records(s[cols].round(4)),
                          "paths": {k: str(v) for k, v in paths.items()}}))
    return 0
