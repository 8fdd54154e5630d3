"""The STEER authors' released outputs scored with the kit's metrics, one cached row per (task, method) file."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Callable

from ..files import jsonable, write_atomic
from ..metrics.io import DIVERSITY_KEYS, METRICS_VERSION, _fmt
from ..runtime import no_log

# ------------------------------------------------------------------ evaluate-reference
CSV_COLUMNS = ("task", "kit_task", "method", "kit_method", "n", "n_synthetic_in", "n_real_in", "n_dropped",
               "validity", "validity_real", "ngram3", "ngram3_real", "diversity", "diversity_real", "cosine",
               "cosine_centroid", "mauve", "mauve_sd", "mauve_buckets", "adv_auroc", "adv_auroc_sd",
               "alpha_precision", "beta_recall", "mean_length", "mean_length_real", "duplicate_rate",
               "duplicate_rate_real", *(k for k in DIVERSITY_KEYS if not k.startswith("mean_length")), "seconds",
               "warnings")


def score_reference(tasks=None, methods=None, *, n=None, seed=0, embedder=None, classifier="logreg",
                    mauve_seeds=3, rows_dir: Path | None = None, force=False, log: Callable[[str], None] = no_log) -> list[dict]:
    """Score every released (task, method) file against its task's real set; one dict per row.

    Finished rows are kept as JSON in ``rows_dir`` keyed by the file's hash and every setting,
    so an interrupted or repeated run only scores what is missing.
    """
    from .. import data
    from ..metrics.embeddings import as_embedder
    from ..metrics.evaluation import evaluate
    from . import outputs as reference

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
                f"cos={_fmt(res['cosine'])} ngram3={_fmt(res['ngram3'])} vendi={_fmt(res['vendi'])} "
                f"({res['seconds']['total']} s)")
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
                  log: Callable[[str], None] = no_log) -> tuple[Path, list[dict]]:
    """:func:`score_reference`, written to ``PREFIX.csv`` / ``.json`` (default ``runs/reference/falcon-7b``,
    ``falcon-7b-n<N>`` with ``n``); returns the prefix and the rows. Finished rows are cached beside it."""
    from .. import paths

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
