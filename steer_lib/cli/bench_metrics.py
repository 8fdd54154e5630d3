"""``python -m steer_lib bench-metrics``: how long scoring 1,000 vs 1,000 texts takes, cold and warm.

The measurement is :func:`steer_lib.bench.metrics.run_bench_metrics` (its module lists every key).
"""
from __future__ import annotations

import argparse

from ..bench.metrics import run_bench_metrics


def cli(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m steer_lib bench-metrics", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="texts per side (default 1000, the target's size)")
    ap.add_argument("--embedder", help="sentence-transformers model name/path (default: all-MiniLM-L6-v2)")
    ap.add_argument("--mauve-seeds", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="end with one JSON line only (for scripts)")
    args = ap.parse_args(argv)
    from ..authors.outputs import load_reference, real_set
    from ..runtime import configure_threads
    from .bench import report

    configure_threads()
    res = run_bench_metrics(load_reference("hypotheses", "steer"), real_set("hypotheses"), n=args.n,
                            embedder_model=args.embedder, mauve_seeds=args.mauve_seeds)
    return report(res, args.json)
