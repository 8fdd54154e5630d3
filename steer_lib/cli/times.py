"""``python -m steer_lib times``: the measured time of every notebook, from ``docs/notebook_times.json``.

    python -m steer_lib times                           the table (and the runs it comes from)
    python -m steer_lib times --update --profile smoke  take runs/smoke/timings.json (written by `reproduce`) into
                                                        docs/notebook_times.json; regenerate the docs' tables
    python -m steer_lib times --check                   exit 1 when docs/teaching.md or the README disagree with it

The work is :mod:`steer_lib.experiments.timings`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..experiments import timings


def cli(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m steer_lib times", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--update", action="store_true", help="merge a run's timings.json into the committed file")
    ap.add_argument("--profile", default="quick", choices=timings.PROFILES, help="with --update (default quick)")
    ap.add_argument("--base", default="", help="with --update: the base model the run used (default: embedded)")
    ap.add_argument("--timings", type=Path, help="with --update: the run's file (default runs/<profile>/timings.json)")
    ap.add_argument("--source", default="", help="with --update: how the run was made, in words (default: its command)")
    ap.add_argument("--check", action="store_true", help="exit 1 if a doc's table differs from the JSON")
    a = ap.parse_args(argv)
    try:
        if a.update:
            path = timings.update(a.profile, a.timings, a.source, base_model=a.base)
            print(f"updated {path} ({a.profile}) and the tables in {', '.join(map(str, timings.DOCS))}")
        if a.check:
            stale = timings.stale_docs()
            for line in stale:
                print(f"error: {line} (run `python -m steer_lib times --update`)", file=sys.stderr)
            if stale:
                return 1
        if not (a.update or a.check):
            print(timings.table())
    except (timings.TimingsError, json.JSONDecodeError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
