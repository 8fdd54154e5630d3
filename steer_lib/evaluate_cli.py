"""``python -m steer_lib evaluate`` and ``evaluate-reference``: the metrics from the command line.

    python -m steer_lib evaluate --real REAL.txt --synthetic SYN.jsonl [--task T] [--n N] [--json]
    python -m steer_lib evaluate-reference [--n N] [--out runs/reference/falcon-7b]

Input files are ``.txt`` (one example per line; blank lines are skipped) or ``.jsonl`` (one
object per line with a string field ``text``). With ``--json`` the last stdout line is one
JSON object (NaN is written as ``null``; ``warnings`` says why).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import os
import sys
import tempfile
from pathlib import Path

JSON_KEYS = ("n", "ngram3", "ngram3_real", "diversity", "diversity_real", "cosine", "cosine_centroid", "mauve",
             "mauve_sd", "adv_auroc", "alpha_precision", "beta_recall", "validity")
METRICS_VERSION = 2  # bump when a metric's definition changes: invalidates evaluate-reference's row cache


class InputError(ValueError):
    """An input file is missing, empty, not UTF-8, or malformed."""


def read_texts(path: str | Path) -> list[str]:
    """Examples from a ``.txt`` (one per line) or ``.jsonl`` (field ``text``) file, or an InputError."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    if p.suffix not in (".txt", ".jsonl"):
        raise InputError(f"{p}: unsupported file type {p.suffix!r}; "
                         "use .txt (one example per line) or .jsonl (field 'text')")
    raw = p.read_bytes()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                         "re-save the file as UTF-8") from None
    texts: list[str] = []
    for i, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        if p.suffix == ".txt":
            texts.append(line.strip())
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}:{i}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise InputError(f"{p}:{i}: expected an object with a string field 'text'")
        texts.append(obj["text"])
    if not texts:
        raise InputError(f"{p}: no examples (the file is empty or blank)")
    return texts


def jsonable(obj):
    """NaN/inf → None, numpy scalars → Python numbers, recursively (strict JSON)."""
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fmt(v) -> str:
    return "nan" if isinstance(v, float) and math.isnan(v) else (f"{v:.4f}" if isinstance(v, float) else str(v))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="sampling, k-means and CV seed (default 0)")
    p.add_argument("--embedder", default=None, help="sentence-transformers name or path (default all-MiniLM-L6-v2)")
    p.add_argument("--classifier", default="logreg", choices=("logreg", "xgboost"), help="adversarial classifier")
    p.add_argument("--mauve-seeds", type=int, default=3, help="k-means seeds MAUVE is averaged over (default 3)")


def _quiet() -> None:
    import warnings

    from .metrics import MetricWarning

    warnings.simplefilter("ignore", MetricWarning)  # the CLI prints result["warnings"] itself


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
    from .metrics import evaluate
    from .runtime import configure_threads

    try:
        real, syn = read_texts(a.real), read_texts(a.synthetic)
        if a.task:
            from .tasks import get_task

            get_task(a.task)
        if a.n is not None and a.n < 1:
            raise InputError(f"--n {a.n}: must be >= 1")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_threads()
    _quiet()
    res = evaluate(syn, real, task=a.task, embedder=a.embedder, seed=a.seed, n=a.n, mauve_seeds=a.mauve_seeds,
                   classifier=a.classifier, bootstrap=a.bootstrap, tokenizer=a.tokenizer)
    for w in res["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    for k, v in res.items():
        if k not in ("warnings", "seconds"):
            print(f"{k:<22} {_fmt(v)}")
    print(f"{'seconds':<22} {res['seconds']}")
    if a.json:
        keys = [k for k in JSON_KEYS if k in res] + [k for k in res if k not in JSON_KEYS]
        print(json.dumps(jsonable({k: res[k] for k in keys}), allow_nan=False))
    return 0


# ------------------------------------------------------------------ evaluate-reference
CSV_COLUMNS = ("task", "kit_task", "method", "kit_method", "n", "n_synthetic_in", "n_real_in", "n_dropped",
               "validity", "validity_real", "ngram3", "ngram3_real", "diversity", "diversity_real", "cosine",
               "cosine_centroid", "mauve", "mauve_sd", "mauve_buckets", "adv_auroc", "adv_auroc_sd",
               "alpha_precision", "beta_recall", "mean_length", "mean_length_real", "duplicate_rate",
               "duplicate_rate_real", "seconds", "warnings")


def score_reference(tasks=None, methods=None, *, n=None, seed=0, embedder=None, classifier="logreg",
                    mauve_seeds=3, rows_dir: Path | None = None, force=False, log=print) -> list[dict]:
    """Score every released (task, method) file against its task's real set; one dict per row.

    Finished rows are kept as JSON in ``rows_dir`` keyed by the file's hash and every setting,
    so an interrupted or repeated run only scores what is missing.
    """
    from . import data, reference
    from .embeddings import as_embedder
    from .metrics import evaluate

    emb = as_embedder(embedder)  # one embedder (and in-memory cache) for every row
    sha = {e.path: e.sha256 for e in data.manifest()}
    rows = []
    for task in tasks or reference.reference_tasks():
        t = reference.ref_task(task)
        real = reference.real_set(t)
        for method in methods or reference.reference_methods(t):
            if method not in reference.reference_methods(t):
                continue
            rel = f"{reference.REF_DIR}/{t}-{reference.MODEL}-{method}.txt"
            key = hashlib.sha256(json.dumps([METRICS_VERSION, sha.get(rel), n, seed, emb.model_id, classifier,
                                             mauve_seeds]).encode()).hexdigest()[:12]
            cached = rows_dir / f"{t}-{method}-{key}.json" if rows_dir else None
            if cached and cached.is_file() and not force:
                rows.append(json.loads(cached.read_text(encoding="utf-8")))
                log(f"{t:<12} {method:<12} (cached) {cached.name}")
                continue
            syn, dropped = reference.read_lines(rel)
            res = evaluate(syn, real, task=reference.TASK_MAP[t], embedder=emb, seed=seed, n=n,
                           mauve_seeds=mauve_seeds, classifier=classifier)
            row = {"task": t, "kit_task": reference.TASK_MAP[t], "method": method,
                   "kit_method": reference.KIT_METHOD.get(method, method), "n_dropped": dropped, **res}
            row = jsonable(row)
            if cached:
                write_atomic(cached, json.dumps(row, indent=1))
            rows.append(row)
            log(f"{t:<12} {method:<12} n={row['n']:<5} mauve={_fmt(res['mauve'])} auroc={_fmt(res['adv_auroc'])} "
                f"cos={_fmt(res['cosine'])} ngram3={_fmt(res['ngram3'])} ({res['seconds']['total']} s)")
    return rows


def rows_to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**{k: ("nan" if r.get(k) is None else r.get(k)) for k in CSV_COLUMNS},
                    "seconds": r["seconds"]["total"], "warnings": " | ".join(r.get("warnings", []))})
    return buf.getvalue()


