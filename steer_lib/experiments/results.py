"""Recorded results, read back for the tables and figures (notebooks 05 and 07 never generate here).

- :func:`load_metrics`: every metrics JSON of a task at a profile (``experiment.evaluate_method``'s cache),
  one row per (method, settings, seed), labelled for tables (``steer γ=0.3 η=0.3``).
- :func:`load_reference` / :func:`reference_note`: the authors' released Falcon-7B outputs scored by the kit
  (``evaluate-reference``), one row per file part, and the note that says what each row is.
- :func:`score_authors_grid`: the authors' γ×η grid (hypotheses, 6×6) scored by the kit, cached as
  ``runs/reference/grid.csv`` -- the only function here that computes anything, and only once.
- :func:`load_downstream`: the downstream tables, when that stage has written them.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

import pandas as pd

from .. import paths
from ..config import check_profile
from ..data.tasks import get_task
from ..metrics.keys import DIVERSITY_KEYS
from ..runtime import no_log

TAG_RE = re.compile(r"_n(?P<n>\d+)_t(?P<t>\d+)_s(?P<s>\d+)$")
METRIC_KEYS = ("n", "ngram3", "ngram3_real", "diversity", "diversity_real", "cosine", "cosine_centroid", "mauve",
               "mauve_sd", "adv_auroc", "adv_auroc_sd", "alpha_precision", "beta_recall", "validity", *DIVERSITY_KEYS)
GRID_SEEDS = (0, 1, 2)  # scoring seeds for the authors' grid: its spread is the metrics' own (real draw, k-means, CV)


def label(method: str, gamma: float | None = None, eta: float | None = None) -> str:
    """The row name of a method at its settings.

    >>> label("steer", 0.3, 0.6), label("negative_only", None, 0.3), label("top_k")
    ('steer γ=0.3 η=0.6', 'negative_only η=0.3', 'top_k')
    """
    parts = [method] + ([f"γ={gamma:g}"] if gamma is not None and method == "steer" else [])
    parts += [f"η={eta:g}"] if eta is not None and method in ("steer", "negative_only") else []
    return " ".join(parts)


def load_metrics(task: str, profile: str, *, n: int | None = None, max_new_tokens: int | None = None,
                 base_model: str = "") -> pd.DataFrame:
    """Every recorded metrics JSON of ``task`` at ``profile``, at the profile's sample count and length
    (or ``n`` / ``max_new_tokens``); columns: method, gamma, eta, seed, label, the metrics, ``*_ci`` lists."""
    from .experiment import ExperimentConfig

    cfg = ExperimentConfig.for_profile(check_profile(profile))
    n, t = n or cfg.n_samples, cfg.max_new_tokens if max_new_tokens is None else max_new_tokens
    folder = paths.profile_runs_dir(profile, base_model) / "metrics" / get_task(task).name
    rows = []
    for f in sorted(folder.glob("*.json")):
        m = TAG_RE.search(f.stem)
        if not m or int(m["n"]) != n or int(m["t"]) != t:
            continue
        r = json.loads(f.read_text(encoding="utf-8"))
        g, e = r.get("gamma"), r.get("eta")
        rows.append({"method": r["method"], "gamma": g, "eta": e, "seed": r.get("seed", int(m["s"])),
                     "label": label(r["method"], g, e), "tag": f.stem,
                     **{k: r.get(k) for k in METRIC_KEYS}, **{k: v for k, v in r.items() if k.endswith("_ci")}})
    df = pd.DataFrame(rows, columns=None if rows else ["method", "gamma", "eta", "seed", "label", "tag", *METRIC_KEYS])
    return df.astype({k: float for k in METRIC_KEYS}) if rows else df


def _current(csv_path: Path) -> bool:
    """Whether an ``evaluate-reference`` CSV has today's rows (one per part, with a ``label``), not an older layout."""
    with open(csv_path, encoding="utf-8") as f:
        return {"label", "part", "lines"} <= set(f.readline().strip().split(","))


def reference_csv(min_n: int = 1) -> Path | None:
    """The ``evaluate-reference`` CSV to show (kit protocol): the full run (``falcon-7b.csv``) if there is one, else
    the largest ``--n`` run, if it has at least ``min_n`` texts per side (``min_n=0``: only the full run will do).
    A CSV written by an older kit (one row per file, no ``label`` column) is ignored, so it is rescored."""
    folder = paths.runs_dir() / "reference"
    full = folder / "falcon-7b.csv"
    if full.is_file() and _current(full):
        return full
    sized = {int(m[1]): p for p in folder.glob("falcon-7b-n*.csv")
             if (m := re.fullmatch(r"falcon-7b-n(\d+)", p.stem)) and _current(p)}
    best = max(sized, default=None)
    return sized[best] if best is not None and min_n and best >= min_n else None


def ensure_reference(n: int = 0, log: Callable[[str], None] = no_log) -> Path:
    """The authors' outputs scored by the kit at ``n`` texts per side (0 = all), computing what is missing.

    A larger or full run already on disk is used as it is; otherwise ``evaluate-reference`` runs here (its finished
    rows are cached, so an interrupted run resumes). Notebook 07 calls this: a missing input is computed, not asked for.
    """
    if n < 0:
        raise ValueError(f"n={n!r} must be >= 0 (0 = every text)")
    src = reference_csv(min_n=n)
    if src is None:
        import warnings

        from ..authors.scoring import run_reference
        from ..metrics.text import MetricWarning

        with warnings.catch_warnings():  # each row keeps its own warnings (the CSV's last column)
            warnings.simplefilter("ignore", MetricWarning)
            prefix, _ = run_reference(n or None, log=log)
        src = prefix.with_suffix(".csv")
    return src


