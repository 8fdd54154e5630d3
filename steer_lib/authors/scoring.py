"""The STEER authors' released outputs scored with the kit's metrics, one cached row per part of each file.

A file's parts are :func:`~.outputs.parts`: the whole file, except that each comments file is scored as
its toxic and its non-toxic run (each against its own real pool), and the hypotheses ``steer`` file
also as its final-formula part. Comments rows carry the :mod:`.split_check` numbers of their part.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Callable

from ..files import jsonable, write_atomic, write_json
from ..metrics.input_files import format_value
from ..metrics.keys import DIVERSITY_KEYS, METRICS_VERSION
from ..runtime import no_log

# ------------------------------------------------------------------ evaluate-reference
CSV_COLUMNS = ("task", "kit_task", "method", "kit_method", "label", "part", "lines", "protocol", "n",
               "n_synthetic_in", "n_real_in", "n_dropped", "validity", "validity_real", "ngram3", "ngram3_real",
               "diversity", "diversity_real", "cosine", "cosine_centroid", "mauve", "mauve_sd", "mauve_buckets",
               "adv_auroc", "adv_auroc_sd", "classifier", "alpha_precision", "beta_recall", "mean_length",
               "mean_length_real", "duplicate_rate", "duplicate_rate_real",
               *(k for k in DIVERSITY_KEYS if not k.startswith("mean_length")), "split_agreement", "split_toxic_share",
               "split_classifier_test_accuracy", "source", "seconds", "warnings")
ROWS_VERSION = 2  # bump when a row's fields or the parts change: old cached rows are then never read back


def _row_key(*settings) -> str:
    return hashlib.sha256(json.dumps([METRICS_VERSION, ROWS_VERSION, *settings]).encode()).hexdigest()[:12]


def _slug(part: str) -> str:
    return part.replace(" ", "_") or "all"


def score_reference(tasks=None, methods=None, *, n=None, seed=0, embedder=None, classifier=None, mauve_seeds=None,
                    protocol: str = "kit", rows_dir: Path | None = None, force=False,
                    log: Callable[[str], None] = no_log) -> list[dict]:
    """Score every part of every released (task, method) file against its kit task's real pool; one dict per row.

    Finished rows are kept as JSON in ``rows_dir`` keyed by the file's hash, the part's lines and every
    setting (the protocol included), so an interrupted or repeated run only scores what is missing.
    """
    from .. import data
    from ..metrics.embeddings import as_embedder
    from ..metrics.evaluation import evaluate
    from ..metrics.fidelity import protocol_settings
    from . import outputs as reference

    proto = protocol_settings(protocol, classifier=classifier, mauve_seeds=mauve_seeds)  # fails before any work
    emb = as_embedder(embedder)  # one embedder (and in-memory cache) for every row
    sha = {e.path: e.sha256 for e in data.manifest()}
    checks: dict = {}  # the split check, run once and only if a comments row must be scored
    rows = []
    for task in tasks or reference.reference_tasks():
        t = reference.ref_task(task)
        for method in methods or reference.reference_methods(t):
            if method not in reference.reference_methods(t):
                continue
            rel = reference.file_path(t, method)
            for part in reference.parts(t, method):
                key = _row_key(sha.get(rel), part.lines, part.kit_task, part.source, n, seed, emb.identity,
                               proto.name, proto.classifier, proto.mauve_seeds)
                cached = rows_dir / f"{t}-{method}-{_slug(part.name)}-{key}.json" if rows_dir else None
                if cached and cached.is_file() and not force:
                    rows.append(json.loads(cached.read_text(encoding="utf-8")))
                    log(f"{t:<12} {method:<12} {part.name:<13} (cached) {cached.name}")
                    continue
                syn, dropped = reference.read_lines(rel, part)
                res = evaluate(syn, reference.real_set(part.kit_task), task=part.kit_task, embedder=emb, seed=seed,
                               n=n, mauve_seeds=mauve_seeds, classifier=classifier, protocol=proto.name)
                row = {"task": t, "kit_task": part.kit_task, "method": method,
                       "kit_method": reference.KIT_METHOD.get(method, method),
                       "label": reference.label(method, part.name), "part": part.name, "lines": part.span,
                       "source": part.source, "n_dropped": dropped, **res}
                if t == "comments":
                    if not checks:
                        from .split_check import split_agreement

                        checks.update(split_agreement(emb))
                    got = checks["parts"][method][part.name]
                    row.update(split_agreement=got["agreement"], split_toxic_share=got["toxic_share"],
                               split_classifier_test_accuracy=checks["classifier_test_accuracy"])
                row = jsonable(row)
                if cached:
                    write_json(cached, row)
                rows.append(row)
                log(f"{t:<12} {method:<12} {part.name:<13} n={row['n']:<5} mauve={format_value(res['mauve'])} "
                    f"auroc={format_value(res['adv_auroc'])} cos={format_value(res['cosine'])} ngram3={format_value(res['ngram3'])} "
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


def output_stem(n: int | None = None, seed: int = 0, protocol: str = "kit") -> str:
    """The file name of a run: ``falcon-7b[-n<N>][-seed<S>][-authors]`` (the kit protocol is the unmarked one).

    >>> output_stem(), output_stem(40), output_stem(40, 1, "authors")
    ('falcon-7b', 'falcon-7b-n40', 'falcon-7b-n40-seed1-authors')
    """
    return "falcon-7b" + (f"-n{n}" if n else "") + (f"-seed{seed}" if seed else "") + (
        f"-{protocol}" if protocol != "kit" else "")


def run_reference(n: int | None = None, *, seed: int = 0, out: str | Path | None = None, tasks=None, methods=None,
                  embedder=None, classifier: str | None = None, mauve_seeds: int | None = None,
                  protocol: str = "kit", force: bool = False,
                  log: Callable[[str], None] = no_log) -> tuple[Path, list[dict]]:
    """:func:`score_reference`, written to ``PREFIX.csv`` / ``.json`` (default ``runs/reference/`` +
    :func:`output_stem`); returns the prefix and the rows. Finished rows are cached beside it."""
    from .. import paths
    from ..metrics.fidelity import protocol_settings

    if n is not None and n < 1:
        raise ValueError(f"n={n!r}: must be >= 1")
    proto = protocol_settings(protocol, classifier=classifier, mauve_seeds=mauve_seeds)
    prefix = Path(out) if out else paths.runs_dir() / "reference" / output_stem(n, seed, proto.name)
    rows = score_reference(tasks, methods, n=n, seed=seed, embedder=embedder, classifier=classifier,
                           mauve_seeds=mauve_seeds, protocol=proto.name,
                           rows_dir=prefix.parent / f"{prefix.name}.rows", force=force, log=log)
    if not rows:
        raise ValueError("no (task, method) matched --tasks/--methods")
    meta = {"model": "falcon-7b", "n": n, "seed": seed, "embedder": rows[0]["embedder"], "protocol": proto.name,
            "classifier": proto.classifier, "mauve_seeds": proto.mauve_seeds, "metrics_version": METRICS_VERSION,
            "rows_version": ROWS_VERSION}
    checked = [r for r in rows if r.get("split_agreement") is not None]
    if checked:  # the comments split check, also in one place: how far the line-range labels hold
        from .split_check import N_TRAIN

        meta["split_check"] = {"classifier_test_accuracy": checked[0]["split_classifier_test_accuracy"],
                               "n_train_per_class": N_TRAIN,
                               "agreement": {f"{r['method']} {r['part']} ({r['lines']})": r["split_agreement"]
                                             for r in checked}}
    write_atomic(prefix.with_suffix(".csv"), rows_to_csv(rows))
    write_json(prefix.with_suffix(".json"), {"meta": meta, "rows": rows})
    return prefix, rows