def run_reference(n: int | None = None, *, seed: int = 0, out: str | Path | None = None, tasks=None, methods=None,
                  embedder=None, classifier: str = "logreg", mauve_seeds: int = 3, force: bool = False,
                  log=print) -> tuple[Path, list[dict]]:
    """:func:`score_reference`, written to ``PREFIX.csv`` / ``.json`` (default ``runs/reference/falcon-7b``,
    ``falcon-7b-n<N>`` with ``n``); returns the prefix and the rows. Finished rows are cached beside it."""
    from . import paths

    if n is not None and n < 1:
        raise ValueError(f"n={n!r}: must be >= 1")
    stem = "falcon-7b" + (f"-n{n}" if n else "") + (f"-seed{seed}" if seed else "")
    prefix = Path(out) if out else paths.runs_dir() / "reference" / stem
    rows = score_reference(tasks, methods, n=n, seed=seed, embedder=embedder, classifier=classifier,
                           mauve_seeds=mauve_seeds, rows_dir=prefix.parent / f"{prefix.name}.rows", force=force,
                           log=log)
    if not rows:
        raise ValueError("no (task, method) matched --tasks/--methods")
    meta = {"model": "falcon-7b", "n": n, "seed": seed, "embedder": rows[0]["embedder"],
            "classifier": classifier, "mauve_seeds": mauve_seeds, "metrics_version": METRICS_VERSION}
    write_atomic(prefix.with_suffix(".csv"), rows_to_csv(rows))
    write_atomic(prefix.with_suffix(".json"), json.dumps({"meta": meta, "rows": rows}, indent=1, allow_nan=False))
    return prefix, rows


def cli_reference(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m steer_lib evaluate-reference",
                                description="Score the STEER authors' released Falcon-7B outputs "
                                            "against each task's real set.")
    p.add_argument("--n", type=int, help="examples per side (default: all; a small N for CI)")
    p.add_argument("--out", help="output prefix; writes PREFIX.csv and PREFIX.json "
                                 "(default runs/reference/falcon-7b, or falcon-7b-n<N> with --n)")
    p.add_argument("--tasks", nargs="*", help="reference tasks (default all: hypotheses comments commonsense)")
    p.add_argument("--methods", nargs="*", help="the authors' method names (default all released)")
    p.add_argument("--force", action="store_true", help="recompute rows even if cached")
    _common(p)
    a = p.parse_args(argv)
    from .data import DataError
    from .runtime import configure_threads

    if a.n is not None and a.n < 1:
        print(f"error: --n {a.n}: must be >= 1", file=sys.stderr)
        return 2
    configure_threads()
    _quiet()
    try:
        prefix, rows = run_reference(a.n, seed=a.seed, out=a.out, tasks=a.tasks, methods=a.methods,
                                     embedder=a.embedder, classifier=a.classifier, mauve_seeds=a.mauve_seeds,
                                     force=a.force, log=lambda s: print(s, file=sys.stderr))
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(rows_to_csv(rows), end="")
    print(f"wrote {prefix.with_suffix('.csv')} and {prefix.with_suffix('.json')}", file=sys.stderr)
    return 0
