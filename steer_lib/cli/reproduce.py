"""``python -m steer_lib reproduce``: run the notebooks with papermill, in dependency order, for a profile.

    python -m steer_lib reproduce --profile quick [--tasks hypotheses commonsense] [--jobs 2] [--force]

The plan and the skip-when-unchanged stamps are :mod:`steer_lib.experiments.pipeline`.
"""
from __future__ import annotations

import argparse
import sys

from ..config import PROFILES
from ..data.tasks import get_task, task_names
from ..models import resolve_base
from ..experiments.pipeline import PipelineError, reproduce


def cli(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m steer_lib reproduce", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="quick", choices=PROFILES)
    ap.add_argument("--tasks", nargs="*", help=f"task names or spec files (default: all of {', '.join(task_names())})")
    ap.add_argument("--base", default="", help="base model P_φ: a Hugging Face id or local folder "
                                               "(default: the embedded SmolLM2-135M)")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks run in parallel within a stage")
    ap.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 00 03")
    ap.add_argument("--force", action="store_true", help="re-execute notebooks even when their stamp matches")
    a = ap.parse_args(argv)
    if a.jobs < 1:
        ap.error(f"--jobs {a.jobs} must be ≥ 1")
    try:
        for t in a.tasks or ():
            get_task(t)  # an unknown name or a bad spec file stops here, in one line
        if a.base:
            resolve_base(a.base)  # a missing folder, or an uncached hub id offline: one line
        reproduce(a.profile, a.tasks, a.jobs, a.force, a.only, log=lambda line: print(line, flush=True),
                  base_model=a.base)
    except (ValueError, FileNotFoundError) as exc:  # a bad task or spec; a model that is not there
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
