"""``python -m steer_lib gpu-check``: the GPU code paths on random-weight models; one JSON line, also written to --out.

The measurement is :func:`steer_lib.bench.gpu_check.run_gpu_check` (its module docstring lists what is reported).
Needs only torch, transformers and peft (accelerate, bitsandbytes when present): nothing is downloaded.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..bench.gpu_check import SHAPES, GpuCheckError, run_gpu_check, versions


def cli(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m steer_lib gpu-check", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="runs/gpu_check.json", help="where the JSON line is written (default: %(default)s)")
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--tiny", dest="tiny", action="store_true", default=None,
                      help="2-layer shapes, short lengths (the default without CUDA; under a minute on a CPU)")
    size.add_argument("--full", dest="tiny", action="store_false", help="the real shapes and lengths (default on CUDA)")
    ap.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    ap.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated subset of: %(default)s")
    ap.add_argument("--budget-s", type=float, default=420.0,
                    help="skip the shapes not yet started once this many seconds have passed (default: %(default)s)")
    args = ap.parse_args(argv)
    shapes = tuple(s for s in args.shapes.split(",") if s)
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        print(f"error: unknown shape(s) {', '.join(unknown)}; valid: {', '.join(SHAPES)}", file=sys.stderr)
        return 2
    try:
        res = run_gpu_check(device=args.device, tiny=args.tiny, shapes=shapes, budget_s=args.budget_s,
                            log=lambda s: print(s, file=sys.stderr, flush=True))
    except GpuCheckError as e:
        res = {"ok": False, "error": str(e), "versions": versions()}
        print(f"error: {e}", file=sys.stderr)
    line = json.dumps(res)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(line + "\n", encoding="utf-8")
    print(line)
    sys.stdout.flush()
    return 0 if res.get("ok") else (2 if "error" in res else 1)
