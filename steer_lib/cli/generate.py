"""``python -m steer_lib generate``: synthetic samples to append-only, resumable JSONL.

    python -m steer_lib generate --task T --method steer --n 100 --profile quick [--gamma G --eta E] [--out FILE]

The writer is :func:`steer_lib.decoding.generate_file`; see its module for the resume guarantees.
Over several processes (one file, byte-identical to one process with the same --batch-size)::

    accelerate launch --multi_gpu --num_processes 2 -m steer_lib generate --task T --n 100 ...
    torchrun --nproc_per_node 2 -m steer_lib -- generate --task T --n 100 ...   # `--`: see below
    python -m steer_lib launch --nproc_per_node 2 generate --task T --n 100 ...  # torchrun, no `--` needed

torchrun's own parser expands abbreviations of its options over the whole command line, so
without ``--`` it reads ``--n`` as an abbreviation of its own ``--nnodes``, ``--nproc-per-node``, …
and stops ("ambiguous option"); after ``--`` it passes everything on. ``python -m steer_lib -- generate …``
works too, so one command line serves one process and torchrun alike.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import paths
from ..data.tasks import get_task
from ..decoding import distributed
from ..decoding.methods import METHODS, resolve_params
from ..decoding.writer import ResumeError, check_out, default_tag, generate_file
from ..models import ModelNotFoundError


def load_models(args) -> tuple:
    """``(model, tokenizer, base_model, model_id, base_id)`` from the CLI options."""
    from ..models import load_base, model_id

    if args.profile:
        from ..finetune.domain_model import (
            load_domain_model,  # lazy: fine-tuning pulls in the trainer
        )
        model, tok = load_domain_model(args.task, profile=args.profile, base=args.base, device=args.device)
        return model, tok, None, f"{args.task}/{args.profile}+lora", model_id(args.base)
    if args.model and (Path(args.model) / "adapter_config.json").exists():
        from peft import PeftModel
        base, tok = load_base(args.base, device=args.device)
        model = PeftModel.from_pretrained(base, args.model).eval()
        return model, tok, None, model_id(args.model), model_id(args.base)  # an edited folder: another id
    if args.model:
        model, tok = load_base(args.model, device=args.device)
        base = load_base(args.base, device=args.device)[0] if args.base else None
        return model, tok, base, model_id(args.model), model_id(args.base) if args.base else None
    model, tok = load_base(args.base, device=args.device)  # a model that is not there fails here, before the warning
    print("warning: no --model or --profile: generating from the base model only, so P_θ = P_φ and gamma has "
          "no effect (fine-tune first, or pass --profile quick)", file=sys.stderr)
    return model, tok, None, model_id(args.base), None


def check_args(args, uses_negatives: bool) -> None:
    """Every number the run needs, checked before a model is loaded (or, with --profile, trained)."""
    from ..runtime import resolve_device

    for name, value, low in (("--n", args.n, 0), ("--batch-size", args.batch_size, 1), ("--seed", args.seed, 0),
                             ("--max-new-tokens", args.max_new_tokens, 1), ("--k", args.k if uses_negatives else None, 1)):
        if value is not None and value < low:
            raise ValueError(f"{name} {value}: must be an integer >= {low}")
    if args.batch_size > MAX_BATCH:
        raise ValueError(f"--batch-size {args.batch_size}: more than {MAX_BATCH} rows per batch cannot fit in memory")
    resolve_device(args.device)  # an unknown device name, or cuda on a machine without one: one line, now
    from ..models import check_model

    check_model(args.base, "--base")  # a folder that is not a model: one line naming it, before any load
    check_model(args.model, "--model")


MAX_BATCH = 4096  # rows decoded at once; far above what fits in any GPU's memory at the kit's model sizes


def cli(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m steer_lib generate", description=__doc__.split("\n")[0])
    ap.add_argument("--task", required=True)
    ap.add_argument("--method", default="steer", choices=METHODS)
    ap.add_argument("--n", type=int, required=True, help="number of samples")
    ap.add_argument("--gamma", type=float), ap.add_argument("--eta", type=float)
    ap.add_argument("--k", type=int, default=10, help="negative examples per sample (default 10)")
    ap.add_argument("--top-k", type=int), ap.add_argument("--top-p", type=float)
    ap.add_argument("--temperature", type=float), ap.add_argument("--max-new-tokens", type=int)
    ap.add_argument("--no-grow", action="store_true", help="do not add finished samples to the negative pool")
    ap.add_argument("--seed", type=int, default=0), ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--model", help="fine-tuned model: a PEFT adapter folder or a model path/id")
    ap.add_argument("--base", help="base model P_φ (default: the kit's default base model)")
    ap.add_argument("--profile", help="use the cached domain model of this fine-tuning profile (trains if missing)")
    ap.add_argument("--device", default="auto"), ap.add_argument("--out", help="output JSONL (default under runs/)")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--strict", action="store_true",
                    help="refuse to resume a file damaged in the middle (default: warn and regenerate from there)")
    args = ap.parse_args(argv)
    try:
        task = get_task(args.task)
        params = {key: v for key, v in (("gamma", args.gamma), ("eta", args.eta), ("top_k", args.top_k),
                                        ("top_p", args.top_p), ("temperature", args.temperature),
                                        ("max_new_tokens", args.max_new_tokens)) if v is not None}
        eff = resolve_params(args.method, **{key: v for key, v in params.items() if key != "max_new_tokens"})
        check_args(args, uses_negatives=eff["eta"] > 0)
        tag_params = {**params, **({"k": args.k} if eff["eta"] > 0 else {})}
        tag = default_tag(args.method, args.seed, **tag_params)
        out = Path(args.out) if args.out else (paths.runs_dir() / (args.profile or "custom") / "generations"
                                              / task.name / f"{tag}.jsonl")
        check_out(out)  # someone else's file, or a folder: refused before a model is loaded
        if args.profile or eff["eta"] > 0:  # the real texts the run reads (training, negatives): missing or
            task.real_texts("train")  # damaged data (or a spec whose rows cannot be split) fails now, not after a load
    except (ValueError, ModelNotFoundError) as e:
        if distributed.is_main():
            print(f"error: {e}", file=sys.stderr)
        return 2
    from ..runtime import configure_threads

    configure_threads()
    args.device = distributed.device_for_rank(args.device)  # several processes on one machine: one GPU each
    try:
        model, tok, base, mid, bid = load_models(args)
        generate_file(task, args.method, args.n, out, model=model, tokenizer=tok, base_model=base, seed=args.seed,
                      batch_size=args.batch_size, model_id=mid, base_model_id=bid, progress=not args.no_progress,
                      strict=args.strict, k=args.k, grow=not args.no_grow, **params)
    except (ResumeError, ModelNotFoundError) as e:
        if distributed.is_main():  # every rank fails the same way; one line is enough
            print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        distributed.teardown()
    if distributed.is_main():
        print(out)
    return 0
