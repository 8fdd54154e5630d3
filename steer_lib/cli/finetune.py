"""``python -m steer_lib finetune``: fine-tune the domain model P_θ for a task (a LoRA adapter), cached.

    python -m steer_lib finetune --task T --profile P [--base ID_OR_PATH] [--set key=value ...] [--force] [--json]

Runs data-parallel under ``accelerate launch`` / ``torchrun`` (see :mod:`steer_lib.finetune.train`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from ..config import parse_sets
from ..finetune.domain_model import adapter_dir, finetune, is_finished, read_record


def check_writable(folder: Path) -> None:
    """Raise ValueError naming ``folder`` when the adapter could not be saved there (checked before training)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise ValueError(f"cannot save the adapter under {folder} ({exc.strerror or exc}); nothing was trained: "
                         "set STEER_RUNS to a writable folder") from None


# ---------------------------------------------------------------- CLI
def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m steer_lib finetune", description=__doc__.split("\n")[0])
    p.add_argument("--task", required=True, help="hypotheses | comments-toxic | comments-nontoxic | commonsense")
    p.add_argument("--profile", default="quick", help="smoke | quick | paper (default: quick)")
    p.add_argument("--base", default=None, help="base model id or path (default: the embedded SmolLM2-135M)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a FinetuneConfig setting")
    p.add_argument("--force", action="store_true", help="retrain even if a cached adapter exists")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    try:
        overrides = parse_sets(args.set)
        from ..models import check_model

        check_model(args.base, "--base")  # before training: a folder that is not a model, named in one line
        path = adapter_dir(args.task, args.profile, args.base, **overrides)
        cached = is_finished(path) and not args.force
        if not cached:
            check_writable(path.parent)  # before training: a run must never be lost to an unwritable folder
        path = finetune(args.task, args.profile, args.base, force=args.force, progress=not args.no_progress,
                        **overrides)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) != 0:  # under a multi-process launch only the main process reports
        return 0
    rec = read_record(path)
    ev = rec["eval"]
    summary = {"adapter_path": str(path), "task": rec["task"], "profile": args.profile, "cached": cached,
               "base_eval_loss": ev["base_loss"], "eval_loss": ev["loss"],
               "base_eval_loss_completion": ev["base_loss_completion"], "eval_loss_completion": ev["loss_completion"],
               "train_seconds": rec["train_seconds"], "total_seconds": rec["total_seconds"],
               "steps": rec["config"]["steps"], "num_processes": rec["num_processes"],
               "final_train_loss": rec["history"][-1]["loss"]}
    print(f"{rec['task']}: held-out loss {ev['base_loss']:.3f} (base) -> {ev['loss']:.3f} (P_θ) per token; "
          f"completion only {ev['base_loss_completion']:.3f} -> {ev['loss_completion']:.3f}; "
          f"{summary['steps']} steps in {rec['train_seconds']:.0f} s{' (cached)' if cached else ''}\nadapter: {path}")
    if args.json:
        print(json.dumps(summary))
    return 0
