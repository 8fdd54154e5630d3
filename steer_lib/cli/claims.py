"""``python -m steer_lib claims``: the paper's claims (``steer_lib/experiments/claims.yaml``), a verdict each.

    python -m steer_lib claims --authors [--tasks hypotheses,comments-toxic] [--json] [--out FILE]
    python -m steer_lib claims --profile quick [--base MODEL] [--tasks ...]
    python -m steer_lib claims --generations runs/study/generations/hypotheses/step240 --task hypotheses

One row per test: claim, the two sets, metric, difference (in the paper's direction), 95 % interval, n per side,
how many settings each side was picked from, verdict. ``--json`` prints one JSON object (``source``, ``date``,
``machine``, ``rules``, ``rows``, ``conclusion``). A missing input is one ``error:`` line naming the run to do first.
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m steer_lib claims", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--authors", action="store_true", help="the authors' released Falcon-7B outputs and γ×η grid")
    src.add_argument("--profile", help="the kit's own runs at this profile (runs/<profile>/generations/)")
    src.add_argument("--generations", help="a folder of generations JSONL files (needs --task)")
    p.add_argument("--base", default="", help="with --profile: the base model whose runs to read (default: embedded)")
    p.add_argument("--task", help="with --generations: the task the folder's samples are for")
    p.add_argument("--tasks", help="comma-separated tasks (default: every task the source has)")
    p.add_argument("--claims", help="comma-separated claim ids (default: C1..C7)")
    p.add_argument("--reps", type=int, help="bootstrap replicates (default: the calibrated counts, 200 / 100 for "
                                            "MAUVE, AUROC and Self-BLEU; fewer = a rougher interval)")
    p.add_argument("--n", type=int, help="at most N texts a side in the tests (default: all)")
    p.add_argument("--seed", type=int, default=0, help="test-reference draw and bootstrap seed (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--out", help="also write the output (table or JSON) to this file")
    return p


def _tasks(a, parser) -> list[str]:
    from ..data.tasks import get_task, task_names

    if a.generations:
        if not a.task:
            parser.error("--generations needs --task (the task its samples are for)")
        return [get_task(a.task).name]
    if a.task:
        parser.error("--task goes with --generations; use --tasks for --authors / --profile")
    names = [get_task(t.strip()).name for t in a.tasks.split(",") if t.strip()] if a.tasks else list(task_names())
    if a.authors:
        from ..authors.outputs import ref_task

        for t in names:
            ref_task(t)  # raises naming a task the authors released nothing for
    return names


def cli(argv: list[str]) -> int:
    parser = _parser()
    a = parser.parse_args(argv)
    from ..experiments import claims as cl
    from ..runtime import configure_threads

    t0 = time.time()
    try:
        if a.reps is not None and a.reps < 2:
            raise cl.ClaimsError(f"--reps {a.reps}: must be at least 2")
        if a.n is not None and a.n < 1:
            raise cl.ClaimsError(f"--n {a.n}: must be at least 1")
        if a.base and not a.profile:
            raise cl.ClaimsError("--base goes with --profile")
        want = [c.strip() for c in a.claims.split(",")] if a.claims else None
        ids = [c["id"] for c in cl.load_claims()["claims"]]
        if want and any(c not in ids for c in want):
            raise cl.ClaimsError(f"--claims {a.claims}: claims are {', '.join(ids)}")
        tasks = _tasks(a, parser)
        if a.profile:
            from ..config import check_profile

            check_profile(a.profile)
        if a.generations:
            from pathlib import Path

            if not Path(a.generations).is_dir():
                raise cl.ClaimsError(f"--generations {a.generations}: no such folder; generate into it first "
                                     "(`python -m steer_lib generate ... --out DIR/NAME.jsonl`)")
        # every argument is checked: now the sources (each may be missing: one line naming the run to do first)
        if a.authors:
            sources = [cl.from_authors(t) for t in tasks]
        elif a.profile:
            sources = []
            for t in tasks:
                try:
                    sources.append(cl.from_profile(a.profile, t, a.base))
                except cl.ClaimsError:
                    if a.tasks:  # a task asked for by name must be there
                        raise
            if not sources:
                sources = [cl.from_profile(a.profile, tasks[0], a.base)]  # raises naming the run to do first
        else:
            sources = [cl.from_generations(a.generations, tasks[0])]
        configure_threads()
        log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731  (progress; stdout is the result)
        rows = []
        for s in sources:
            rows += cl.evaluate_claims(s, claims=want, reps=a.reps, n=a.n, seed=a.seed, log=log)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    label = sources[0].name
    if a.json:
        blob = cl.findings(rows, source=label)
        blob["seconds"] = round(time.time() - t0, 1)
        blob["settings"] = {"reps": a.reps, "n": a.n, "seed": a.seed, "tasks": tasks}
        text = json.dumps(blob, indent=1, ensure_ascii=False, allow_nan=False)
    else:
        text = (f"Claims on {label} ({time.strftime('%Y-%m-%d', time.gmtime())}):\n\n" + cl.to_markdown(rows) + "\n"
                + "\n".join(cl.conclusion(rows)) + "\n")
    print(text)
    if a.out:
        from pathlib import Path

        from ..files import write_atomic

        write_atomic(Path(a.out), text + "\n")
    return 0
