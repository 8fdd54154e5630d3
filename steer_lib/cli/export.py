"""``python -m steer_lib export``: a generations file as a Hugging Face dataset (on disk, Parquet, JSONL, card).

    python -m steer_lib export runs/quick/generations/hypotheses/steer_….jsonl --out out/hypotheses-steer
    python -m steer_lib export FILE.jsonl --out DIR --push-to-hub user/my-synthetic-set   # with hub access

The work is :func:`steer_lib.experiments.export.export`.
"""
from __future__ import annotations

import argparse
import sys

from ..experiments.export import export


def cli(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m steer_lib export", description=__doc__.split("\n")[0])
    ap.add_argument("generations", help="a generations JSONL file written by the kit")
    ap.add_argument("--out", required=True, help="output folder (datasets.load_from_disk reads it back)")
    ap.add_argument("--metrics", help="metrics JSON for the card (default: the one beside the set, if any)")
    ap.add_argument("--push-to-hub", metavar="REPO", help="also push the dataset and its card to the hub")
    ap.add_argument("--force", action="store_true",
                    help="write into an --out folder that holds files the kit did not write (replacing "
                         "data.jsonl, data.parquet, README.md there)")
    a = ap.parse_args(argv)
    try:
        out = export(a.generations, a.out, metrics=a.metrics, push_to_hub=a.push_to_hub, force=a.force)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0