def load_reference(task: str, src: Path | None = None) -> pd.DataFrame:
    """The authors' outputs scored against ``task``'s real pool (one row per file part, ``label`` the row name:
    ``top-k (their 'contrastive')``, ``steer (final formula)``, …), from ``src`` (default :func:`reference_csv`);
    empty when there is none or they released nothing for the task. ``comments-toxic`` holds the toxic runs
    of the comments files, ``comments-nontoxic`` the non-toxic ones."""
    from ..authors.outputs import ref_task

    src = src or reference_csv()
    try:
        ref_task(task)
    except ValueError:
        return pd.DataFrame()
    if src is None:
        return pd.DataFrame()
    df = pd.read_csv(src, keep_default_na=False, na_values=["nan"])
    df = df[df["kit_task"] == get_task(task).name].copy()
    df["seed"] = 0
    df.attrs["source"] = str(src)
    return df


def reference_note(df: pd.DataFrame) -> str:
    """The table note for :func:`load_reference`'s rows, in Markdown: which lines of which file each row is, the
    split check's agreement for comments parts, each distinct provenance once, and the protocol."""
    if df.empty:
        return ""
    lines = []
    for _, r in df.iterrows():
        run = f" ({r['part']} run)" if r["part"] in ("toxic", "non-toxic") else (f" ({r['part']})" if r["part"] else "")
        text = f"- **{r['label']}**: lines {r['lines']} of their `{r['method']}` file{run}"
        if "split_agreement" in r and not pd.isna(r["split_agreement"]):
            text += (f"; the kit's toxicity classifier agrees with the line-range label on "
                     f"{r['split_agreement']:.0%} of these lines (calls {r['split_toxic_share']:.0%} toxic)")
        lines.append(text + ".")
    if (df["method"] == "contrastive").any():
        lines.append("- Their `contrastive` files are top-k sampling, not contrastive search: every call passed "
                     "do_sample=True, so transformers 4.30 ignored penalty_alpha.")
    sources: dict[str, list[str]] = {}  # provenance -> the rows it explains, each stated once
    for src, lab in zip(df.get("source", [""] * len(df)), df["label"]):
        if isinstance(src, str) and src:
            sources.setdefault(src, []).append(lab)
    lines += [f"- Provenance of {', '.join(labs)}: {src}." for src, labs in sources.items()]
    if "split_classifier_test_accuracy" in df and df["split_classifier_test_accuracy"].notna().any():
        acc = float(df["split_classifier_test_accuracy"].dropna().iloc[0])
        lines.append(f"- The split check's classifier (logistic regression on the kit's sentence embeddings, fitted "
                     f"on real Jigsaw training comments) scores {acc:.0%} on the held-out Jigsaw test comments; "
                     "generated comments under a toxic prompt are often not toxic, so read the gap between a "
                     "file's two parts.")
    proto = df["protocol"].iloc[0] if "protocol" in df else "kit"
    lines.append(f"- Scored with the {proto} protocol; every difference from the authors' code is in "
                 "[docs/fidelity.md](../docs/fidelity.md).")
    return "\n".join(lines) + "\n"


def score_authors_grid(seeds=GRID_SEEDS, *, force: bool = False, log: Callable[[str], None] = no_log) -> pd.DataFrame:
    """The authors' hypotheses γ×η grid scored by the kit against the real questions, one row per (γ, η, seed).

    Cached in ``runs/reference/grid.csv``, one row per seed, so asking for more seeds scores only the
    new ones (``force`` rescores everything). Each file holds only ~28 samples,
    so MAUVE and AUROC here are noisy and the seed spread is shown beside them.
    """
    from ..authors.outputs import load_grid, real_set
    from ..files import write_atomic
    from ..metrics.embeddings import as_embedder
    from ..metrics.evaluation import evaluate

    out = paths.runs_dir() / "reference" / "grid.csv"
    from ..metrics.keys import METRICS_VERSION

    have = pd.read_csv(out) if out.is_file() and not force else pd.DataFrame(columns=["gamma", "eta", "seed"])
    if len(have) and (have.get("metrics_version") != METRICS_VERSION).any():
        have = have.iloc[0:0]  # scored by an older metric definition: rescore
    todo = [s for s in seeds if s not in set(have["seed"].astype(int))]
    if todo:  # score only the seeds the cache lacks, then keep every seed scored so far
        real, rows, emb = real_set("hypotheses"), [], as_embedder(None)  # one embedder for every scoring
        for (g, e), texts in load_grid().items():
            for s in todo:
                r = evaluate(texts, real, task="hypotheses", embedder=emb, seed=s, mauve_seeds=3)
                rows.append({"gamma": g, "eta": e, "seed": s, **{k: r.get(k) for k in METRIC_KEYS},
                             "metrics_version": METRICS_VERSION})
            log(f"authors' grid γ={g:g} η={e:g}: n={rows[-1]['n']} mauve={rows[-1]['mauve']:.3f} "
                f"auroc={rows[-1]['adv_auroc']:.3f} ngram3={rows[-1]['ngram3']:.3f}")
        have = pd.concat([have, pd.DataFrame(rows)], ignore_index=True) if len(have) else pd.DataFrame(rows)
        write_atomic(out, have.sort_values(["seed", "gamma", "eta"]).to_csv(index=False))
    return have[have["seed"].isin(list(seeds))].reset_index(drop=True)


def load_downstream(profile: str, base_model: str = "") -> dict[str, pd.DataFrame]:
    """``results/<profile>/downstream_*.csv`` by name (empty when the downstream stage has not run)."""
    folder = paths.results_dir(check_profile(profile), base_model)
    return {p.stem: pd.read_csv(p) for p in sorted(folder.glob("downstream_*.csv"))}
