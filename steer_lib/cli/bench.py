"""``python -m steer_lib bench``: STEER's throughput vs plain sampling, the authors' loop and the transformers CFG peer.

The measurement is :func:`steer_lib.bench.decoding.run_bench` (its docstring lists every key of the JSON).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..bench.decoding import nonzero_lora, run_bench


def cli(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m steer_lib bench", description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="end with one JSON line (for scripts)")
    ap.add_argument("--model", help="a PEFT adapter folder for the fine-tuned side (default: a random non-zero LoRA)")
    ap.add_argument("--base", help="base model (default: the kit's default)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=32), ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--reference-samples", type=int, default=2)
    ap.add_argument("--layout", default="split", choices=["split", "merged"])
    ap.add_argument("--threads", default="1,2",
                    help="comma-separated torch thread counts to measure at (default 1,2); the JSON's top level is "
                         "the last, 'by_threads' holds every ratio and throughput at each")
    args = ap.parse_args(argv)
    try:
        threads = [int(t) for t in args.threads.split(",") if t.strip()]
        if not threads or min(threads) < 1:
            raise ValueError
    except ValueError:
        print(f"error: --threads {args.threads!r} must be comma-separated integers >= 1 (e.g. 1,2)", file=sys.stderr)
        return 2
    from ..models import check_model

    try:  # every number and folder, before the model loads
        for name, value, low in (("--batch-size", args.batch_size, 1), ("--new-tokens", args.new_tokens, 1),
                                 ("--reference-samples", args.reference_samples, 0)):
            if value < low:
                raise ValueError(f"{name} {value}: must be an integer >= {low}")
        check_model(args.base, "--base")
        if args.model and not (Path(args.model) / "adapter_config.json").is_file():
            raise ValueError(f"--model {args.model}: not a PEFT adapter folder (no adapter_config.json); pass the "
                             "folder `python -m steer_lib finetune` printed, or leave --model out for a random LoRA")
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from ..data.tasks import get_task
    from ..models import default_model_cached, load_base
    from ..runtime import configure_threads

    configure_threads()
    converted = args.base is None and not default_model_cached()
    t0 = time.perf_counter()
    base, tok = load_base(args.base, device=args.device)
    load_s = time.perf_counter() - t0
    if args.model:
        from peft import PeftModel
        model = PeftModel.from_pretrained(base, args.model).eval()
    else:
        model = nonzero_lora(base)
    import torch

    by_threads = {}
    for n in threads:  # the same model and data at each thread count, so the ratios compare
        torch.set_num_threads(n)
        res = run_bench(model, tok, get_task("hypotheses").real_texts("train"), batch_size=args.batch_size,
                        new_tokens=args.new_tokens, reference_samples=args.reference_samples, layout=args.layout)
        by_threads[str(n)] = {k: v for k, v in res.items() if k.endswith("_tok_s") or "_vs_" in k}
    res["by_threads"] = by_threads
    res["best_threads"] = int(max(by_threads, key=lambda n: by_threads[n]["steer_tok_s"]))  # by STEER's tok/s
    res.update(base_load_s=round(load_s, 3), base_load_converted=converted, base_load_vs_target=round(10 / load_s, 3))
    return report(res, args.json)


def report(res: dict, json_only: bool) -> int:
    """Print a benchmark's result: one ``key: value`` line each (unless ``json_only``), then one JSON line."""
    if not json_only:
        width = max(map(len, res))
        for k, v in res.items():
            print(f"{k:>{width}}: {v}")
    print(json.dumps(res))
    sys.stdout.flush()
    return 0
