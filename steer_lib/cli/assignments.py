"""``python -m steer_lib assignments``: nbgrader student versions, validation and autograding.

    python -m steer_lib assignments generate --out assignments/release
    python -m steer_lib assignments validate notebooks/02_steer_step_by_step.ipynb
    python -m steer_lib assignments autograde --submissions DIR --out DIR [--profile smoke]
    python -m steer_lib assignments install-cell [NOTEBOOK ...] [--check]
    python -m steer_lib assignments student-repo --out DIR [--archive FILE.tar.gz] [--url GIT_URL] [--force]

The work is :mod:`steer_lib.classroom`.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from .. import paths
from ..classroom.assignments import DEFAULT_TIMEOUT, AssignmentError, generate, validate


# ---------------------------------------------------------------- CLI
def cli(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m steer_lib assignments", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="student versions + gradebook from notebooks/")
    g.add_argument("--out", type=Path, default=paths.root() / "assignments" / "release")
    g.add_argument("--force", action="store_true", help="write into an --out folder holding files the kit did not write")
    v = sub.add_parser("validate", help="execute a notebook and check its graded cells (exit 1 if any fails)")
    v.add_argument("notebook", type=Path)
    v.add_argument("--invert", action="store_true", help="expect every graded cell to fail (a student version)")
    v.add_argument("--profile", default="smoke", help="PROFILE injected before running (default: smoke)")
    v.add_argument("--full", action="store_true", help="run the whole notebook, not just up to the last exercise")
    a = sub.add_parser("autograde", help="grade DIR/<student>/[<assignment>/]<notebook>.ipynb into CSV files")
    a.add_argument("--submissions", type=Path, required=True)
    a.add_argument("--out", type=Path, default=paths.root() / "assignments" / "grades")
    a.add_argument("--profile", default="smoke", help="PROFILE to run submissions at; 'keep' keeps the student's")
    a.add_argument("--full", action="store_true", help="run whole submissions, not just up to the last exercise")
    a.add_argument("--isolate", action="store_true",
                   help="grade each submission in its own run: throw-away HOME, filtered environment, no network "
                        "(unshare -rn, where it works), a time limit per notebook (docs/teaching.md)")
    a.add_argument("--notebook-timeout", type=float, help="with --isolate: seconds per notebook (default: --timeout)")
    c = sub.add_parser("install-cell", help="write the hosted-runtime install cell (one source) into the notebooks")
    c.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in notebooks/")
    c.add_argument("--check", action="store_true", help="only report the notebooks that differ (exit 1 if any)")
    r = sub.add_parser("student-repo", help="a clean copy of the kit for students: one commit, no solutions")
    r.add_argument("--out", type=Path, required=True, help="a new (or empty) folder outside the checkout")
    r.add_argument("--archive", type=Path, help="also write this .tar.gz (a source for the install cell's STEER_KIT)")
    r.add_argument("--url", help="the git repository you will push the copy to: its notebooks install it by default "
                                 "and, on GitHub, open with an 'Open in Colab' link to themselves")
    r.add_argument("--force", action="store_true", help="replace --out if it exists")
    for p in (v, a):
        p.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="seconds per cell")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "generate":
            for name, path in generate(args.out, force=args.force).items():
                print(f"{name}: {path}")
            print(f"gradebook: {args.out / 'gradebook.db'}")
        elif args.cmd == "student-repo":
            from ..classroom.student_repo import build

            build(args.out, archive=args.archive, force=args.force, log=print, url=args.url)
        elif args.cmd == "install-cell":
            from ..classroom.install_cell import sync

            differ = sync(args.notebooks or None, check=args.check)
            for path in differ:
                print(f"{'differs' if args.check else 'updated'}: {path}")
            print(f"{len(differ)} notebook(s) {'differ' if args.check else 'updated'}")
            return 1 if args.check and differ else 0
        elif args.cmd == "validate":
            result = validate(args.notebook, invert=args.invert, timeout=args.timeout, full=args.full,
                              PROFILE=args.profile)
            for kind, items in result.items():
                for item in items:
                    print(f"--- {kind}:\n{item['source']}\n{item.get('raw_error', '')}")
            print("OK" if not result else f"NOT OK: {', '.join(f'{len(v)} {k}' for k, v in result.items())}")
            return 0 if not result else 1
        else:
            from ..classroom.grading import autograde  # (a separate module: it needs the gradebook API)

            profile = None if args.profile == "keep" else args.profile
            csv_path = autograde(args.submissions, args.out, profile=profile, timeout=args.timeout, full=args.full,
                                 isolate=args.isolate, notebook_timeout=args.notebook_timeout)
            with open(csv_path) as f:
                print(f.read(), end="")
            print(f"wrote {csv_path} and {csv_path.with_name('grades_cells.csv')}")
            with open(csv_path.with_name("invalid_submissions.csv"), newline="") as f:
                invalid = list(csv.DictReader(f))
            for row in invalid:  # one line each, by student and file
                print(f"not graded: student {row['student']}, {row['assignment']}: {row['file']}: {row['problem']}",
                      file=sys.stderr)
            if invalid:
                print(f"{len(invalid)} submission(s) not graded: listed in "
                      f"{csv_path.with_name('invalid_submissions.csv')}", file=sys.stderr)
                return 1
    except AssignmentError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
