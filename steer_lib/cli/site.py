"""``python -m steer_lib site``: the course as a static HTML site (nbconvert), in course order.

    python -m steer_lib site [--out site]                 executed notebooks (quick, else smoke, else unexecuted)
    python -m steer_lib site --student [--out site-student]   the student versions of the assignments

The work is :mod:`steer_lib.classroom.site`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..classroom.assignments import AssignmentError
from ..classroom.site import PROFILES, build


def cli(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m steer_lib site", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="default: site/ (site-student/ with --student)")
    ap.add_argument("--student", action="store_true", help="render the student versions (no solutions)")
    ap.add_argument("--profiles", nargs="+", default=list(PROFILES),
                    help=f"executed copies to prefer, in order (default: {' '.join(PROFILES)})")
    ap.add_argument("--force", action="store_true",
                    help="replace an --out folder that holds files the kit did not write (everything in it goes)")
    args = ap.parse_args(argv)
    try:
        index = build(args.out, student=args.student, profiles=tuple(args.profiles), log=print,
                      force=args.force)
    except AssignmentError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"site: {index}")
    return 0
