"""``python -m steer_lib evaluate`` and ``evaluate-reference``: the metrics from the command line.

    python -m steer_lib evaluate --real REAL.txt --synthetic SYN.jsonl [--task T] [--n N] [--json] [--protocol authors]
    python -m steer_lib evaluate-reference [--n N] [--out runs/reference/falcon-7b] [--protocol authors]

Input files are ``.txt`` (one example per line; blank lines are skipped) or ``.jsonl`` (one
object per line with a string field ``text``). With ``--json`` the last stdout line is one
JSON object (NaN is written as ``null``; ``warnings`` says why).
"""
from __future__ import annotations

import argparse
import json
import sys

from ..authors.scoring import rows_to_csv, run_reference
from ..files import jsonable
from ..metrics.input_files import InputError, format_value, read_texts
from ..metrics.keys import DIVERSITY_KEYS, JSON_KEYS


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="sampling, k-means and CV seed (default 0)")
    p.add_argument("--embedder", default=None, help="sentence-transformers name or path (default all-MiniLM-L6-v2)")
    p.add_argument("--classifier", default=None, choices=("logreg", "xgboost", "hist_gb"),
                   help="adversarial classifier (default: the protocol's, logreg for the kit's)")
    p.add_argument("--mauve-seeds", type=int, default=None,
                   help="k-means seeds MAUVE is averaged over (default: the protocol's, 3 for the kit's)")
    p.add_argument("--protocol", default="kit", choices=("kit", "authors"),
                   help="kit (default): grouped stratified CV, fixed MAUVE buckets, averaged seeds; authors: the "
                        "STEER authors' XGBoost under plain KFold(5, random_state=42), MAUVE num_buckets='auto' "
                        "(docs/fidelity.md)")


def _quiet() -> None:
    import warnings

    from ..metrics.text import MetricWarning

    warnings.simplefilter("ignore", MetricWarning)  # the CLI prints result["warnings"] itself


def check_numbers(a) -> None:
    """The numeric options and local model folders, checked before any text is embedded or model loaded."""
    from pathlib import Path

    for name, low in (("seed", 0), ("mauve_seeds", 1), ("bootstrap", 0)):
        value = getattr(a, name, None)
        if value is not None and value < low:
            raise InputError(f"--{name.replace('_', '-')} {value}: must be >= {low}")
    for name in ("embedder", "tokenizer"):
        value = getattr(a, name, None)
        if value and (value.startswith(("/", ".", "~")) or Path(value).exists()) and not Path(value).expanduser().is_dir():
            raise InputError(f"--{name} {value}: no such model folder")
    if getattr(a, "embedder", None) and Path(a.embedder).expanduser().is_dir():
        from ..models import check_model

        check_model(a.embedder, "--embedder", embedder=True)
    if getattr(a, "tokenizer", None) and Path(a.tokenizer).expanduser().is_dir():
        from ..models import check_model

        check_model(a.tokenizer, "--tokenizer")


def cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m steer_lib evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--real", required=True, help=".txt or .jsonl file of real examples")
    p.add_argument("--synthetic", required=True, help=".txt or .jsonl file of synthetic examples")
    p.add_argument("--task", help="task name, for the validity rate (e.g. hypotheses, comments-toxic)")
    p.add_argument("--n", type=int, help="score N examples per side (default: every line; larger side sampled down)")
    p.add_argument("--bootstrap", type=int, default=0, help="bootstrap replicates for intervals (default 0 = none)")
    p.add_argument("--tokenizer", help="tokenizer for the n-gram metrics (default: the default model's)")
    p.add_argument("--json", action="store_true", help="end with one JSON line holding every metric")
    _common(p)
    a = p.parse_args(argv)
    from ..metrics.evaluation import evaluate
    from ..runtime import configure_threads

    try:
        real, syn = read_texts(a.real), read_texts(a.synthetic)
        if a.task:
            from ..data.tasks import get_task

            get_task(a.task)
        if a.n is not None and a.n < 1:
            raise InputError(f"--n {a.n}: must be >= 1")
        check_numbers(a)
        from ..metrics.fidelity import protocol_settings

        protocol_settings(a.protocol, classifier=a.classifier, mauve_seeds=a.mauve_seeds)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_threads()
    _quiet()
    res = evaluate(syn, real, task=a.task, embedder=a.embedder, seed=a.seed, n=a.n, mauve_seeds=a.mauve_seeds,
                   classifier=a.classifier, bootstrap=a.bootstrap, tokenizer=a.tokenizer, protocol=a.protocol)
    for w in res["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    for k, v in res.items():
        if k not in ("warnings", "seconds"):
            print(f"{k:<22} {format_value(v)}")
    print(f"{'seconds':<22} {res['seconds']}")
    if a.json:
        first = JSON_KEYS + DIVERSITY_KEYS
        keys = [k for k in first if k in res] + [k for k in res if k not in first]
        print(json.dumps(jsonable({k: res[k] for k in keys}), allow_nan=False))
    return 0


def cli_reference(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m steer_lib evaluate-reference",
                                description="Score the STEER authors' released Falcon-7B outputs "
                                            "against each task's real set.")
    p.add_argument("--n", type=int, help="examples per side (default: all; a small N for CI)")
    p.add_argument("--out", help="output prefix; writes PREFIX.csv and PREFIX.json "
                                 "(default runs/reference/falcon-7b[-n<N>][-seed<S>][-authors])")
    p.add_argument("--tasks", nargs="*", help="reference tasks (default all: hypotheses comments commonsense)")
    p.add_argument("--methods", nargs="*", help="the authors' method names (default all released)")
    p.add_argument("--force", action="store_true", help="recompute rows even if cached")
    _common(p)
    a = p.parse_args(argv)
    from ..data.download import DataError
    from ..runtime import configure_threads

    if a.n is not None and a.n < 1:
        print(f"error: --n {a.n}: must be >= 1", file=sys.stderr)
        return 2
    try:
        check_numbers(a)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_threads()
    _quiet()
    try:
        prefix, rows = run_reference(a.n, seed=a.seed, out=a.out, tasks=a.tasks, methods=a.methods,
                                     embedder=a.embedder, classifier=a.classifier, mauve_seeds=a.mauve_seeds,
                                     protocol=a.protocol, force=a.force, log=lambda s: print(s, file=sys.stderr))
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(rows_to_csv(rows), end="")
    print(f"wrote {prefix.with_suffix('.csv')} and {prefix.with_suffix('.json')}", file=sys.stderr)
    return 0
